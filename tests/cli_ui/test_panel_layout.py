"""The live panel at 80 and 160 columns through start-up, training and the end, rendered from a view fed
real event objects: it tells what the node is doing, where to join it, and cuts nothing."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from rlswarm_cli.panel import render_panel
from rlswarm_core.node.events import (
    NodeStarted,
    NodeStopped,
    RoundFinished,
    StageFinished,
    StartupPhase,
    StepDone,
)
from rlswarm_core.node.view import NodeView
from rlswarm_core.swarm.events import LeaderboardChanged, StageStarted

ME = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"
OTHER = "Qmb8wVVVMTRmG4U1tCdaCCqietuWwpGRSbL53PA5azBViP"
ADDRESS = f"/ip4/192.168.1.20/tcp/38331/p2p/{ME}"
ANIMAL = "domestic hairy rhinoceros"


def _render(view: NodeView, width: int) -> str:
    console = Console(record=True, width=width, color_system=None, force_terminal=False, file=io.StringIO())
    console.print(render_panel(view, memory_gb=0.05, now=112.0))
    return console.export_text()


def _flat(text: str) -> str:
    """The panel's text without borders, line breaks or spaces, so folded values read whole."""
    return "".join("".join(line.strip("│╭╮╰╯─ ").split()) for line in text.splitlines())


def _starting() -> NodeView:
    return NodeView().apply(StartupPhase(phase="loading the model", at=100.0))


def _training() -> NodeView:
    view = _starting()
    for event in [
        StartupPhase(phase="starting the DHT", at=101.0),
        NodeStarted(
            peer_id=ME,
            animal_name=ANIMAL,
            model="Gensyn/Qwen2.5-0.5B-Instruct",
            profile="local-tiny",
            device="cpu",
            dtype="float32",
            role="follower",
            maddrs=(f"/ip4/127.0.0.1/tcp/38331/p2p/{ME}", ADDRESS),
        ),
        StageStarted(round=0, stage=0),
        StageFinished(round=0, stage=0, reward=0.0, steps=4, seconds=1.0, questions=4),
        RoundFinished(round=0, reward=0.0, winners=(), vote=()),
        RoundFinished(round=1, reward=0.0, winners=(), vote=()),
        LeaderboardChanged(round=2, stage=0, top=((OTHER, 3.0), (ME, 2.0))),
        StageStarted(round=2, stage=1),
        StepDone(round=2, stage=1, step=2, steps=4, reward=1.25, tokens_per_second=42.0),
    ]:
        view.apply(event)
    return view


def _ended() -> NodeView:
    view = _training()
    for event in [
        StageFinished(round=2, stage=1, reward=1.25, steps=4, seconds=1.0, questions=4),
        StageStarted(round=3, stage=0),  # the clock moved on; this node never ran it
        NodeStopped(reason="trained 1 round(s)", rounds=1),
    ]:
        view.apply(event)
    return view


@pytest.mark.parametrize("width", [80, 160])
def test_start_up_shows_the_phase_and_its_time(width: int) -> None:
    text = _render(_starting(), width)
    assert "loading the model…" in text and "12 s" in text
    assert "51 MB" in text and "0.0 GB" not in text


@pytest.mark.parametrize("width", [80, 160])
def test_training_shows_address_join_command_rank_and_history(width: int) -> None:
    text = _render(_training(), width)
    flat = _flat(text)
    assert f"{ANIMAL}  [12D3Ko…e2Xo]" in text  # the whole animal name
    assert "round 2  stage 1 critique" in text and "step 2/4" in text
    assert ADDRESS in flat
    assert "rlswarmjoin--profilelocal-tiny--instancenode2--port0--initial-peer" in flat
    assert "rank            #2 of 2" in text  # a follower's rank, from the coordinator's leaderboard
    assert "── all 0.000" in text and "▅" not in text  # a flat history is a level line, not a mid bar
    assert all(len(line) <= width for line in text.splitlines())
    assert text.count("…") == 1  # the short peer id; nothing else is cut


def test_wide_panel_puts_facts_side_by_side_and_the_whole_command_on_one_line() -> None:
    text = _render(_training(), 160)
    assert "reward (stage)  1.250    peers     0" in text
    assert "--initial-peer" in text and "Gensyn/Qwen2.5-0.5B-Instruct" in text


@pytest.mark.parametrize("width", [80, 160])
def test_the_end_shows_what_was_trained_not_the_clock(width: int) -> None:
    text = _render(_ended(), width)
    assert "stopped: trained 1 round(s)" in text and "last trained: round 2 stage 1" in text
    assert "round 3" not in text


def test_the_end_of_a_node_that_trained_nothing() -> None:
    view = _starting().apply(NodeStopped(reason="stopped while starting", rounds=0))
    text = _render(view, 80)
    assert "stopped: stopped while starting" in text and "nothing trained" in text
