"""pass@1 where an operator looks: event lines, the live panel, ``rewards`` (journal, JSON and table)
and the Hub model card. Families without tests (no pass@1) show nothing new."""

from __future__ import annotations

import time

from rich.console import Console

from rlswarm_cli.panel import render_panel
from rlswarm_core.hub.model_card import CardInfo, render_model_card
from rlswarm_core.identity.keys import create_identity
from rlswarm_core.node.events import NodeStarted, RoundFinished, StageFinished
from rlswarm_core.node.journal import EventJournal
from rlswarm_core.node.lines import describe
from rlswarm_core.node.view import NodeView
from rlswarm_core.rewards.view import read_summary, snapshot
from rlswarm_core.system.paths import app_paths
from rlswarm_core.training.checkpoints import CheckpointRecord

PEER = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"


def _text(renderable: object, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def _stage(round_: int, rate: float | None) -> StageFinished:
    return StageFinished(round=round_, stage=0, reward=0.5, steps=2, seconds=1.5, questions=4, pass_at_1=rate)


def _round(round_: int, rate: float | None) -> RoundFinished:
    return RoundFinished(round=round_, reward=0.5, winners=(PEER,), vote=(PEER,), pass_at_1=rate)


def test_event_lines() -> None:
    assert describe(_stage(3, 0.25)) == "round 3 stage 0 done: reward 0.500 in 1.5 s, pass@1 25.0%"
    assert describe(_round(3, 0.25)) == f"round 3 done: reward 0.500, pass@1 25.0%, vote {PEER}"
    assert "pass@1" not in (describe(_stage(3, None)) or "") + (describe(_round(3, None)) or "")


def test_panel_shows_pass_at_1_for_code_only() -> None:
    view = NodeView()
    for event in (_stage(0, 0.0), _round(0, 0.0), _stage(1, 0.5), _round(1, 0.5)):
        view.apply(event)
    assert view.pass_at_1 == 0.5 and view.round_pass_at_1 == [(0, 0.0), (1, 0.5)]
    shown = _text(render_panel(view, stage_count=1))
    assert "pass@1 (stage)  50.0%" in shown and "▁█" in shown
    plain = NodeView().apply(_stage(0, None)).apply(_round(0, None))
    assert "pass@1" not in _text(render_panel(plain, stage_count=1))


def test_rewards_read_pass_at_1_from_the_journal(cli) -> None:
    identity = create_identity(app_paths().identities / "coder.pem")
    path = app_paths().instances / "coder" / "events.jsonl"
    journal = EventJournal(path)
    journal(NodeStarted(peer_id=identity.peer_id, animal_name="a b c", model="m", profile="local-code",
                        device="cpu", dtype="float32", role="coordinator"))  # fmt: skip
    for round_, rate in ((0, 0.25), (1, 0.75)):
        journal(_stage(round_, rate))
        journal(_round(round_, rate))
    journal.close()
    summary = read_summary(path, "coder")
    assert summary.pass_at_1 == 0.75
    data = snapshot([summary])
    assert [s["pass_at_1"] for s in data["nodes"][0]["stages"]] == [0.25, 0.75]
    assert data["nodes"][0]["pass_at_1"] == 0.75
    table = cli("rewards", env={"COLUMNS": "140"})
    assert table.exit_code == 0, table.stderr
    assert "pass@1" in table.stdout and "75.0%" in table.stdout
    # a node of another family: no pass@1 column at all
    other = app_paths().instances / "plain" / "events.jsonl"
    journal = EventJournal(other)
    journal(_stage(0, None))
    journal.close()
    assert "pass@1" not in cli("rewards", "--instance", "plain", env={"COLUMNS": "140"}).stdout


def test_model_card_reports_pass_at_1() -> None:
    def record(round_: int, rate: float | None) -> CheckpointRecord:
        extra = {"pass_at_1": rate} if rate is not None else {}
        return CheckpointRecord(round=round_, peer_id=PEER, reward=1.0, model="builtin:tiny-qwen2",
                                task_family="code", steps=2, created=time.time(), extra=extra)  # fmt: skip

    info = CardInfo("me/coder", "a b c", record(2, 0.5), history=(record(1, 0.25), record(2, 0.5)))
    card = render_model_card(info)
    assert "| pass@1 (round) | 50.0% |" in card
    assert "| Round | Reward | Wins | Steps | pass@1 |" in card and "| 1 | 1 | 0 | 2 | 25.0% |" in card
    plain = render_model_card(CardInfo("me/x", "a b c", record(2, None), history=(record(2, None),)))
    assert "pass@1" not in plain
