"""A `join --swarm` node whose swarm's host goes away (the server SIGKILLed: no stage manager, no
bootnode) says "this swarm looks stopped" once, in its event stream and in `doctor --swarm`, and says so
again when the host comes back and the swarm moves."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from rlswarm_core.chain.devnet import Devnet, DevnetInfo, dev_key
from tests.helpers import REPO
from tests.hosting.host import ServeProcess, crash, create_and_deploy, host_env
from tests.node.procs import NodeProcess

pytestmark = pytest.mark.slow

QUIET_S = "3"


@pytest.fixture(scope="module")
def fresh_chain() -> Iterator[DevnetInfo]:
    with Devnet() as info:
        yield info


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _doctor_swarm(env: dict[str, str], swarm_path: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "rlswarm_cli.main", "--json", "doctor", "--offline",
         "--swarm", str(swarm_path)],
        cwd=REPO, env={**env, "RLSWARM_SWARM_STOPPED_AFTER_S": QUIET_S}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    checks = json.loads(result.stdout)["checks"]
    return next(c for c in checks if c["name"] == "swarm")


def test_node_reports_a_stopped_swarm_and_its_return(tmp_path: Path, fresh_chain: DevnetInfo) -> None:
    env = host_env(tmp_path / "host", dev_key(3))
    swarm_path = tmp_path / "swarm.yaml"
    create_and_deploy(env, swarm_path, fresh_chain.rpc_url, min_peers=1, port=_free_port(), max_stage_s=30)
    serve = ServeProcess(env, swarm_path, max_rounds=50)
    restarted: ServeProcess | None = None
    node: NodeProcess | None = None
    try:
        serve.wait_for("BootnodesPublished", timeout=120)
        assert _doctor_swarm(env, swarm_path)["status"] == "ok"
        node = NodeProcess(
            "node",
            tmp_path / "node",
            ["--swarm", str(swarm_path), "--profile", "local-tiny", "--host", "127.0.0.1", "--port", "0",
             "--stage-timeout", "600"],
            env={"RLSWARM_WALLET_PRIVATE_KEY": dev_key(5), "RLSWARM_SWARM_STOPPED_AFTER_S": QUIET_S},
        )  # fmt: skip
        node.wait_for(lambda e: e["kind"] == "StageFinished", timeout=300)
        assert not node.of("SwarmLooksStopped"), "reported stopped while the swarm was served"
        # the host's machine dies: its stage manager and bootnode with it
        crash(serve.proc)
        stopped = node.wait_for(lambda e: e["kind"] == "SwarmLooksStopped", timeout=120)
        assert stopped["swarm"] == "e2e" and stopped["quiet_s"] == float(QUIET_S)
        assert node.proc.poll() is None, "the node must keep waiting for its host"
        check = _doctor_swarm(env, swarm_path)
        assert check["status"] == "warning" and "looks stopped" in check["summary"], check
        restarted = ServeProcess(env, swarm_path, max_rounds=50)
        node.wait_for(lambda e: e["kind"] == "SwarmResumed", timeout=120)
        assert len(node.of("SwarmLooksStopped")) == 1
    finally:
        procs = node.tree() if node is not None else []
        if node is not None:
            node.stop(timeout=30)
        for server in (serve, restarted):
            if server is not None:
                server.stop()
        _, alive = psutil.wait_procs(procs, timeout=15)
        assert not alive, f"processes left behind: {alive}"
