"""``rlswarm join`` in a real terminal: a tmux pane on a private tmux server, its screen, its journal, its
process tree, and Ctrl-C typed into it (``send-keys C-c``: SIGINT to the terminal's whole foreground
process group, as a person's Ctrl-C is)."""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from tests.helpers import REPO

# what must never reach the operator's screen on a stop
NOISE = (
    "Traceback",
    "KeyboardInterrupt",
    "Process DHT",
    "use of closed network connection",
    "did not shut down",
    "Exception ignored",
)


class TerminalJoin:
    def __init__(self, home: Path, args: list[str], env: dict[str, str] | None = None) -> None:
        self.home = home
        self.socket = f"rlswarm-test-{uuid.uuid4().hex[:10]}"
        self.session = "join"
        variables = {"PYTHONPATH": str(REPO), "RLSWARM_HOME": str(home), "NO_COLOR": "1", **(env or {})}
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in variables.items())
        python = shlex.quote(sys.executable)
        command = (
            f"cd {shlex.quote(str(REPO))} && env {assignments} {python} -m rlswarm_cli.main "
            f"join {' '.join(shlex.quote(a) for a in args)}; echo EXIT=$?; sleep 600"
        )
        self._tmux("new-session", "-d", "-s", self.session, "-x", "200", "-y", "50", command)
        self.pane_pid = int(self._tmux("list-panes", "-t", self.session, "-F", "#{pane_pid}").strip())
        self._seen: list[psutil.Process] = []

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True, check=True
        ).stdout

    # -- what the operator sees ------------------------------------------------------------------
    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-S", "-1000", "-t", self.session)

    def wait_screen(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared within {timeout:.0f} s; screen:\n{self.screen()}")

    def press_ctrl_c(self) -> float:
        """Type Ctrl-C; the time it was typed (time.monotonic())."""
        self.remember_tree()
        self._tmux("send-keys", "-t", self.session, "C-c")
        return time.monotonic()

    def wait_exit(self, timeout: float) -> tuple[int, float]:
        """The command's exit status and when it was seen (time.monotonic())."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.screen().splitlines():
                if line.startswith("EXIT="):
                    return int(line.removeprefix("EXIT=")), time.monotonic()
            time.sleep(0.05)
        raise AssertionError(f"join did not exit within {timeout:.0f} s; screen:\n{self.screen()}")

    # -- what the node did ------------------------------------------------------------------------
    def journal(self) -> list[dict[str, Any]]:
        path = self.home / "state" / "instances" / "default" / "events.jsonl"
        try:
            lines = path.read_text().splitlines()
        except FileNotFoundError:
            return []
        events = []
        for line in lines:
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
        return events

    def wait_event(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.journal():
                if predicate(event):
                    return event
            assert "EXIT=" not in self.screen(), f"join exited early; screen:\n{self.screen()}"
            time.sleep(0.05)
        raise AssertionError(f"no such event within {timeout:.0f} s; screen:\n{self.screen()}")

    # -- processes --------------------------------------------------------------------------------
    def tree(self) -> list[psutil.Process]:
        """The join process and everything under it (the DHT process, p2pd, ...)."""
        try:
            shell = psutil.Process(self.pane_pid)
            return [p for p in shell.children(recursive=True) if p.name() != "sleep"]
        except psutil.NoSuchProcess:
            return []

    def remember_tree(self) -> list[psutil.Process]:
        for proc in self.tree():
            if proc.pid not in {p.pid for p in self._seen}:
                self._seen.append(proc)
        return self._seen

    def leftovers(self, timeout: float) -> list[psutil.Process]:
        """Processes of the join's tree (as seen before each Ctrl-C) still alive after ``timeout``."""
        _, alive = psutil.wait_procs(self.remember_tree(), timeout=timeout)
        return [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]

    def close(self) -> None:
        procs = self.remember_tree()
        with contextlib.suppress(subprocess.CalledProcessError):
            self._tmux("kill-server")
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(procs, timeout=10)
