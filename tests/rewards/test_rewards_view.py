"""Summaries of real journals: totals, history, wins, votes, rank and the stale warning."""

from __future__ import annotations

import pytest

from rlswarm_core.errors import RlswarmError
from rlswarm_core.rewards import view as rewards_view
from rlswarm_core.rewards.sparkline import sparkline
from tests.rewards.journals import write_journal


def test_a_journal_summary() -> None:
    path, peer = write_journal("n1", 3, win_rounds=(1,), stopped=True)
    summary = rewards_view.read_summary(path, "n1")
    assert summary.peer_id == peer and summary.animal_name == "a b c"
    assert [(s.round, s.stage) for s in summary.stages] == [(r, s) for r in range(3) for s in range(3)]
    assert summary.total == pytest.approx(sum(r + s / 10 for r in range(3) for s in range(3)))
    assert (summary.round, summary.stage) == (2, 2)
    assert summary.wins == 1 and summary.votes == 3
    assert summary.rank == 1 and summary.leaderboard_size == 2  # reward 2.2 beats the other's 0.5
    assert summary.peers == 2 and summary.tokens_per_second == 50.0
    assert summary.submissions == {"sent": 3} and summary.last_active_round == 2
    assert not summary.running  # NodeStopped came last
    data = summary.to_dict()
    assert data["history"] == [s.reward for s in summary.stages]
    assert data["sparkline"][0] == "▁" and data["sparkline"][-1] == "█" and len(data["sparkline"]) == 9


def test_history_keeps_the_latest_stages() -> None:
    path, _ = write_journal("long", 12)
    summary = rewards_view.read_summary(path, "long")
    assert len(summary.history) == rewards_view.HISTORY
    assert summary.history[-1] == pytest.approx(11.2)


def test_garbled_lines_are_skipped() -> None:
    path, _ = write_journal("g", 1)
    with open(path, "a") as handle:
        handle.write('{"kind": "StageFinished", "round": \n')
        handle.write("not json\n")
    assert len(rewards_view.read_summary(path, "g").stages) == 3


def test_stale_warning_for_a_running_node_that_stopped_earning() -> None:
    path, _ = write_journal("idle", 6, earn_until=1)
    summary = rewards_view.read_summary(path, "idle")
    assert summary.running and summary.last_active_round == 5  # winners were still submitted
    summary.submissions.clear()
    summary.last_active_round = 1
    assert rewards_view.stale_warning(summary, 3) == (
        "idle is running but has not earned or submitted since round 1 (4 round(s); now round 5)"
    )
    assert rewards_view.stale_warning(summary, 5) is None
    summary.running = False
    assert rewards_view.stale_warning(summary, 3) is None


def test_local_rewards_selects_instances_and_peers() -> None:
    write_journal("a", 1)
    _, peer_b = write_journal("b", 2)
    assert [r.name for r in rewards_view.local_rewards()] == ["a", "b"]
    assert [r.name for r in rewards_view.local_rewards(instance="b")] == ["b"]
    assert [r.name for r in rewards_view.local_rewards(peer=peer_b)] == ["b"]
    with pytest.raises(RlswarmError, match="no journal for instance 'zz'"):
        rewards_view.local_rewards(instance="zz")
    with pytest.raises(RlswarmError, match="no local instance has peer id QmNope"):
        rewards_view.local_rewards(peer="QmNope")
    snap = rewards_view.snapshot(rewards_view.local_rewards())
    assert snap["total"] == pytest.approx(sum(n["total"] for n in snap["nodes"]))


def test_one_sparkline_for_rewards_and_the_panel() -> None:
    assert sparkline([]) == "" and sparkline([1.0], width=0) == ""
    assert sparkline([1, 1]) == "▅▅"  # flat for equal values
    assert sparkline([0, 1, 2]) == "▁▅█"
    assert sparkline(list(range(30))) == sparkline(list(range(6, 30)))  # the last 24 values
    assert len(sparkline(list(range(30)), width=5)) == 5
