"""Running a swarm's host side (`rlswarm swarm ...`) as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.helpers import REPO

ROUNDS = 2


def host_env(home: Path, key: str) -> dict[str, str]:
    return {**os.environ, "RLSWARM_HOME": str(home), "RLSWARM_WALLET_PRIVATE_KEY": key}


def rlswarm(env: dict[str, str], *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "rlswarm_cli.main", "--json", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def create_and_deploy(
    env: dict[str, str], path: Path, rpc_url: str, min_peers: int, port: int = 0, max_stage_s: float = 300
) -> dict[str, Any]:
    rlswarm(
        env, "swarm", "create", str(path), "--name", "e2e", "--model", "builtin:tiny-qwen2",
        "--set", "steps_per_stage=1", "--set", "questions_per_round=2",
        "--rpc-url", rpc_url, "--chain-id", "31337", "--host", "127.0.0.1", "--port", str(port),
        "--min-peers", str(min_peers), "--grace", "60", "--max-stage-seconds", str(max_stage_s),
    )  # fmt: skip
    return rlswarm(env, "swarm", "deploy", str(path))


def crash(proc: subprocess.Popen[str]) -> None:
    """The host's machine dies: SIGKILL to the server and every process it started, at once. A killed
    p2pd cannot remove its socket file, so this does, as a rebooted machine's empty /tmp would."""
    import signal

    import psutil

    from tests.leaks import _listen_socket

    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    sockets = [s for s in (_listen_socket(p.cmdline()) for p in tree) if s is not None]
    for child in tree:
        os.kill(child.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    psutil.wait_procs(tree, timeout=10)
    for path in sockets:
        path.unlink(missing_ok=True)


class ServeProcess:
    """`rlswarm --json swarm serve FILE` in its own process group, its JSON lines collected."""

    def __init__(self, env: dict[str, str], path: Path, max_rounds: int = ROUNDS) -> None:
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rlswarm_cli.main", "--json", "swarm", "serve", str(path),
             "--max-rounds", str(max_rounds)],
            cwd=REPO, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr or []), daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout or []:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                continue

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e.get("kind") == kind]

    def wait_for(self, kind: str, timeout: float, count: int = 1) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(kind)
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(
            f"serve: no {kind} within {timeout:.0f} s; stderr: {''.join(self.stderr)[-2000:]}"
        )

    def stop(self, timeout: float = 30) -> None:
        import signal

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def stop_all(nodes: list[Any], serve: ServeProcess) -> None:
    """Stop the nodes and the server, and check that none of their processes is left."""
    import psutil

    procs = [p for node in nodes for p in node.tree()]
    for node in nodes:
        node.stop(timeout=30)
    serve.stop()
    _, alive = psutil.wait_procs(procs, timeout=15)
    assert not alive, f"processes left behind: {alive}"
