"""Finding what a sandboxed run might leave behind: live processes of the sandbox, temporary folders."""

from __future__ import annotations

import tempfile
from pathlib import Path

import psutil

from rlswarm_core.sandbox.fallback import TEMP_PREFIX

# the harness runs as `python -c <its source>`, so its first line is in every sandbox process's argv
HARNESS_MARK = "The program that runs inside the sandbox"


def live_sandbox_processes() -> list[psutil.Process]:
    """Processes of any sandbox that are still alive (zombies waiting for init to reap them are not)."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmdline = " ".join(proc.info["cmdline"] or [])
            if proc.info["name"] == "bwrap" or HARNESS_MARK in cmdline:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def sandbox_temp_folders() -> list[Path]:
    return sorted(Path(tempfile.gettempdir()).glob(TEMP_PREFIX + "*"))
