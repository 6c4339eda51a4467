"""The rewards summary against a full re-read of the journal: after clean runs, stale summaries, journals
cut mid-line, garbled or foreign summaries, a writer killed with SIGKILL, and a full disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rlswarm_core.node.events import NodeStarted, RoundFinished, StageFinished, StepDone
from rlswarm_core.node.journal import EventJournal
from rlswarm_core.rewards.fold import RewardsFold
from rlswarm_core.rewards.summary import full_read, read_rewards, save, summary_path
from rlswarm_core.swarm.events import LeaderboardChanged, PeerCountChanged, StageStarted
from tests.helpers import REPO
from tests.rewards.journals import write_journal


def _same(journal: Path, **read: int) -> dict:
    """``rewards``' view through the summary, checked equal to a full re-read, and to the fold of the
    whole journal in one piece (the definition; reads go in pieces, at the summary and by blocks)."""
    via_summary = read_rewards(journal, "n", **read).to_dict()
    assert via_summary == full_read(journal, "n").to_dict()
    whole = RewardsFold()
    whole.feed(journal.read_bytes())
    assert via_summary == whole.rewards("n").to_dict()
    return via_summary


def _saved_offset(journal: Path) -> int:
    return json.loads(summary_path(journal).read_bytes())["offset"]


def _events(rounds: int, peer: str = "QmMe") -> list:
    events: list = [
        NodeStarted(
            peer_id=peer,
            animal_name="a b c",
            model="m",
            profile="p",
            device="cpu",
            dtype="f",
            role="follower",
            at=1.0,
        ),
    ]
    for r in range(rounds):
        for s in range(3):
            events.append(StageStarted(round=r, stage=s, at=2.0))
            events += [
                StepDone(round=r, stage=s, step=k, steps=3, reward=0.5, tokens_per_second=10.0 + k, at=3.0)
                for k in range(1, 4)
            ]
            events.append(PeerCountChanged(round=r, stage=s, peers=2 + r, previous=2, at=4.0))
            events.append(
                StageFinished(round=r, stage=s, reward=r + s / 10, steps=3, seconds=1.0, questions=4)
            )
            board = ((peer, 1.0), ("QmOther", 0.5)) if r % 2 else (("QmOther", 9.0), (peer, 1.0))
            events.append(LeaderboardChanged(round=r, stage=s, top=board, at=5.0))
        events.append(RoundFinished(round=r, reward=1.0, winners=(peer,) if r % 3 else (), vote=(peer,)))
    return events


def test_the_node_keeps_the_summary_as_it_writes() -> None:
    path, _ = write_journal("kept", 4, win_rounds=(1, 3), stopped=True)
    assert _saved_offset(path) == path.stat().st_size  # saved on close, covering every line
    assert summary_path(path).stat().st_mode & 0o777 == 0o600
    view = _same(path)
    assert len(view["stages"]) == 12 and view["wins"] == 2 and not view["running"]


def test_every_crash_point_and_every_stale_summary_gives_the_full_reread(tmp_path: Path) -> None:
    """A summary saved after each write, then journals cut at every line end and mid-line, each read
    with summaries older than the cut, the latest before it, and ones newer than the cut."""
    path = tmp_path / "events.jsonl"
    journal = EventJournal(path, summary_every_s=0)
    saved: list[tuple[int, bytes]] = []
    for index, event in enumerate(_events(4)):
        journal(event)
        if index == 16:  # (a step) lines the writer did not write (an old version's torn line, garbage)
            with open(path, "ab") as handle:
                handle.write(b'{"at": 1.0, "kind": "StageFinished", "round": 0, "rew\nnot json\n')
                handle.write(b'{"at": 1.0, "kind": "StepDone", "round": 0\n')  # counts until a whole one
        saved.append((_saved_offset(path), summary_path(path).read_bytes()))
    journal.close()
    full = path.read_bytes()
    assert saved[-1][0] == len(full)  # the write after the garbage caught up with it
    line_ends = [i + 1 for i, byte in enumerate(full) if byte == ord("\n")]
    cuts = sorted({*line_ends, *(end - n for end in line_ends for n in (1, 7, 40) if end - n > 0)})
    work = tmp_path / "cut" / "events.jsonl"
    work.parent.mkdir()
    for cut in cuts:
        work.write_bytes(full[:cut])
        before = [blob for offset, blob in saved if offset <= cut]
        after = [blob for offset, blob in saved if offset > cut]
        for blob in {*before[-1:], *before[:1], *before[len(before) // 2 : len(before) // 2 + 1], *after[:1]}:
            summary_path(work).write_bytes(blob)
            _same(work, save_after=1 << 30)
        # a reader that saves what it folded: the next read starts from its summary and agrees again
        _same(work, save_after=0)
        _same(work)


def test_summaries_that_do_not_describe_the_journal_are_not_used(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    journal = EventJournal(path)
    for event in _events(3):
        journal(event)
    journal.close()
    right = _same(path)
    good = summary_path(path).read_bytes()
    other = tmp_path / "other" / "events.jsonl"
    journal = EventJournal(other)
    for event in _events(5, peer="QmSomeoneElse"):
        journal(event)
    journal.close()
    foreign = summary_path(other).read_bytes()  # of a longer journal: its offset is past this one's end
    shorter = tmp_path / "short" / "events.jsonl"
    journal = EventJournal(shorter)
    for event in _events(1, peer="QmShort"):
        journal(event)
    journal.close()
    for blob in (
        foreign,
        summary_path(shorter).read_bytes(),  # within this journal's length, but other bytes
        good[: len(good) // 2],  # torn
        b"garbage",
        good.replace(b'"version":1', b'"version":999'),
    ):
        summary_path(path).write_bytes(blob)
        assert _same(path, save_after=0) == right
        assert summary_path(path).read_bytes() == good  # the reader put a right one back


_WRITER = """
import sys, time
from rlswarm_core.node.journal import EventJournal
from tests.rewards.test_summary import _events
journal = EventJournal(sys.argv[1], summary_every_s=0)
events = _events(40)
for number in range(10**9):
    journal(events[number % len(events)])
    if number == 200:
        print("written", flush=True)
"""


def test_a_writer_killed_mid_run_and_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "written\n"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=60)
        if writer.stdout is not None:
            writer.stdout.close()
    view = _same(path)
    assert view["round"] is not None and view["peer_id"] == "QmMe"
    with open(path, "ab") as handle:
        handle.write(b'{"at": 1.0, "kind": "StageFinished", "questions": 4, "rew')  # a crash mid-write
    torn = _same(path)
    assert torn["skipped_lines"] == view["skipped_lines"] + 1
    # the restarted node repairs the tail, catches its summary up and keeps it
    journal = EventJournal(path)
    assert journal.removed_bytes > 0
    journal(StageFinished(round=999, stage=0, reward=5.0, steps=1, seconds=1.0, questions=1))
    journal.close()
    assert _saved_offset(path) == path.stat().st_size
    after = _same(path)
    assert after["stages"][-1]["round"] == 999 and after["skipped_lines"] == view["skipped_lines"]


def test_a_full_disk_never_breaks_the_summary(small_disk) -> None:
    disk = small_disk("1m")
    path = disk.path / "events.jsonl"
    journal = EventJournal(path, retry_s=0, summary_every_s=0)
    for event in _events(1):
        journal(event)
    before = summary_path(path).read_bytes()
    disk.fill()
    assert journal.summary is not None
    assert not save(path, journal.summary.fold, path.stat().st_size)  # no room: refused, not raised
    for event in _events(2)[1:]:  # the journal's own outage; any line that fits is followed
        journal(event)
    journal.close()
    assert not [p.name for p in disk.path.iterdir() if p.name.endswith(".tmp")]
    assert summary_path(path).read_bytes() == before or _saved_offset(path) <= path.stat().st_size
    _same(path)
    disk.free()
    journal = EventJournal(path, retry_s=0)
    journal(StageFinished(round=7, stage=0, reward=1.0, steps=1, seconds=1.0, questions=1))
    journal.close()
    assert _saved_offset(path) == path.stat().st_size
    _same(path)


@pytest.mark.parametrize("stale", [False, True])
def test_rewards_json_through_the_summary_equals_a_full_reread(stale: bool) -> None:
    from tests.helpers import run_rlswarm

    path, _ = write_journal("cli", 3, win_rounds=(2,))
    if stale:  # a crash after the summary was saved: more lines, and a torn last one
        old = summary_path(path).read_bytes()
        write_journal("cli", 5)
        summary_path(path).write_bytes(old)
        with open(path, "ab") as handle:
            handle.write(b'{"at": 1.0, "kind": "StepDo')
    done = run_rlswarm("rewards", "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    (node,) = json.loads(done.stdout)["nodes"]
    expected = full_read(path, "cli").to_dict()
    assert node["stages"] and node.pop("warning") is None and expected.pop("warning") is None
    assert node == expected
