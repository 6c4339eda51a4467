"""The error a push raises: one line saying what went wrong and what to do."""

from __future__ import annotations

from rlswarm_core.errors import RlswarmError


class HubPushError(RlswarmError):
    """A push could not be prepared or was refused; ``transient`` marks failures worth retrying later."""

    def __init__(self, message: str, hint: str | None = None, *, transient: bool = False) -> None:
        super().__init__(message, hint)
        self.transient = transient
