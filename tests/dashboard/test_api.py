"""The dashboard's JSON API on its own: instances, rewards, leaderboard (DHT and chain), the event stream,
and what it refuses (other hosts, other methods, missing tokens). Real journals, a real server, real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from rlswarm_core.alerts import state as alert_state
from rlswarm_core.chain.devnet import DevnetInfo
from rlswarm_core.dashboard.collector import DashboardOptions
from rlswarm_core.dashboard.leaderboard import ChainTarget
from rlswarm_core.dashboard.server import DashboardServer
from rlswarm_core.errors import ConfigError
from rlswarm_core.instances import registry
from rlswarm_core.node.events import StageFinished
from rlswarm_core.node.journal import EventJournal
from rlswarm_core.system.paths import app_paths
from tests.helpers import REPO, run_rlswarm
from tests.rewards.journals import write_journal


@contextmanager
def serving(**options: Any) -> Iterator[str]:
    server = DashboardServer(DashboardOptions(port=0, interval_s=0.2, **options))
    url = server.start()
    try:
        yield url
    finally:
        server.close()


def two_instances() -> dict[str, str]:
    peers = {}
    for index, name in enumerate(("node-1", "node-2")):
        record = registry.create(
            name, profile="local-tiny", port=41000 + index, threads=1, memory_budget_gb=1
        )
        peers[name] = record.peer_id
    for index, name in enumerate(("node-1", "node-2")):
        # node-2 joined later: two rounds fewer, and a different reward per stage
        rewards = {(r, s): 1.0 + index for r in range(4) for s in range(3)}
        other = peers["node-2" if name == "node-1" else "node-1"]
        write_journal(name, 4 - 2 * index, rewards=rewards, others=(other, "QmOther"))
    return peers


def test_instances_rewards_and_leaderboard() -> None:
    two_instances()
    with alert_state.locked() as data:
        alert_state.transition(data, "node-1/not_earning", True, "nothing since round 1", 5.0)
    with serving() as url:
        index = httpx.get(url + "api").json()
        assert set(index["endpoints"]) == {
            "/api/instances",
            "/api/rewards",
            "/api/leaderboard",
            "/api/events",
        }

        instances = httpx.get(url + "api/instances")
        assert instances.status_code == 200 and instances.headers["Cache-Control"] == "no-store"
        rows = {r["name"]: r for r in instances.json()["instances"]}
        alert = {"key": "node-1/not_earning", "since": 5.0, "detail": "nothing since round 1"}
        assert instances.json()["alerts"] == [alert]
        assert set(rows) == {"node-1", "node-2"}
        one = rows["node-1"]
        assert (one["state"], one["running"], one["round"], one["stage"]) == ("stopped", False, 3, 2)
        assert (one["peers"], one["rank"], one["leaderboard_size"], one["stages_done"]) == (3, 1, 3, 12)
        assert one["rewards_total"] == 12.0 and one["last_reward"] == 1.0 and one["restarts"] == 0
        assert (
            one["memory_budget_gb"] == 1
            and one["memory_limit_gb"] == 1.75
            and one["memory_rss_bytes"] is None
        )
        assert one["last_chain"]["status"] == "sent" and one["chain_counts"] == {"sent": 4}
        assert rows["node-2"]["rewards_total"] == 12.0 and rows["node-2"]["stages_done"] == 6
        # node-2 journaled only an older board; the newest one (node-1's) places it second
        assert (rows["node-2"]["rank"], rows["node-2"]["leaderboard_size"]) == (2, 3)

        rewards = httpx.get(url + "api/rewards").json()
        series = {s["name"]: s for s in rewards["instances"]}
        assert len(series["node-1"]["points"]) == 12 and len(series["node-2"]["points"]) == 6
        cumulative = rewards["cumulative"]
        assert cumulative["t"] == sorted(cumulative["t"]) and len(cumulative["t"]) == 12
        assert cumulative["series"]["node-1"][-1] == 12.0 and cumulative["series"]["node-2"][-1] == 12.0
        assert cumulative["series"]["total"][-1] == rewards["total"] == 24.0
        # node-2's six stages share node-1's first six timestamps; afterwards its total stays flat
        assert cumulative["series"]["node-2"][5:] == [12.0] * 7

        limited = httpx.get(url + "api/rewards", params={"limit": 3}).json()
        first = next(s for s in limited["instances"] if s["name"] == "node-1")
        assert len(first["points"]) == 3 and first["offset"] == 9.0
        assert httpx.get(url + "api/rewards", params={"limit": "x"}).status_code == 400

        board = httpx.get(url + "api/leaderboard").json()
        assert board["source"] == "dht" and board["round"] == 3
        assert [e["local"] for e in board["entries"]] == ["node-1", "node-2", None]
        assert board["entries"][0]["reward"] == 1.0 and board["entries"][2]["peer_id"] == "QmOther"


def test_event_stream_sends_each_part_then_only_changes() -> None:
    two_instances()
    with serving() as url, httpx.stream("GET", url + "api/events", timeout=30) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        lines = stream.iter_lines()

        def event() -> tuple[str, Any]:
            name = next(lines)
            while name.startswith(":") or not name:  # keep-alive comments and blank separators
                name = next(lines)
            assert next(lines).startswith("id: ")
            return name.removeprefix("event: "), json.loads(next(lines).removeprefix("data: "))

        first = dict(event() for _ in range(3))
        assert set(first) == {"instances", "rewards", "leaderboard"}
        assert len(first["instances"]["instances"]) == 2 and first["rewards"]["total"] == 24.0
        # a new stage in node-2's journal: the reward history is sent again, with it
        journal = EventJournal(app_paths().instances / "node-2" / "events.jsonl")
        journal(
            StageFinished(round=2, stage=0, reward=5.0, steps=1, seconds=1.0, questions=1, at=1_700_000_100.0)
        )
        journal.close()
        for _ in range(10):
            name, data = event()
            if name == "rewards":
                assert data["total"] == 29.0
                break
            assert name == "instances"  # the instances part changes on its own (it holds timestamps)
        else:
            raise AssertionError("no rewards event after a new stage")


def test_read_only_and_loopback_only() -> None:
    with serving() as url:
        assert httpx.post(url + "api/instances").status_code == 405
        assert httpx.delete(url + "api/instances").status_code == 405
        # a page elsewhere that rebinds its own name to 127.0.0.1 is refused
        rebound = httpx.get(url + "api/instances", headers={"Host": "attacker.example"})
        assert rebound.status_code == 403
        assert httpx.get(url + "api/instances", headers={"Host": "localhost"}).status_code == 200
        page = httpx.get(url)
        assert page.status_code == 200 and "rlswarm dashboard" in page.text
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        assert httpx.get(url + "static/uPlot.iife.min.js").status_code == 200
        assert httpx.get(url + "static/../server.py").status_code in (403, 404)


def test_any_other_host_requires_a_token() -> None:
    with pytest.raises(ConfigError, match="needs a token"):
        DashboardServer(DashboardOptions(host="0.0.0.0", port=0))
    with serving(host="0.0.0.0", token="t0ken-value") as url:
        assert httpx.get(url + "api/instances").status_code == 401
        assert httpx.get(url + "api/instances", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = httpx.get(url + "api/instances", headers={"Authorization": "Bearer t0ken-value"})
        assert ok.status_code == 200
        # the page's link carries the token once; the server answers with a cookie for the rest
        with httpx.Client() as browser:
            first = browser.get(url, params={"token": "t0ken-value"})
            assert first.status_code == 200 and "HttpOnly" in first.headers["set-cookie"]
            assert browser.get(url + "api/rewards").status_code == 200


def test_cli_refuses_bad_input_in_one_line() -> None:
    done = run_rlswarm("dashboard", "--leaderboard", "nowhere")
    assert done.returncode == 2 and "choose dht or chain" in done.stderr
    done = run_rlswarm("dashboard", "--port", "70000")
    assert done.returncode == 2 and "between 0 and 65535" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def wallet(devnet: DevnetInfo) -> Any:
    from eth_account import Account

    from rlswarm_core.chain.reader import CoordinatorReader
    from rlswarm_core.chain.wallet import WalletClient
    from rlswarm_core.secrets.redact import register_secret
    from tests.chain.helpers import fund

    reader = CoordinatorReader(devnet.rpc_url, devnet.contract, devnet.chain_id)
    key = "0x" + Account.create().key.hex().removeprefix("0x")
    register_secret(key)
    client = WalletClient(reader, key)
    fund(reader, client.address)
    return client


def test_chain_leaderboard(devnet: DevnetInfo, wallet: Any) -> None:
    record = registry.create("node-1", profile="local-tiny", port=41000, threads=1, memory_budget_gb=1)
    wallet.register_peer(record.peer_id)
    round_number, stage = wallet.reader.round_and_stage()
    wallet.submit_reward(round_number, stage, 42, record.peer_id)
    wallet.submit_winners(round_number, [record.peer_id], record.peer_id)
    target = ChainTarget(network="devnet", rpc_url=devnet.rpc_url, contract=devnet.contract)
    with serving(leaderboard="chain", chain=target) as url:
        board = httpx.get(url + "api/leaderboard").json()
    assert board["source"] == "chain" and board["warning"] is None
    assert (board["round"], board["stage"]) == (round_number, stage)
    mine = next(e for e in board["entries"] if e["local"] == "node-1")
    assert (mine["peer_id"], mine["wins"], mine["reward"]) == (record.peer_id, 1, 42.0)


def test_chain_leaderboard_outage_is_a_warning() -> None:
    target = ChainTarget(network="devnet", rpc_url="http://127.0.0.1:9", contract="0x" + "11" * 20)
    with serving(leaderboard="chain", chain=target) as url:
        board = httpx.get(url + "api/leaderboard").json()
        assert board["entries"] == [] and "cannot reach the chain RPC endpoint" in board["warning"]
        assert httpx.get(url + "api/instances").status_code == 200


def test_cli_on_another_address_generates_a_token_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlswarm_cli.main", "dashboard", "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("dashboard at http://127.0.0.1:") and "?token=" in line, line
        link = line.split(" at ", 1)[1]
        base, token = link.split("?token=")
        assert len(token) >= 24
        assert httpx.get(base + "api/instances").status_code == 401
        assert (
            httpx.get(base + "api/instances", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )
        assert token not in " ".join(proc.args)  # type: ignore[arg-type]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "dashboard stopped" in err


def test_cli_json_says_where_it_serves() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlswarm_cli.main", "dashboard", "--port", "0", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        text = ""
        for line in proc.stdout:
            text += line
            if line.rstrip() == "}":
                break
        data = json.loads(text)
        assert data["url"].startswith("http://127.0.0.1:") and data["token_required"] is False
        assert httpx.get(data["url"] + "api").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
