"""``rlswarm rewards`` over a journal of a million events: through its summary, and by a full re-read.

Usage: python bench/rewards_latency.py [--events 1000000] [--runs 7] [--json]

One instance's journal gets ``--events`` events in the node's own line format (a node that ran for
months: rounds of three stages of 20 steps, with peer counts, leaderboards of ten, reward and winner
submissions, and a restart every 2,000 rounds). A real event journal then reopens it, as a restarted
node would (building the summary once), and appends one more round.

Each figure is a fresh ``rlswarm rewards`` process (interpreter start-up included) with its peak RSS,
run in turns so that the machine's load falls on all of them alike; medians of ``--runs``:

- ``--json`` and the human table through the summary (the goal: <= 0.5 s and <= 100 MB each);
- ``--json`` with the summary removed before each run: the full re-read (what every run cost before
  summaries, and what the first run after an upgrade costs once; that run saves the summary);
- ``--json`` with no instance at all: the start-up floor every command pays.

The outputs through the summary and through the full re-read are checked equal.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

GOAL_S = 0.5
GOAL_MB = 100.0
STEPS = 20
RESTART_EVERY = 2000


def write_journal(home: Path, events: int) -> tuple[Path, int]:
    """A journal of at least ``events`` lines, written in the node's format; its path and line count."""
    os.environ["RLSWARM_HOME"] = str(home)
    from rlswarm_core.identity.keys import create_identity
    from rlswarm_core.node.events import (
        ChainSubmitted,
        NodeStarted,
        NodeStopped,
        Resumed,
        RoundFinished,
        StageFinished,
        StepDone,
    )
    from rlswarm_core.node.journal import JOURNAL_NAME, event_line
    from rlswarm_core.swarm.events import LeaderboardChanged, PeerCountChanged, RewardsPublished, StageStarted
    from rlswarm_core.system.paths import app_paths

    peer = create_identity(app_paths().identity_file("node-1")).peer_id
    others = [f"QmPeer{i:040d}" for i in range(9)]
    path = app_paths().instances / "node-1" / JOURNAL_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    at, lines, r = 1_700_000_000.0, 0, 0

    def started(at: float) -> NodeStarted:
        return NodeStarted(
            peer_id=peer,
            animal_name="quick brown fox",
            model="Qwen/Qwen2.5-0.5B-Instruct",
            profile="cpu-small",
            device="cpu",
            dtype="float32",
            role="follower",
            at=at,
        )

    with open(path, "wb") as handle:
        batch = [event_line(started(at))]
        while lines + len(batch) < events:
            if r and r % RESTART_EVERY == 0:
                batch += [
                    event_line(NodeStopped(reason="stopped", rounds=RESTART_EVERY, at=at)),
                    event_line(started(at)),
                    event_line(Resumed(round=r, checkpoint=f"round-{r}", at=at)),
                ]
            for s in range(3):
                at += 30.0
                reward = round(0.25 + (r * 3 + s) % 17 / 10, 3)
                board = sorted(
                    [(peer, reward), *((o, 0.5 + i / 10) for i, o in enumerate(others))], key=lambda x: -x[1]
                )
                batch.append(event_line(StageStarted(round=r, stage=s, at=at)))
                batch += [
                    event_line(
                        StepDone(
                            round=r,
                            stage=s,
                            step=k,
                            steps=STEPS,
                            reward=reward,
                            tokens_per_second=41.5,
                            at=at + k,
                        )
                    )
                    for k in range(1, STEPS + 1)
                ]
                batch += [
                    event_line(PeerCountChanged(round=r, stage=s, peers=10, previous=10, at=at + STEPS)),
                    event_line(RewardsPublished(round=r, stage=s, reward=reward, steps=STEPS, at=at + STEPS)),
                    event_line(
                        StageFinished(
                            round=r,
                            stage=s,
                            reward=reward,
                            steps=STEPS,
                            seconds=25.0,
                            questions=4,
                            at=at + STEPS,
                        )
                    ),
                    event_line(LeaderboardChanged(round=r, stage=s, top=tuple(board), at=at + STEPS)),
                    event_line(ChainSubmitted(what="reward", round=r, stage=s, status="sent", at=at + STEPS)),
                ]
            winners = (peer, *others[:2]) if r % 4 == 0 else tuple(others[:3])
            batch.append(
                event_line(RoundFinished(round=r, reward=3.0, winners=winners, vote=winners[:1], at=at))
            )
            batch.append(event_line(ChainSubmitted(what="winners", round=r, stage=2, status="sent", at=at)))
            r += 1
            if len(batch) > 20_000:
                handle.write(b"".join(batch))
                lines += len(batch)
                batch = []
        handle.write(b"".join(batch))
        lines += len(batch)
    return path, lines


def reopen_and_append(path: Path) -> tuple[float, int]:
    """Reopen the journal as a restarted node does (building its summary once) and write one round."""
    from rlswarm_core.node.events import StageFinished
    from rlswarm_core.node.journal import EventJournal
    from rlswarm_core.swarm.events import StageStarted

    started = time.perf_counter()
    journal = EventJournal(path)
    opened = time.perf_counter() - started
    for s in range(3):
        journal(StageStarted(round=10**6, stage=s))
        journal(StageFinished(round=10**6, stage=s, reward=1.0, steps=STEPS, seconds=1.0, questions=4))
    journal.close()
    return opened, 6


def run(cmd: list[str], env: dict[str, str], out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS in MB of one fresh process, its stdout written to ``out``."""
    with open(out, "wb") as handle:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}")
    return wall, usage.ru_maxrss / 1024


def prepare(home: Path, events: int) -> None:
    """The journal and its summary, made in a child process: a child's peak RSS counts its parent's
    memory at the fork, so the parent that measures stays small."""
    path, lines = write_journal(home, events)
    opened, appended = reopen_and_append(path)
    print(json.dumps({"path": str(path), "events": lines + appended, "opened_s": opened}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare, args.events)
        return
    with tempfile.TemporaryDirectory(prefix="rlswarm-bench-") as tmp:
        home, empty = Path(tmp) / "home", Path(tmp) / "empty"
        started = time.perf_counter()
        made = subprocess.run(
            [sys.executable, __file__, "--prepare", str(home), "--events", str(args.events)],
            capture_output=True,
            text=True,
            check=True,
        )
        written = time.perf_counter() - started
        prepared = json.loads(made.stdout)
        path = Path(prepared["path"])
        size_mb = path.stat().st_size / 1e6
        summary = path.with_name(path.stem + ".summary.json")
        kept = summary.read_bytes()
        env = {**os.environ, "RLSWARM_HOME": str(home), "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
        base = [sys.executable, "-m", "rlswarm_cli.main", "rewards"]
        cases = {
            "json": ([*base, "--json"], env),
            "human": (base, env),
            "full_reread_json": ([*base, "--json"], env),
            "startup_floor_json": ([*base, "--json"], {**env, "RLSWARM_HOME": str(empty)}),
        }
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, (cmd, case_env) in cases.items():
                if name == "full_reread_json":
                    summary.unlink()
                samples[name].append(run(cmd, case_env, Path(tmp) / f"{name}.out"))
                if name == "full_reread_json":
                    summary.write_bytes(kept)  # the run saved its own; put the node's back
        outputs = {name: (Path(tmp) / f"{name}.out").read_bytes() for name in ("json", "full_reread_json")}
    via_summary, reread = json.loads(outputs["json"]), json.loads(outputs["full_reread_json"])
    for data in (via_summary, reread):
        data.pop("at")
    assert via_summary == reread, "the summary's answer differs from a full re-read"
    (node,) = via_summary["nodes"]
    median = {name: statistics.median(w for w, _ in s) for name, s in samples.items()}
    peak = {name: max(m for _, m in s) for name, s in samples.items()}
    result = {
        "events": prepared["events"],
        "journal_mb": round(size_mb, 1),
        "stages": len(node["stages"]),
        "write_s": round(written, 1),  # the journal, and the restarted node's summary
        "node_reopen_s": round(prepared["opened_s"], 2),
        "median_s": {k: round(v, 3) for k, v in median.items()},
        "peak_rss_mb": {k: round(v, 1) for k, v in peak.items()},
        "speedup_json": round(median["full_reread_json"] / median["json"], 1),
        "goal": {"seconds": GOAL_S, "rss_mb": GOAL_MB},
        "meets_goal": all(median[k] <= GOAL_S and peak[k] <= GOAL_MB for k in ("json", "human")),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"journal: {result['events']:,} events ({size_mb:.0f} MB), {result['stages']:,} stages, "
        f"written in {written:.0f} s; a restarted node built its summary in {prepared['opened_s']:.2f} s"
    )
    print(f"fresh processes, medians of {args.runs} (peak RSS is the largest run's):")
    for name, label in (
        ("json", "rewards --json, summary"),
        ("human", "rewards (table), summary"),
        ("full_reread_json", "rewards --json, full re-read"),
        ("startup_floor_json", "rewards --json, no instance"),
    ):
        print(f"  {label:32} {median[name]:6.3f} s  {peak[name]:6.1f} MB")
    print(
        f"summary vs full re-read: {result['speedup_json']}x faster; goal <= {GOAL_S} s and "
        f"<= {GOAL_MB:.0f} MB for --json and the table: {'met' if result['meets_goal'] else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
