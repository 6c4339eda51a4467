"""Chaos: a local swarm of 3 nodes on a devnet for at least 10 rounds while faults hit it.

Usage: python bench/chaos.py [--rounds 10] [--json]

The nodes are real ``rlswarm join`` processes (profile local-tiny) on the chain clock of a real anvil
chain with the coordinator contract, each with its own wallet. While they run, this script

1. SIGKILLs a follower's whole process group (a crashed host) and restarts it at once;
2. stops the chain endpoint for as long as a round takes and restarts it with its state;
3. fills the disk of the other follower (its home is a small tmpfs) for two rounds, then frees it
   (skipped, and said so, where a tmpfs cannot be mounted).

The faults come 1, 3 and 5 rounds after all three nodes first trained in the same stage (a follower
that loads its model after the clock's node ran ahead joins late); the swarm then runs ``--rounds``
rounds from there before every node is stopped with Ctrl-C (SIGINT). It prints one final line: lost
submissions (a reward or vote a node set out to submit that is not on chain at the end), duplicated
submissions (the same reward or vote on chain twice), node exits (a node process that ended with an
error), and the longest stage stall (the longest time the swarm's clock stood still after the clock's
node finished a stage). Goal: lost 0, duplicated 0, exits 0, stall <= 30 s.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# rounds after the swarm came together
KILL_ROUND = 1
OUTAGE_ROUND = 3
DISK_ROUND = 5
DISK_ROUNDS = 2
TMPFS_MB = 256
FOLLOWER_KEYS = (7, 8)


def log(text: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")
    sys.stderr.flush()


class NodeRun:
    """One ``rlswarm --json join`` process in its own process group; its events, as they come."""

    def __init__(self, name: str, home: Path, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self.killed = False
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rlswarm_cli.main", "--json", "join", *args],
            cwd=REPO,
            env={**os.environ, "RLSWARM_HOME": str(home), "PYTHONUNBUFFERED": "1", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True).start()

    def _read(self, stream: Any, is_events: bool) -> None:
        for line in stream:
            if not is_events:
                self.stderr.append(line)
                continue
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                with self._lock:
                    self.events.append(event)

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e.get("kind") == kind]

    def kill(self) -> None:
        self.killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        """Ctrl-C, as an operator stops a node; SIGKILL only if it does not stop within a minute."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_until(what: str, condition: Any, nodes: list[NodeRun], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for node in nodes:
            if not node.killed and node.proc.poll() not in (None, 0):
                raise SystemExit(f"{node.name} exited {node.proc.returncode} while waiting for {what}: "
                                 f"{''.join(node.stderr)[-1500:]}")  # fmt: skip
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def coordinator_round(coord: NodeRun) -> int:
    started = coord.of("StageStarted")
    return started[-1]["round"] if started else -1


def mount_tmpfs(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    return done.returncode == 0


def fill(path: Path) -> int:
    """Write until the file system is full; the bytes written."""
    written = 0
    block = b"\0" * (1 << 20)
    with contextlib.suppress(OSError), open(path, "wb") as handle:
        while True:
            handle.write(block)
            handle.flush()
            written += len(block)
    return written


def longest_stall(coord_events: list[dict[str, Any]]) -> float:
    """The longest time from the clock's node finishing a stage to its next stage starting."""
    longest = 0.0
    finished_at: float | None = None
    for event in coord_events:
        if event.get("kind") == "StageFinished":
            finished_at = float(event["at"])
        elif event.get("kind") == "StageStarted" and finished_at is not None:
            longest = max(longest, float(event["at"]) - finished_at)
            finished_at = None
    return longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    # a SIGTERM (or a SIGINT in a background job, where Python ignores it) still cleans up below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.rounds < max(10, DISK_ROUND + DISK_ROUNDS + 1):
        parser.error(f"need at least {DISK_ROUND + DISK_ROUNDS + 1} rounds")
    tmp = Path(tempfile.mkdtemp(prefix="rlswarm-chaos-"))
    homes = {name: tmp / name for name in ("coord", "f1", "f2")}
    disk_fault = mount_tmpfs(homes["f2"])
    try:
        result = run(args.rounds, tmp, homes, disk_fault)
    finally:
        if disk_fault:
            subprocess.run(["umount", "--lazy", str(homes["f2"])], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"chaos: {result['rounds']} rounds, 3 nodes, {result['rewards_on_chain']} rewards and "
            f"{result['votes_on_chain']} votes on chain: lost {result['lost']}, duplicated "
            f"{result['duplicated']}, exits {result['exits']}, longest stall {result['longest_stall_s']} s "
            "(goal: 0, 0, 0, <= 30 s)"
        )


def run(rounds: int, tmp: Path, homes: dict[str, Path], disk_fault: bool) -> dict[str, Any]:
    from rlswarm_core.chain.devnet import STAGE_MANAGER_INDEX, Devnet, dev_key
    from rlswarm_core.chain.reader import CoordinatorReader
    from rlswarm_core.identity.keys import create_identity

    chain = Devnet(state_path=tmp / "anvil-state.json")
    info = chain.start()
    peers = {
        name: create_identity(home / "data" / "identities" / "default.pem").peer_id
        for name, home in homes.items()
    }
    common = ["--profile", "local-tiny", "--host", "127.0.0.1", "--port", "0"]
    common += ["--network", "devnet", "--rpc-url", info.rpc_url, "--contract", info.contract]
    keys = {
        "coord": dev_key(STAGE_MANAGER_INDEX),
        "f1": dev_key(FOLLOWER_KEYS[0]),
        "f2": dev_key(FOLLOWER_KEYS[1]),
    }
    runs: list[NodeRun] = []
    faults: dict[str, Any] = {}
    try:
        coord = NodeRun("coord", homes["coord"], [*common, "--role", "coordinator"],
                        {"RLSWARM_WALLET_PRIVATE_KEY": keys["coord"]})  # fmt: skip
        runs.append(coord)
        wait_until("the coordinator to start", lambda: coord.of("NodeStarted"), runs, 180)
        maddr = next(m for m in coord.of("NodeStarted")[0]["maddrs"] if "/127.0.0.1/" in m and "/tcp/" in m)
        follower_args = [*common, "--role", "follower", "--initial-peer", maddr]
        followers = {}
        for name in ("f1", "f2"):
            followers[name] = NodeRun(
                name, homes[name], follower_args, {"RLSWARM_WALLET_PRIVATE_KEY": keys[name]}
            )
            runs.append(followers[name])
        # together: the clock's node closed a stage that all three published for
        wait_until(
            "the three nodes to train one stage together",
            lambda: any(e["published"] == 3 for e in coord.of("StageClosed")),
            runs,
            600,
        )
        base = coordinator_round(coord)
        log(f"swarm together at round {base}")

        # 1. a follower dies hard while it takes part (the clock waits for it), and is restarted at once
        def all_live_since(round_: int) -> bool:
            return any(e["published"] == 3 and e["round"] >= round_ for e in coord.of("StageClosed"))

        wait_until("the kill", lambda: all_live_since(base + KILL_ROUND), runs, 600)
        followers["f1"].kill()
        followers["f1"] = NodeRun(
            "f1", homes["f1"], follower_args, {"RLSWARM_WALLET_PRIVATE_KEY": keys["f1"]}
        )
        runs.append(followers["f1"])
        faults["kill"] = f"SIGKILL f1 at round {coordinator_round(coord)}, restarted"
        log(faults["kill"])
        wait_until("f1 to train again", lambda: followers["f1"].of("StageFinished"), runs, 600)
        log(f"f1 back at round {coordinator_round(coord)}")

        # 2. the chain endpoint goes away for as long as a round takes
        outage_at = max(base + OUTAGE_ROUND, coordinator_round(coord) + 1)
        wait_until("the outage", lambda: coordinator_round(coord) >= outage_at, runs, 600)
        starts = [e["at"] for e in coord.of("StageStarted") if e["stage"] == 0 and e["round"] > base]
        round_s = statistics.median(b - a for a, b in itertools.pairwise(starts)) if len(starts) > 1 else 10.0
        chain.stop()
        log(f"chain endpoint stopped for {round_s:.1f} s (one round) at round {coordinator_round(coord)}")
        time.sleep(round_s)  # the fault's duration
        chain.anvil.start()
        faults["outage_s"] = round(round_s, 1)
        log("chain endpoint back, with its state")

        # 3. a follower's disk fills up for two rounds, and until it had to save a checkpoint on it
        if disk_fault:
            disk_at = max(base + DISK_ROUND, coordinator_round(coord) + 1)
            wait_until("the disk fault", lambda: coordinator_round(coord) >= disk_at, runs, 600)
            filler = homes["f2"] / "filler"
            written = fill(filler)
            full_from = coordinator_round(coord)
            failures_before = len(followers["f2"].of("CheckpointFailed"))
            log(f"f2's disk full ({written >> 20} MiB filler) at round {full_from}")
            wait_until(
                "two rounds and a checkpoint on a full disk",
                lambda: (
                    coordinator_round(coord) >= full_from + DISK_ROUNDS
                    and len(followers["f2"].of("CheckpointFailed")) > failures_before
                ),
                runs,
                600,
            )
            filler.unlink()
            faults["disk_full_rounds"] = coordinator_round(coord) - full_from
            log(f"f2's disk freed at round {coordinator_round(coord)}")
        else:
            faults["disk_full_rounds"] = "skipped: cannot mount a tmpfs (needs root)"
            log("disk fault skipped: cannot mount a tmpfs here")

        wait_until(f"{rounds} rounds", lambda: coordinator_round(coord) >= base + rounds, runs, 1800)
        log(f"round {coordinator_round(coord)}: stopping the nodes with Ctrl-C")
    finally:
        for run in runs:
            run.stop()
        chain.stop()

    exits = [f"{r.name} exit {r.proc.returncode}" for r in runs if not r.killed and r.proc.returncode]
    chain.anvil.start()
    try:
        reader = CoordinatorReader(info.rpc_url, info.contract, info.chain_id)
        contract_events = reader.contract.events
        rewards = Counter(
            (e["args"]["peerId"], e["args"]["roundNumber"], e["args"]["stageNumber"])
            for e in contract_events.RewardSubmitted().get_logs(from_block=0)
        )
        votes = Counter(
            (e["args"]["peerId"], e["args"]["roundNumber"])
            for e in contract_events.WinnerSubmitted().get_logs(from_block=0)
        )
        final_round = reader.current_round() - base
    finally:
        chain.stop()
    intended_rewards, intended_votes = set(), set()
    for run in runs:
        peer = peers[run.name]
        for event in run.of("ChainSubmitted"):
            if event["what"] == "reward":
                intended_rewards.add((peer, event["round"], event["stage"]))
            else:
                intended_votes.add((peer, event["round"]))
    lost = sorted(intended_rewards - set(rewards)) + sorted(intended_votes - set(votes))
    duplicated = sum(n - 1 for n in rewards.values()) + sum(n - 1 for n in votes.values())
    stall = longest_stall(coord.events)
    # what the faults did, from the nodes' own events
    restarted = [r for r in runs if r.name == "f1" and not r.killed]
    closes = coord.of("StageClosed")
    seen = {
        "f1_resumed_from_checkpoint": bool(restarted and restarted[-1].of("Resumed")),
        "f1_stages_after_restart": len(restarted[-1].of("StageFinished")) if restarted else 0,
        "chain_outage_events": sum(len(r.of("ChainUnavailable")) for r in runs),
        "chain_recovered_events": sum(len(r.of("ChainRecovered")) for r in runs),
        "rewards_queued": sum(1 for r in runs for e in r.of("ChainSubmitted") if e["status"] == "queued"),
        "f2_checkpoint_failures": sum(len(r.of("CheckpointFailed")) for r in runs if r.name == "f2"),
        "stages_closed_by_grace": sum(1 for c in closes if c["reason"] == "grace"),
        "longest_grace_wait_s": round(
            max((c["waited_s"] for c in closes if c["reason"] == "grace"), default=0), 1
        ),
    }
    return {
        "rounds": final_round,
        "nodes": 3,
        "faults": faults,
        "observed": seen,
        "rewards_on_chain": sum(rewards.values()),
        "votes_on_chain": sum(votes.values()),
        "lost": len(lost),
        "lost_detail": [list(map(str, item)) for item in lost][:20],
        "duplicated": duplicated,
        "exits": len(exits),
        "exit_detail": exits,
        "longest_stall_s": round(stall, 1),
        "goal": {"lost": 0, "duplicated": 0, "exits": 0, "longest_stall_s": 30.0},
    }


if __name__ == "__main__":
    main()
