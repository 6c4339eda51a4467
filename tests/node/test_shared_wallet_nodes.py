"""Two instances on one wallet: ``instances add`` and ``doctor`` say so before anything runs; two real
``rlswarm join`` nodes signing with one key on a real anvil chain warn at start, and every stage the
node whose reward the account already used records a failed submission with its reason, visible in
its events, in ``rlswarm rewards`` and in its metrics."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from rlswarm_core.chain.devnet import STAGE_MANAGER_INDEX, Devnet, DevnetInfo, dev_key
from rlswarm_core.chain.wallet import load_account
from rlswarm_core.identity.keys import create_identity
from rlswarm_core.settings.resolve import update_user_config
from tests.helpers import REPO, Cli
from tests.instances.ports import free_port_block
from tests.node.procs import NodeProcess, loopback_maddr

ROUNDS = 2
SHARED_KEY = dev_key(STAGE_MANAGER_INDEX)


def test_instances_add_and_doctor_name_instances_on_one_wallet(rlswarm_home: Path, cli: Cli) -> None:
    update_user_config(network="devnet", wallet_address=load_account(SHARED_KEY).address)
    done = cli(
        "instances", "add", "--count", "2", "--profile", "local-tiny", "--port", str(free_port_block(2))
    )
    assert done.exit_code == 0, done.stderr
    warning = [line for line in done.stderr.splitlines() if "node-1, node-2" in line]
    assert len(warning) == 1 and "one reward per account and stage" in warning[0]
    assert "own wallet" in warning[0]

    doctor = subprocess.run(
        [sys.executable, "-m", "rlswarm_cli.main", "doctor", "--offline", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RLSWARM_HOME": str(rlswarm_home)},
    )
    check = next(c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "shared-wallet")
    assert check["status"] == "warning" and "node-1, node-2" in check["summary"]
    assert check["details"]["local"] == [["node-1", "node-2"]]


@pytest.fixture
def fresh_chain() -> Iterator[DevnetInfo]:
    with Devnet() as info:
        yield info


def _metric(url: str, name: str, labels: str) -> float:
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    match = re.search(rf"^{name}_total\{{[^}}]*{labels}[^}}]*\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _first_failure(nodes: list[NodeProcess], timeout: float) -> tuple[NodeProcess, dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node in nodes:
            failed = [e for e in node.of("ChainSubmitted") if e["status"] == "failed"]
            if failed:
                return node, failed[0]
            assert node.proc.poll() is None, node.describe()
        time.sleep(0.2)
    raise AssertionError(f"no failed submission within {timeout:.0f} s: {[n.describe() for n in nodes]}")


@pytest.mark.slow
def test_two_nodes_on_one_wallet_fail_visibly(tmp_path: Path, fresh_chain: DevnetInfo) -> None:
    homes = {name: tmp_path / name for name in ("coord", "twin")}
    for home in homes.values():
        create_identity(home / "data" / "identities" / "default.pem")
    chain = ["--network", "devnet", "--rpc-url", fresh_chain.rpc_url, "--contract", fresh_chain.contract]
    common = ["--profile", "local-tiny", "--host", "127.0.0.1", "--port", "0", "--max-rounds", str(ROUNDS)]
    env = {"RLSWARM_WALLET_PRIVATE_KEY": SHARED_KEY, "RLSWARM_METRICS_PORT": "0"}
    nodes: list[NodeProcess] = []
    try:
        coord = NodeProcess(
            "coord",
            homes["coord"],
            [*common, *chain, "--role", "coordinator", "--stage-timeout", "120", "--min-peers", "2"],
            env,
        )
        nodes.append(coord)
        started = coord.wait_for(lambda e: e["kind"] == "NodeStarted", timeout=120)
        twin = NodeProcess(
            "twin", homes["twin"], [*common, *chain, "--initial-peer", loopback_maddr(started)], env
        )
        nodes.append(twin)
        # metrics are read while the nodes run, as soon as one node recorded a refused reward
        loser, refused = _first_failure(nodes, timeout=240)
        assert refused["reason"] == "account_already_submitted"
        url = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", "".join(loser.stderr))
        assert url, loser.describe()
        failures = _metric(
            url.group(1), "rlswarm_chain_submission_failures", 'reason="account_already_submitted"'
        )
        assert failures >= 1
        for node in nodes:
            assert node.wait(timeout=300) == 0, node.describe()
    finally:
        procs = [p for node in nodes for p in node.tree()]
        for node in nodes:
            node.stop(timeout=30)
        _, alive = psutil.wait_procs(procs, timeout=15)
        assert not alive, f"processes left behind: {alive}"

    # the node that registered second saw the account's other peer id on chain, and said so
    assert any(
        "holds 2 peer ids on chain" in "".join(n.stderr) and "own wallet" in "".join(n.stderr) for n in nodes
    )
    by_name = {node.name: node for node in nodes}
    outcomes: Counter[tuple[int, int, str]] = Counter()
    for node in nodes:
        for event in node.of("ChainSubmitted"):
            if event["what"] == "reward":
                outcomes[(event["round"], event["stage"], event["status"])] += 1
                if event["status"] == "failed":
                    assert event["reason"] == "account_already_submitted", event
                    assert "own wallet" in event["message"]
    for r in range(ROUNDS):
        for stage in range(3):
            # one reward per stage for the account, and the other node's refusal recorded as a failure
            assert outcomes[(r, stage, "sent")] == 1, outcomes
            assert outcomes[(r, stage, "failed")] == 1, outcomes

    for name, home in homes.items():
        shown = subprocess.run(
            [sys.executable, "-m", "rlswarm_cli.main", "rewards", "--json"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "RLSWARM_HOME": str(home)},
        )
        data = json.loads(shown.stdout)
        (node,) = data["nodes"]
        failed = sum(1 for e in by_name[name].of("ChainSubmitted") if e["status"] == "failed")
        assert node["submissions"].get("failed", 0) == failed
        assert node["failures"] == ({"account_already_submitted": failed} if failed else {})
        warned = [w for w in data["warnings"] if "already submitted" in w and "own wallet" in w]
        assert len(warned) == (1 if failed else 0), data["warnings"]
