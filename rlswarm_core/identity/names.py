"""Three-word display names derived from a peer id, identical to the reference node's."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _words() -> tuple[tuple[str, ...], tuple[str, ...]]:
    raw = resources.files("rlswarm_core.identity").joinpath("animal_words.json").read_text(encoding="utf-8")
    data = json.loads(raw)
    return tuple(data["adjectives"]), tuple(data["animals"])


def animal_name(peer_id: str, sep: str = " ") -> str:
    """``ADJ[b2] ADJ[b1] ANIMAL[b0]`` over the md5 digest bytes of the peer id string."""
    adjectives, animals = _words()
    digest = hashlib.md5(peer_id.encode("utf-8")).digest()
    words = (
        adjectives[digest[2] % len(adjectives)],
        adjectives[digest[1] % len(adjectives)],
        animals[digest[0] % len(animals)],
    )
    return sep.join(words)


def animal_slug(peer_id: str) -> str:
    """The no-spaces form used in repository names and file names."""
    return animal_name(peer_id, sep="_")
