"""Running real ``rlswarm join`` processes and reading their JSON event streams."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from tests.helpers import REPO


class NodeProcess:
    def __init__(self, name: str, home: Path, args: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.home = home
        self.args = args
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._lock = threading.Lock()
        full_env = {**os.environ, "RLSWARM_HOME": str(home), "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rlswarm_cli.main", "--json", "join", *args],
            cwd=REPO,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, so the whole tree can be stopped
        )
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                self.events.append(event)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e.get("kind") == kind]

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            with self._lock:
                fresh = self.events[seen:]
                seen = len(self.events)
            for event in fresh:
                if predicate(event):
                    return event
            if self.proc.poll() is not None and seen == len(self.events):
                break
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: no matching event within {timeout:.0f} s; {self.describe()}")

    def describe(self) -> str:
        kinds = [e.get("kind") for e in self.events[-8:]]
        return f"exit {self.proc.poll()}, last events {kinds}, stderr: {''.join(self.stderr)[-2000:]}"

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill_hard(self) -> None:
        """SIGKILL to the node's whole process group, as a crash or an OOM kill of the service would."""
        procs = self.tree()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        psutil.wait_procs(procs, timeout=10)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 60) -> int:
        """Ctrl-C, then wait; SIGKILL the group if it does not stop in time."""
        if self.proc.poll() is None:
            procs = self.tree()
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill_hard()
            psutil.wait_procs(procs, timeout=10)
        return self.proc.returncode

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} did not finish in {timeout:.0f} s; {self.describe()}"
            ) from None


def loopback_maddr(started: dict[str, Any]) -> str:
    for maddr in started["maddrs"]:
        if "/127.0.0.1/" in maddr and "/tcp/" in maddr:
            return maddr
    raise AssertionError(f"no loopback TCP multiaddr in {started['maddrs']}")
