"""The chain's values are settings: ``rpc_url``, ``contract`` and ``chain_id`` come from a flag,
``RLSWARM_*``, the instance, config.yaml or the profile like every setting, ``config`` shows and sets
them, and ``join``, ``rewards`` and ``doctor`` all read the same value (checked on a real anvil)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlswarm_core.chain.devnet import STAGE_MANAGER_INDEX, Devnet, DevnetInfo, dev_key
from rlswarm_core.identity.keys import create_identity
from tests.helpers import run_rlswarm


def _rows(done) -> dict[str, dict]:
    assert done.returncode == 0, done.stderr
    return {row["name"]: row for row in json.loads(done.stdout)["settings"]}


def test_rpc_url_and_contract_from_the_environment_and_config(tmp_path: Path) -> None:
    home = {"RLSWARM_HOME": str(tmp_path / "home")}
    url, address = "http://127.0.0.1:18545", "0x" + "ab" * 20
    rows = _rows(
        run_rlswarm(
            "config", "show", "--json", env={**home, "RLSWARM_RPC_URL": url, "RLSWARM_CONTRACT": address}
        )
    )
    assert (rows["rpc_url"]["value"], rows["rpc_url"]["source"]) == (url, "env")
    assert (rows["contract"]["value"], rows["contract"]["source"]) == (address, "env")
    assert rows["chain_id"]["value"] is None

    stored = run_rlswarm("config", "set", "rpc_url", "https://rpc.example/v1", env=home)
    assert stored.returncode == 0, stored.stderr
    rows = _rows(run_rlswarm("config", "show", "--json", env=home))
    assert (rows["rpc_url"]["value"], rows["rpc_url"]["source"]) == ("https://rpc.example/v1", "config")
    # the environment still wins over the config file
    rows = _rows(run_rlswarm("config", "show", "--json", env={**home, "RLSWARM_RPC_URL": url}))
    assert (rows["rpc_url"]["value"], rows["rpc_url"]["source"]) == (url, "env")


def test_a_bad_chain_value_is_one_line(tmp_path: Path) -> None:
    home = {"RLSWARM_HOME": str(tmp_path / "home")}
    refused = run_rlswarm("config", "set", "contract", "0x1234", env=home)
    assert refused.returncode == 1
    assert "contract" in refused.stderr and "40 hex digits" in refused.stderr
    assert "Traceback" not in refused.stderr
    bad_env = run_rlswarm("config", "show", env={**home, "RLSWARM_RPC_URL": "localhost:8545"})
    assert bad_env.returncode == 1 and "env: rpc_url" in bad_env.stderr and "URL" in bad_env.stderr


@pytest.fixture(scope="module")
def own_chain() -> Iterator[DevnetInfo]:
    """A chain of its own: this test's coordinator moves the clock."""
    with Devnet() as info:
        yield info


@pytest.mark.slow
def test_join_rewards_and_doctor_read_the_chain_from_the_environment(
    tmp_path: Path, own_chain: DevnetInfo
) -> None:
    from rlswarm_core.chain.reader import CoordinatorReader

    home = tmp_path / "home"
    peer = create_identity(home / "data" / "identities" / "default.pem").peer_id
    # no devnet state file and no chain flag: only the environment says where the chain is
    env = {
        "RLSWARM_HOME": str(home),
        "RLSWARM_RPC_URL": own_chain.rpc_url,
        "RLSWARM_CONTRACT": own_chain.contract,
    }
    assert not (home / "state" / "devnet.json").exists()
    joined = run_rlswarm(
        "--json", "join", "--network", "devnet", "--profile", "local-tiny",
        "--host", "127.0.0.1", "--port", "0", "--max-rounds", "1",
        env={**env, "RLSWARM_WALLET_PRIVATE_KEY": dev_key(STAGE_MANAGER_INDEX)},
        timeout=300,
    )  # fmt: skip
    assert joined.returncode == 0, joined.stderr[-3000:]
    assert f"on-chain coordinator {own_chain.contract} on devnet (wallet mode)" in joined.stderr
    reader = CoordinatorReader(own_chain.rpc_url, own_chain.contract, own_chain.chain_id)
    assert reader.owner(peer) is not None
    assert all(reader.reward_landed(0, stage, peer) for stage in range(3))

    rewards = run_rlswarm(
        "rewards", "--source", "chain", "--network", "devnet", "--peer", peer, "--json", env=env
    )
    assert rewards.returncode == 0, rewards.stderr
    (found,) = json.loads(rewards.stdout)["nodes"]
    assert found["peer_id"] == peer and found["wins"] == int(reader.total_wins(peer))

    doctor = run_rlswarm("doctor", "--offline", "--json", env=env)
    (rpc,) = [c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "chain-rpc"]
    assert rpc["status"] == "ok" and rpc["details"]["chain_id"] == own_chain.chain_id, rpc
