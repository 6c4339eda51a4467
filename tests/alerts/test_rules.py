"""Alert rules on real journals, delivered over real HTTP to a loopback webhook: a node that runs but stops
earning, chain submissions that keep failing, a disk below its threshold; each reported once, then
resolved once."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlswarm_core.alerts import state as alert_state
from rlswarm_core.alerts.config import AlertsConfig, Channel, Rules, save_config
from rlswarm_core.alerts.monitor import Monitor
from rlswarm_core.instances import registry
from rlswarm_core.node.events import ChainSubmitted, NodeStarted, StageFinished
from rlswarm_core.node.journal import EventJournal
from rlswarm_core.swarm.events import StageStarted
from tests.alerts.sink import Sink, sink

OFF = {"node_down": False, "restart_loop_count": 0, "stall_rounds": 0, "chain_failures": 0, "memory": False}


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sink]:
    with sink() as server:
        # the webhook URL is the channel's secret; here it comes from the environment, not the keyring
        monkeypatch.setenv("RLSWARM_ALERT_HOOK_SECRET", f"{server.url}/hook/s3cret")
        yield server


def configure(**rules: object) -> None:
    settings = {**OFF, "disk_min_free_percent": 0, **rules}
    save_config(
        AlertsConfig(channels=[Channel(name="hook", kind="webhook", target="x")], rules=Rules(**settings))
    )


def journal_for(name: str) -> EventJournal:
    record = registry.create(name, profile="local-tiny", port=39999, threads=1, memory_budget_gb=1)
    journal = EventJournal(record.journal)
    journal(NodeStarted(peer_id=record.peer_id, animal_name="x", model="m", profile="local-tiny",
                        device="cpu", dtype="float32", role="coordinator", at=1000.0))  # fmt: skip
    return journal


def stage(journal: EventJournal, round_: int, reward: float) -> None:
    at = 1000.0 + round_
    journal(StageStarted(round=round_, stage=0, at=at))
    journal(StageFinished(round=round_, stage=0, reward=reward, steps=1, seconds=1.0, questions=1, at=at))


def bodies(server: Sink) -> list[dict]:
    return [r.json() for r in server.matching("/hook/s3cret")]


def test_running_but_not_earning_is_reported_once_then_resolved(hook: Sink) -> None:
    configure(stall_rounds=3)
    journal = journal_for("node-1")
    for r in range(6):
        stage(journal, r, 1.0 if r < 2 else 0.0)
    monitor = Monitor("node-1")
    try:
        first = monitor.poll()
        assert [(n.rule, n.status) for n in first] == [("not_earning", "firing")]
        assert monitor.poll() == []  # still stalled: nothing new to say
        assert "node-1/not_earning" in alert_state.read()["active"]
        hook.wait_for(lambda s: len(bodies(s)) == 1, 30, "no firing message")

        stage(journal, 6, 0.5)
        assert [(n.rule, n.status) for n in monitor.poll()] == [("not_earning", "resolved")]
        hook.wait_for(lambda s: len(bodies(s)) == 2, 30, "no resolved message")
    finally:
        monitor.deliverer.close()
        journal.close()
    firing, resolved = bodies(hook)
    assert (firing["rule"], firing["status"], firing["instance"]) == ("not_earning", "firing", "node-1")
    assert "running but not earning" in firing["title"] and "since round 1" in firing["detail"]
    assert firing["host"] == socket.gethostname()
    assert (resolved["rule"], resolved["status"]) == ("not_earning", "resolved")
    assert alert_state.read()["active"] == {}
    assert alert_state.read()["deliveries"]["hook"].get("last_ok")


def test_failing_chain_submissions_and_a_full_disk(hook: Sink, tmp_path: Path) -> None:
    configure(chain_failures=3, disk_min_free_percent=99.999)
    journal = journal_for("node-1")
    stage(journal, 0, 1.0)
    for r in range(3):
        journal(
            ChainSubmitted(what="reward", round=r, stage=0, status="failed", message="HTTP 500 from proxy")
        )
    hook.fail_next = 1  # the receiver's first answer is an error: delivery retries
    monitor = Monitor("node-1")
    try:
        assert {(n.rule, n.status) for n in monitor.poll()} == {
            ("chain_failing", "firing"),
            ("disk", "firing"),
        }
        journal(ChainSubmitted(what="reward", round=3, stage=0, status="sent"))
        configure(chain_failures=3, disk_min_free_percent=0.001)
        assert {(n.rule, n.status) for n in monitor.poll()} == {
            ("chain_failing", "resolved"),
            ("disk", "resolved"),
        }
        hook.wait_for(lambda s: len(bodies(s)) == 4, 60, "not all four messages arrived")
    finally:
        monitor.deliverer.close()
        journal.close()
    seen = [(b["rule"], b["status"]) for b in bodies(hook)]
    assert sorted(seen) == sorted(
        [("chain_failing", "firing"), ("disk", "firing"), ("chain_failing", "resolved"), ("disk", "resolved")]
    )
    chain = next(b for b in bodies(hook) if b["rule"] == "chain_failing" and b["status"] == "firing")
    assert "HTTP 500 from proxy" in chain["detail"]
    disk = next(b for b in bodies(hook) if b["rule"] == "disk" and b["status"] == "firing")
    assert disk["title"] == "disk nearly full" and disk["instance"] == ""


def test_a_dead_channel_never_blocks_and_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens here once the probe is closed
    monkeypatch.setenv("RLSWARM_ALERT_HOOK_SECRET", f"http://127.0.0.1:{closed}/hook")
    configure(disk_min_free_percent=99.999)
    journal_for("node-1").close()
    monitor = Monitor("node-1")
    assert [(n.rule, n.status) for n in monitor.poll()] == [("disk", "firing")]
    monitor.deliverer.close(timeout=10)
    delivery = alert_state.read()["deliveries"]["hook"]
    assert delivery["last_error"] == "alert channel 'hook': ConnectError"
    assert str(closed) not in delivery["last_error"]
