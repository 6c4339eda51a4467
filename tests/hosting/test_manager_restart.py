"""The stage manager killed (SIGKILL) mid-round and started again resumes from the contract's stage:
the chain records every stage transition exactly once, in order, the node trains every stage once, and the
restarted manager closes stages on the node's on-chain rewards rather than on its schedule."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from rlswarm_core.chain.devnet import Devnet, DevnetInfo, dev_key
from tests.hosting.host import ROUNDS, ServeProcess, crash, create_and_deploy, host_env
from tests.node.procs import NodeProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fresh_chain() -> Iterator[DevnetInfo]:
    with Devnet() as info:
        yield info


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_restarted_stage_manager_neither_skips_nor_repeats(tmp_path: Path, fresh_chain: DevnetInfo) -> None:
    from rlswarm_core.chain.reader import CoordinatorReader

    env = host_env(tmp_path / "host", dev_key(3))
    swarm_path = tmp_path / "swarm.yaml"
    # a fixed port: the restarted bootnode is where the contract says it is, with the same peer id. The
    # schedule is long: every stage must close on the node's publication (the first one waits for the
    # node to start, however slow the machine), none on the schedule
    deployed = create_and_deploy(
        env, swarm_path, fresh_chain.rpc_url, min_peers=1, port=_free_port(), max_stage_s=300
    )
    reader = CoordinatorReader(fresh_chain.rpc_url, deployed["contract"], fresh_chain.chain_id)
    serve = ServeProcess(env, swarm_path)
    restarted: ServeProcess | None = None
    node: NodeProcess | None = None
    try:
        serve.wait_for("BootnodesPublished", timeout=120)
        node = NodeProcess(
            "node",
            tmp_path / "node",
            ["--swarm", str(swarm_path), "--profile", "local-tiny", "--host", "127.0.0.1", "--port", "0",
             "--max-rounds", str(ROUNDS), "--stage-timeout", "120"],
            env={"RLSWARM_WALLET_PRIVATE_KEY": dev_key(5)},
        )  # fmt: skip
        serve.wait_for("StageManagerAdvanced", timeout=300)
        # a crash: the server and every process it started die at once, mid-round
        crash(serve.proc)
        restarted = ServeProcess(env, swarm_path)
        assert node.wait(timeout=420) == 0, node.describe()
        assert restarted.proc.wait(timeout=120) == 0, "".join(restarted.stderr)[-2000:]
    finally:
        procs = node.tree() if node is not None else []
        if node is not None:
            node.stop(timeout=30)
        for server in (serve, restarted):
            if server is not None:
                server.stop()
        _, alive = psutil.wait_procs(procs, timeout=15)
        assert not alive, f"processes left behind: {alive}"

    events = reader.contract.events
    stage_logs = events.StageAdvanced().get_logs(from_block=0)
    round_logs = events.RoundAdvanced().get_logs(from_block=0)
    moves = sorted(
        [
            (int(e["blockNumber"]), (int(e["args"]["roundNumber"]), int(e["args"]["newStage"])))
            for e in stage_logs
        ]
        + [(int(e["blockNumber"]), (int(e["args"]["newRoundNumber"]), 0)) for e in round_logs]
    )
    assert [to for _, to in moves] == [(0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0)]
    # the restarted manager's bootnode starts with no connections: it still sees the node's rewards (on
    # the chain) and closes each stage as soon as the node has published, not when the schedule runs out
    advanced = restarted.of("StageManagerAdvanced")
    assert advanced, "the restarted stage manager advanced no stage"
    assert [e["reason"] for e in advanced] == ["all"] * len(advanced), advanced
    stages = [(e["round"], e["stage"]) for e in node.of("StageFinished")]
    assert stages == [(r, s) for r in range(ROUNDS) for s in range(3)]
