from __future__ import annotations

from rich.console import Console

from rlswarm_cli.panel import render_panel
from rlswarm_core.node.events import ChainSubmitted, CheckpointSaved, NodeStarted, RoundFinished, StepDone
from rlswarm_core.node.view import NodeView
from rlswarm_core.swarm.events import LeaderboardChanged, PeerCountChanged, StageStarted

ME = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
OTHER = "Qmb8wVVVMTRmG4U1tCdaCCqietuWwpGRSbL53PA5azBViP"

EXPECTED = """\
╭───────────────────────── thorny fishy meerkat  [QmYyQS…hx5N] ──────────────────────────╮
│ round 3  stage 1 critique          step 2/4                                            │
│ ━━━━━━━━━━━━━━━                    42 tok/s                                            │
│                                                                                        │
│ reward (stage)  1.250                                                                  │
│ peers           5                                                                      │
│ rank            #2 of 2                                                                │
│ rounds          2                                                                      │
│ total reward    3.500                                                                  │
│ history         ▁█ 1.00–2.50                                                           │
│ chain           reward r2: queued                                                      │
│ hub push        -                                                                      │
│ checkpoint      round 2                                                                │
│ memory          1.5 GB                                                                 │
╰────────────────────────────────────────────────────── follower · mac-m4 · mps/float16 ─╯
"""


def _events() -> list[object]:
    return [
        NodeStarted(
            peer_id=ME,
            animal_name="thorny fishy meerkat",
            model="Gensyn/Qwen2.5-0.5B-Instruct",
            profile="mac-m4",
            device="mps",
            dtype="float16",
            role="follower",
        ),
        RoundFinished(round=1, reward=1.0, winners=(OTHER, ME), vote=(OTHER,)),
        RoundFinished(round=2, reward=2.5, winners=(OTHER, ME), vote=(OTHER,)),
        CheckpointSaved(round=2, path="/x/round-000002"),
        ChainSubmitted(what="reward", round=2, stage=2, status="queued"),
        StageStarted(round=3, stage=1),
        PeerCountChanged(round=3, stage=1, peers=5, previous=4),
        LeaderboardChanged(round=3, stage=0, top=((OTHER, 3.0), (ME, 2.0))),
        StepDone(round=3, stage=1, step=2, steps=4, reward=1.25, tokens_per_second=42.0),
    ]


def _render(view: NodeView) -> str:
    console = Console(record=True, width=90, color_system=None, force_terminal=False)
    console.print(render_panel(view, memory_gb=1.5))
    return console.export_text()


def test_panel_snapshot() -> None:
    view = NodeView()
    for event in _events():
        view.apply(event)
    assert view.rank == 2 and view.total_reward == 3.5 and view.rounds_completed == 2
    assert _render(view) == EXPECTED


def test_view_replays_journal_dicts_like_live_events() -> None:
    from rlswarm_core.node.journal import event_to_dict

    live, replayed = NodeView(), NodeView()
    for event in _events():
        live.apply(event)
        replayed.apply(event_to_dict(event))
    assert _render(live) == _render(replayed)


def test_panel_before_the_clock_is_known() -> None:
    text = _render(NodeView())
    assert "starting…" in text and "rlswarm node" in text


def test_panel_says_when_the_swarm_looks_stopped() -> None:
    from rlswarm_core.hosting.events import SwarmLooksStopped, SwarmResumed
    from rlswarm_core.node.journal import event_to_dict
    from rlswarm_core.node.lines import describe

    view = NodeView()
    for event in _events():
        view.apply(event)
    stopped = SwarmLooksStopped(swarm="club", quiet_s=1800.0, round=3, stage=1)
    view.apply(event_to_dict(stopped))
    text = " ".join(_render(view).replace("│", " ").split())
    assert "swarm club looks stopped: no round progress and no bootnode for 1800 s" in text
    assert "this swarm looks stopped" in (describe(stopped) or "")
    view.apply(SwarmResumed(swarm="club", round=3, stage=2))
    assert "looks stopped" not in _render(view)


def test_panel_and_log_say_when_peers_cannot_dial_this_node() -> None:
    from rlswarm_core.node.journal import event_to_dict
    from rlswarm_core.node.lines import describe
    from rlswarm_core.swarm.events import ReachabilityChecked

    fix = "forward TCP port 38331; rlswarm config set announce_maddrs /ip4/203.0.113.7/tcp/38331"
    unreachable = ReachabilityChecked(
        reachable=False,
        asked=OTHER,
        address="",
        tried=("/ip4/203.0.113.7/tcp/38331",),
        observed="203.0.113.7",
        reason="connection refused",
        fix=fix,
    )
    view = NodeView()
    for event in _events():
        view.apply(event)
    view.apply(event_to_dict(unreachable))  # as replayed from the journal
    text = " ".join(_render(view).replace("│", " ").split())
    assert "peers cannot dial this node at /ip4/203.0.113.7/tcp/38331: forward TCP port 38331" in text
    line = describe(unreachable) or ""
    assert line.startswith("warning: peers cannot dial this node") and line.endswith(fix)

    reachable = ReachabilityChecked(
        reachable=True, asked=OTHER, address="/ip4/203.0.113.7/tcp/38331", tried=(), observed="", reason="",
        fix="",
    )  # fmt: skip
    view.apply(reachable)
    assert "cannot dial" not in _render(view)
    assert describe(reachable) == "reachable from outside at /ip4/203.0.113.7/tcp/38331"
    unasked = ReachabilityChecked(
        reachable=None, asked="", address="", tried=(), observed="", reason="no bootnode", fix=""
    )
    assert describe(unasked) == "reachability not checked: no bootnode"
