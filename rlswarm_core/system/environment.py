"""Environments for child processes, without the operator's secrets.

A node reads its tokens and keys from the keyring or from ``RLSWARM_*`` / ``HF_TOKEN`` variables. The
processes it starts (the DHT process, p2pd, anvil, a supervised node's helpers) never need them, and an
environment is readable by anything running as the same user (``/proc/<pid>/environ``), so children
get a copy without them; whatever a child does need is passed to it explicitly.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping

# Variables that hold secrets besides those the secret store reads (its own are added below).
_EXTRA_SECRET_NAMES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN")
# Every proxy login value: the org id and API key are secrets, the URL is not needed by children.
SECRET_PREFIXES = ("RLSWARM_PROXY_",)


def secret_names() -> frozenset[str]:
    """The environment variables that carry secrets: every secret's variables, and Hugging Face's."""
    from rlswarm_core.secrets.store import SECRETS

    names = {var for spec in SECRETS.values() for var in spec.env_vars}
    return frozenset(names | set(_EXTRA_SECRET_NAMES))


def is_secret_variable(name: str) -> bool:
    return name in secret_names() or name.startswith(SECRET_PREFIXES)


def child_environment(
    base: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``base`` (default: this process's environment) without secrets, plus ``extra`` as given."""
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if not is_secret_variable(k)}
    env.update(extra or {})
    return env


def scrub_own_environment() -> list[str]:
    """Remove secrets from this process's environment: for a child made by ``fork`` (which copies the
    parent's environment) before it starts anything. Returns the names removed.

    ``os.environ`` and the C environment lose the variables, so processes started from here on do not
    inherit them. On Linux the original environment block, which ``/proc/<pid>/environ`` shows and
    which a forked child shares with its parent, is also overwritten where it held them.
    """
    found = [name for name in list(os.environ) if is_secret_variable(name)]
    for name in found:
        os.environ.pop(name, None)  # unsetenv: the C environ array drops its pointer too
    if found and sys.platform.startswith("linux"):
        _wipe_initial_environment(found)
    return found


def _wipe_initial_environment(names: list[str]) -> None:
    """Zero the ``NAME=value`` entries of ``names`` in the environment block the kernel set up at exec.

    That block lies between the ``env_start`` and ``env_end`` addresses of ``/proc/self/stat`` (fields
    50 and 51); it is the process's own writable memory, which no longer backs any variable once the
    variables were unset. Failures leave the block as it was.
    """
    try:
        with open("/proc/self/stat", "rb") as handle:
            stat = handle.read()
        # the command name (field 2) may contain spaces: count fields after its closing parenthesis
        fields = stat[stat.rindex(b")") + 2 :].split()
        start, end = int(fields[47]), int(fields[48])
        block = ctypes.string_at(start, end - start)
    except (OSError, ValueError, IndexError):
        return
    prefixes = tuple(name.encode() + b"=" for name in names)
    offset = 0
    for entry in block.split(b"\0"):
        if entry.startswith(prefixes):
            ctypes.memset(start + offset, 0, len(entry))
        offset += len(entry) + 1
