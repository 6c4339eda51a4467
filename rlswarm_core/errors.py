"""The one exception type the CLI turns into a single readable line."""

from __future__ import annotations


class RlswarmError(Exception):
    """An error an operator can act on: what is wrong, and how to fix it.

    ``message`` says what went wrong; ``hint`` (optional) says what to do about it. Neither may
    contain a secret: callers pass only names, paths and public values.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def __str__(self) -> str:
        return self.one_line()


class ConfigError(RlswarmError):
    """A malformed or unknown profile, setting or config file."""


class IdentityError(RlswarmError):
    """A missing, unreadable or invalid identity file."""


class SecretStoreError(RlswarmError):
    """No usable keyring backend, or a failure talking to it."""
