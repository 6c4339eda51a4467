"""Environments for child processes, without the operator's secrets.

A node reads its tokens and keys from the keyring or from ``RLSWARM_*`` / ``HF_TOKEN`` variables. The
processes it starts (the DHT process, p2pd, anvil, a supervised node's helpers) never need them, and an
environment is readable by anything running as the same user (``/proc/<pid>/environ``), so children
get a copy without them; whatever a child does need is passed to it explicitly.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator, Mapping

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


@contextlib.contextmanager
def secrets_withheld() -> Iterator[list[str]]:
    """Take the secret variables out of this process's environment for a block, and put them back after.

    For a process that has read its secrets already and is about to start children it does not control
    (libraries' helper processes, which inherit the environment as it is when they start). Yields the
    names withheld.
    """
    held = {name: value for name, value in os.environ.items() if is_secret_variable(name)}
    for name in held:
        os.environ.pop(name, None)
    try:
        yield sorted(held)
    finally:
        os.environ.update(held)


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
    if sys.platform.startswith("linux"):
        # the block may hold secrets os.environ no longer has (withheld by the parent before the fork)
        found = sorted(set(found) | set(_wipe_initial_environment()))
    return found


def _wipe_initial_environment() -> list[str]:
    """Zero every secret ``NAME=value`` entry of the environment block the kernel set up at exec; the
    names wiped.

    That block lies between the ``env_start`` and ``env_end`` addresses of ``/proc/self/stat`` (fields
    50 and 51); it is the process's own writable memory, which backs no variable once the variables
    were unset (call this after unsetting them). Failures leave the block as it was.
    """
    try:
        with open("/proc/self/stat", "rb") as handle:
            stat = handle.read()
        # the command name (field 2) may contain spaces: count fields after its closing parenthesis
        fields = stat[stat.rindex(b")") + 2 :].split()
        start, end = int(fields[47]), int(fields[48])
        block = ctypes.string_at(start, end - start)
    except (OSError, ValueError, IndexError):
        return []
    wiped = []
    offset = 0
    for entry in block.split(b"\0"):
        raw_name, sep, _ = entry.partition(b"=")
        name = raw_name.decode(errors="replace")
        # never one the C environment still points at (all secrets were unset just before)
        if sep and is_secret_variable(name) and name not in os.environ:
            ctypes.memset(start + offset, 0, len(entry))
            wiped.append(name)
        offset += len(entry) + 1
    return wiped
