"""A peer killed with SIGKILL mid-stage cannot stall the others."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlswarm_core.swarm.coordinator import RoundStage
from rlswarm_core.swarm.events import EventBus
from rlswarm_core.swarm.exchange import Exchange, StageOutput

from .conftest import Swarm, new_identity, wait_no_p2pd

ROOT = Path(__file__).resolve().parents[2]


def start_peer(
    swarm: Swarm, round_: int, outputs: bool, stage: int = 0, silent: bool = False
) -> tuple[subprocess.Popen[str], str, Path]:
    identity = new_identity(swarm.id_dir, "doomed")
    cmd = [
        sys.executable,
        "-m",
        "tests.swarm.peer_process",
        "--identity",
        str(identity.path),
        "--round",
        str(round_),
        "--stage",
        str(stage),
    ]
    for peer in swarm.bootstrap:
        cmd += ["--peer", peer]
    if outputs:
        cmd.append("--outputs")
    if silent:
        cmd.append("--silent")
    # its own session, so the whole peer (python, DHT process, p2pd) can be killed like a crashed host
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True
    )
    ready, _, _ = select.select([proc.stdout], [], [], 90)
    line = proc.stdout.readline() if ready and proc.stdout else ""
    if line.strip() != "READY":
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"the peer process did not start: {line!r}")
    return proc, identity.peer_id, identity.path


def kill(proc: subprocess.Popen[str]) -> None:
    """Everything left in the peer's session (a no-op when it is already gone)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("published_outputs", "frozen"),
    [(False, False), (True, False), (False, True)],
    ids=["killed", "killed-after-publishing", "frozen"],
)
def test_the_stage_finishes_within_the_deadline_after_a_peer_dies(
    swarm: Swarm, published_outputs: bool, frozen: bool
) -> None:
    """SIGKILL of the node's process (its DHT process and p2pd must go down with it, after which
    connections are refused) and SIGSTOP of the whole peer (a hung host: connections open but
    nothing answers)."""
    rs = RoundStage(400 + int(published_outputs) + 2 * int(frozen), 0)
    exs = [Exchange(node, events=EventBus()) for node in swarm.nodes]
    for i, ex in enumerate(exs):
        assert ex.publish_reward(rs, float(i), steps=4)
        assert ex.publish_outputs(rs, [StageOutput("q", f"answer {i}", reward=1.0)])
    proc, doomed, identity_path = start_peer(swarm, rs.round, outputs=published_outputs)
    try:
        assert doomed in exs[1].read_rewards(rs).rewards
        if frozen:
            os.killpg(proc.pid, signal.SIGSTOP)
        else:
            # only the node's main process: its DHT process and p2pd must follow it down by themselves
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            assert not wait_no_p2pd(identity_path, timeout=15.0)
        deadline = 3.0
        honest = {n.peer_id for n in swarm.nodes}
        for ex in exs:
            started = time.monotonic()
            got = ex.gather_outputs(rs, deadline_s=deadline)
            elapsed = time.monotonic() - started
            assert elapsed < deadline + 2.0, elapsed
            assert honest <= set(got.outputs)
            # its outputs may survive on the replicas that stored them; without them it is missing
            assert doomed in got.outputs or got.missing == (doomed,)
            if not published_outputs:
                assert got.missing == (doomed,)
    finally:
        kill(proc)
    assert not wait_no_p2pd(identity_path)
