"""Errors the swarm engine raises; each one reads as a single actionable line."""

from __future__ import annotations

from rlswarm_core.errors import RlswarmError


class SwarmError(RlswarmError):
    """A DHT or swarm protocol failure an operator can act on."""


class BootstrapError(SwarmError):
    """The node could not join the swarm through any of its initial peers."""


class NotCoordinatorError(SwarmError):
    """A follower was asked to advance the round/stage clock."""
