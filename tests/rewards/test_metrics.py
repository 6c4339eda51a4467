"""The Prometheus exporter: node events on a real bus, scraped over HTTP from its own server."""

from __future__ import annotations

import os
import socket

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rlswarm_core.errors import ConfigError
from rlswarm_core.node.events import ChainSubmitted, NodeStarted, RoundFinished, StageFinished, StepDone
from rlswarm_core.node.metrics import serve_metrics
from rlswarm_core.swarm.events import EventBus, LeaderboardChanged, PeerCountChanged, StageStarted

ME = "QmMe"


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "instance"))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_events_become_metrics_on_a_local_port() -> None:
    bus = EventBus()
    server = serve_metrics(bus, 0, instance="node-1")
    try:
        emit = bus.emit
        emit(
            NodeStarted(
                peer_id=ME, animal_name="a", model="m", profile="p", device="cpu", dtype="f", role="c"
            )
        )
        emit(StageStarted(round=3, stage=1))
        emit(StepDone(round=3, stage=1, step=1, steps=2, reward=0.5, tokens_per_second=120.0))
        emit(StepDone(round=3, stage=1, step=2, steps=2, reward=0.7, tokens_per_second=80.0))
        emit(StageFinished(round=3, stage=1, reward=1.25, steps=2, seconds=1.0, questions=4))
        emit(StageFinished(round=3, stage=2, reward=0.75, steps=2, seconds=1.0, questions=4))
        emit(PeerCountChanged(round=3, stage=1, peers=5, previous=4))
        emit(LeaderboardChanged(round=3, stage=1, top=(("QmA", 3.0), (ME, 1.25))))
        emit(RoundFinished(round=3, reward=2.0, winners=(ME, "QmA"), vote=(ME,)))
        emit(RoundFinished(round=4, reward=2.0, winners=("QmA",), vote=("QmA",)))
        emit(ChainSubmitted(what="reward", round=3, stage=1, status="queued"))
        emit(ChainSubmitted(what="reward", round=3, stage=2, status="queued"))
        emit(ChainSubmitted(what="reward", round=3, stage=1, status="sent"))
        emit(ChainSubmitted(what="winners", round=3, stage=2, status="failed"))
        got = scrape(server.port)
    finally:
        server.close()
    assert got[("rlswarm_round", ())] == 3 and got[("rlswarm_stage", ())] == 1
    assert got[("rlswarm_steps_total", ())] == 2
    assert got[("rlswarm_tokens_per_second", ())] == 80.0
    assert got[("rlswarm_stages_finished_total", ())] == 2
    assert got[("rlswarm_reward_total", ())] == pytest.approx(2.0)
    assert got[("rlswarm_stage_reward", ())] == 0.75
    assert got[("rlswarm_rounds_finished_total", ())] == 2 and got[("rlswarm_wins_total", ())] == 1
    assert got[("rlswarm_leaderboard_rank", ())] == 2 and got[("rlswarm_peers", ())] == 5
    assert got[("rlswarm_chain_submissions_total", (("status", "queued"),))] == 2
    assert got[("rlswarm_chain_submissions_total", (("status", "failed"),))] == 1
    assert got[("rlswarm_chain_submissions_queued", ())] == 1  # (3, 2) is still waiting
    rss = psutil.Process(os.getpid()).memory_info().rss
    assert 0.5 * rss < got[("rlswarm_memory_rss_bytes", ())] < 2 * rss
    assert got[("rlswarm_up", ())] == 1


def test_closing_stops_serving_and_unsubscribes() -> None:
    bus = EventBus()
    server = serve_metrics(bus, 0)
    port = server.port
    server.close()
    bus.emit(StageStarted(round=9, stage=0))
    assert server.metrics.registry.get_sample_value("rlswarm_round", {"instance": "default"}) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_busy_port_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            serve_metrics(EventBus(), port)
