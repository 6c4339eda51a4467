"""The event journal against real damage: torn tails, incomplete lines, and a real full disk (tmpfs)."""

from __future__ import annotations

import json
from pathlib import Path

from rlswarm_core.node.events import (
    JournalRecovered,
    JournalRepaired,
    JournalWriteFailed,
    RoundFinished,
    StageFinished,
    StepDone,
)
from rlswarm_core.node.journal import EventJournal, read_events
from rlswarm_core.swarm.events import Event, EventBus
from tests.helpers import run_rlswarm
from tests.rewards.journals import write_journal


def _bus() -> tuple[EventBus, list[Event]]:
    bus, seen = EventBus(), []
    bus.subscribe(seen.append)
    return bus, seen


def _stage(round_: int, stage: int = 0) -> StageFinished:
    return StageFinished(round=round_, stage=stage, reward=1.0, steps=2, seconds=0.1, questions=4)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]  # every line must parse


def test_a_torn_tail_is_cut_off_and_the_next_event_gets_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    first = EventJournal(path)
    first(_stage(0))
    first.close()
    torn = b'{"at": 1700000000.0, "kind": "StageFinished", "questions": 4, "rew'
    with open(path, "ab") as handle:
        handle.write(torn)  # a crash mid-write
    bus, seen = _bus()
    journal = EventJournal(path)
    journal.attach(bus)
    bus.emit(_stage(1))
    journal.close()
    assert [e.kind for e in seen] == ["JournalRepaired", "StageFinished"]
    assert seen[0] == JournalRepaired(path=str(path), removed_bytes=len(torn), at=seen[0].at)
    events = _lines(path)
    assert [(e["kind"], e.get("round")) for e in events] == [
        ("StageFinished", 0),
        ("JournalRepaired", None),
        ("StageFinished", 1),
    ]


def test_a_whole_last_event_missing_only_its_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    journal = EventJournal(path)
    journal(_stage(0))
    journal.close()
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    bus, seen = _bus()
    journal = EventJournal(path)
    journal.attach(bus)
    bus.emit(_stage(1))
    journal.close()
    assert [e.kind for e in seen] == ["StageFinished"]  # nothing was removed, nothing to report
    assert [e["round"] for e in _lines(path)] == [0, 1]


def test_readers_skip_and_count_incomplete_lines() -> None:
    path, _ = write_journal("node", 2, stopped=True)
    good = read_events(path)
    assert good.skipped == 0
    text = path.read_text().splitlines()
    incomplete = json.dumps({"kind": "StageFinished", "at": 1.0, "stage": 1, "reward": 9.0})  # no "round"
    glued = '{"at": 1.0, "kind": "StageFini' + text[1]  # an old torn line with the next event glued on
    lines = [*text[:3], incomplete, "not json at all", glued, *text[3:], '{"at": 1.0, "kind": "StepDo']
    path.write_text("\n".join(lines))

    read = read_events(path)
    assert read.skipped == 4 and len(read.events) == len(good.events)

    done = run_rlswarm("rewards", "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    (node,) = json.loads(done.stdout)["nodes"]
    assert node["skipped_lines"] == 3  # the incomplete StageFinished, the glued line, the torn tail
    assert len(node["stages"]) == 6 and 9.0 not in [s["reward"] for s in node["stages"]]
    assert any("skipped 3 incomplete line(s)" in w for w in json.loads(done.stdout)["warnings"])
    human = run_rlswarm("rewards", timeout=120)
    assert human.returncode == 0 and "Traceback" not in human.stderr
    assert "node: skipped 3 incomplete line(s) of its event journal" in human.stderr


def test_a_full_disk_keeps_events_in_memory_reports_once_and_catches_up(small_disk) -> None:
    disk = small_disk("1m")
    path = disk.path / "state" / "events.jsonl"
    bus, seen = _bus()
    journal = EventJournal(path, retry_s=0)
    journal.attach(bus)
    bus.emit(_stage(0))
    disk.fill()
    for step in range(1, 41):
        bus.emit(StepDone(round=1, stage=0, step=step, steps=40, reward=0.5, tokens_per_second=10.0))
    bus.emit(RoundFinished(round=1, reward=1.0, winners=(), vote=()))
    failures = [e for e in seen if isinstance(e, JournalWriteFailed)]
    assert len(failures) == 1 and "No space left on device" in failures[0].message
    held = journal.pending  # the last page's slack may have taken a few lines before the disk refused
    assert held > 1
    on_disk = _lines(path)  # every line parses: no torn line was left behind
    assert len(on_disk) + held == 43  # 42 events and the failure notice

    disk.free()
    bus.emit(_stage(2))
    journal.close()
    (recovered,) = [e for e in seen if isinstance(e, JournalRecovered)]
    assert recovered.written == held + 1 and recovered.dropped == 0
    events = _lines(path)
    kinds = [e["kind"] for e in events]
    assert [e["step"] for e in events if e["kind"] == "StepDone"] == list(range(1, 41))  # in order, no gaps
    assert kinds.count("JournalWriteFailed") == 1 and [e.kind for e in seen].count("JournalWriteFailed") == 1
    assert kinds[0] == "StageFinished" and kinds[-3:] == [
        "RoundFinished",
        "StageFinished",
        "JournalRecovered",
    ]


def test_closing_on_a_full_disk_never_raises_and_says_what_was_lost(small_disk) -> None:
    disk = small_disk("1m")
    bus, seen = _bus()
    journal = EventJournal(disk.path / "events.jsonl", retry_s=0)
    journal.attach(bus)
    disk.fill()
    bus.emit(_stage(0))
    journal.close()  # must not raise
    last = seen[-1]
    assert isinstance(last, JournalWriteFailed) and last.unwritten == 2
    assert "2 event(s) could not be written" in last.message


def test_a_journal_that_cannot_be_opened_does_not_stop_the_node(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the journal's folder should be")
    bus, seen = _bus()
    journal = EventJournal(blocker / "events.jsonl", retry_s=0)
    journal.attach(bus)
    bus.emit(_stage(0))
    journal.close()
    assert [e.kind for e in seen] == ["StageFinished", "JournalWriteFailed", "JournalWriteFailed"]
    assert seen[-1].unwritten == 2  # the event and the first notice; the node was never disturbed
