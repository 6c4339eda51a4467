"""Errors of the training engine, each one line an operator can act on."""

from __future__ import annotations

from rlswarm_core.errors import RlswarmError


class ModelError(RlswarmError):
    """A model that cannot be found, converted or loaded."""


class TaskDataError(RlswarmError):
    """A task's data cannot be loaded: a missing file, a malformed row, or a dataset not available offline."""
