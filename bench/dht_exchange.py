"""Publish and gather one stage's outputs among N local peers: rlswarm's exchange against raw hivemind.

For each swarm size, two swarms run side by side on 127.0.0.1, taking turns stage by stage:

* ``rlswarm``: SwarmNodes with the record validators (signed owner subkeys, schema, size limit);
  every peer publishes its outputs (signed bundles, as many as the value-size limit needs) and its
  signed reward in one batched store, then gathers every peer's outputs for the stage with
  ``Exchange.gather_outputs`` (every record validated by every node that receives it). The rewards are
  read with a "latest" search (every replica); each peer's outputs are read in the version its reward
  names (both were stored in one call, with one expiration time), so that search ends at the first
  replica holding that version instead of waiting for every replica.
* ``raw``: plain ``hivemind.DHT`` nodes without validators, storing the same payload bytes, in two
  ways: ``raw-seq`` the reference node's pattern (one ``store`` per question, one ``get(latest=True)``
  per peer), and ``raw-batch`` one ``store_many``/``get_many`` call per peer (the same batching the
  exchange does: the best a raw user can do with per-question records).

All peers act at once (one thread each, as separate nodes would). Times are medians over the
repetitions (total = median of publish + gather per stage); memory is each node's p2pd resident set
size after the runs.

Run: python bench/dht_exchange.py [--sizes 8 16 32] [--questions 8] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import psutil

from rlswarm_core.identity.keys import create_identity
from rlswarm_core.swarm import keys
from rlswarm_core.swarm.coordinator import RoundStage
from rlswarm_core.swarm.dht import DHTOptions, SwarmNode, harden_pipe, start_node
from rlswarm_core.swarm.events import EventBus
from rlswarm_core.swarm.exchange import Exchange, StageOutput
from rlswarm_core.swarm.records import OutputRecord, RewardRecord, encode_record


def payload(peer: int, questions: int, size: int) -> list[StageOutput]:
    return [
        StageOutput(
            f"benchmark question {q}", f"<think>{'x' * size}</think><answer>{peer}</answer>", reward=1.0
        )
        for q in range(questions)
    ]


def rss_mb(pids: list[int]) -> list[float]:
    out = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            out.append(psutil.Process(pid).memory_info().rss / 2**20)
    return out


def p2pd_children(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True) if p.name() == "p2pd"]
    except psutil.Error:
        return []


def timed_all(workers: list[Callable[[], Any]]) -> tuple[float, list[Any]]:
    with ThreadPoolExecutor(len(workers)) as pool:
        started = time.perf_counter()
        results = list(pool.map(lambda fn: fn(), workers))
        return time.perf_counter() - started, results


# -- rlswarm --------------------------------------------------------------------------------------------
def start_rlswarm(n: int, tmp: Path) -> list[SwarmNode]:
    nodes: list[SwarmNode] = []
    try:
        for i in range(n):
            ident = create_identity(tmp / f"rl-{n}-{i}.key")
            peers = tuple(nodes[0].visible_maddrs()) if nodes else ()
            opts = DHTOptions(identity_path=ident.path, host="127.0.0.1", port=0, initial_peers=peers)
            nodes.append(start_node(opts, EventBus()))
    except BaseException:
        for node in nodes:
            node.shutdown()
        raise
    return nodes


def stage_rlswarm(
    nodes: list[SwarmNode], rs: RoundStage, questions: int, size: int
) -> tuple[float, float, bool]:
    exchanges = [Exchange(node) for node in nodes]

    def pub(i: int) -> bool:
        ex = exchanges[i]
        return ex.publish(rs, 1.0, 4, payload(i, questions, size))

    t_pub, ok = timed_all([partial(pub, i) for i in range(len(nodes))])
    t_get, got = timed_all([partial(ex.gather_outputs, rs, 60.0) for ex in exchanges])
    complete = all(ok) and all(
        len(g.outputs) == len(nodes) and all(len(v) == questions for v in g.outputs.values()) for g in got
    )
    return t_pub, t_get, complete


# -- raw hivemind ---------------------------------------------------------------------------------------
def raw_records(
    peer_id: str, i: int, rs: RoundStage, questions: int, size: int
) -> list[tuple[str, str, bytes]]:
    items = []
    for out in payload(i, questions, size):
        qhash = keys.question_hash(out.question)
        rec = OutputRecord(
            peer_id=peer_id,
            round=rs.round,
            stage=rs.stage,
            timestamp=time.time(),
            question_hash=qhash,
            question=out.question,
            completion=out.completion,
            reward=out.reward,
        )
        items.append((rec.dht_key(), qhash, encode_record(rec)))
    reward = RewardRecord(
        peer_id=peer_id, round=rs.round, stage=rs.stage, timestamp=time.time(), reward=1.0, steps=4
    )
    items.append((reward.dht_key(), peer_id, encode_record(reward)))
    return items


async def _raw_store_many(
    _dht: Any, node: Any, items: list[tuple[str, str, bytes]], expiration: float
) -> bool:
    result = await node.store_many(
        [k for k, _, _ in items], [v for _, _, v in items], expiration, subkeys=[s for _, s, _ in items]
    )
    return all(result.values())


async def _raw_get_many(_dht: Any, node: Any, wanted: list[str]) -> dict[str, dict[Any, bytes]]:
    # the payloads come back to the caller, as they do from the exchange
    found = await node.get_many(wanted, sufficient_expiration_time=float("inf"))
    return {
        k: {s: item.value for s, item in v.value.items()} if v is not None else {} for k, v in found.items()
    }


def start_raw(n: int) -> list[Any]:
    import hivemind

    dhts: list[Any] = []
    try:
        for _ in range(n):
            peers = [str(m) for m in dhts[0].get_visible_maddrs()] if dhts else None
            dht = hivemind.DHT(initial_peers=peers, start=True, host_maddrs=["/ip4/127.0.0.1/tcp/0"])
            harden_pipe(dht)  # or a stage over 64 KiB kills the raw node's DHT process
            dhts.append(dht)
    except BaseException:
        for dht in dhts:
            dht.shutdown()
        raise
    return dhts


def stage_raw(
    dhts: list[Any], rs: RoundStage, questions: int, size: int, batched: bool
) -> tuple[float, float, bool]:
    from hivemind.utils import get_dht_time

    ids = [str(d.peer_id) for d in dhts]
    exp = get_dht_time() + 4 * 3600

    def pub(i: int) -> bool:
        items = raw_records(ids[i], i, rs, questions, size)
        if not batched:
            return all(dhts[i].store(k, v, exp, subkey=s) for k, s, v in items)
        return dhts[i].run_coroutine(partial(_raw_store_many, items=items, expiration=exp))

    def get(i: int) -> int:
        rewards = dhts[i].get(keys.rewards_key(rs.round, rs.stage), latest=True)
        peers = list(rewards.value) if rewards is not None else []
        wanted = [keys.outputs_key(p, rs.round, rs.stage) for p in peers]
        if not batched:
            found = [dhts[i].get(k, latest=True) for k in wanted]
            return sum(len(f.value) for f in found if f is not None)
        by_key = dhts[i].run_coroutine(partial(_raw_get_many, wanted=wanted))
        return sum(len(v) for v in by_key.values())

    t_pub, ok = timed_all([partial(pub, i) for i in range(len(dhts))])
    t_get, got = timed_all([partial(get, i) for i in range(len(dhts))])
    return t_pub, t_get, all(ok) and all(total == len(dhts) * questions for total in got)


def run_size(n: int, questions: int, size: int, repeat: int, tmp: Path) -> dict[str, Any]:
    """Both swarms up at once; the modes take turns, so a change in machine load hits them alike."""
    nodes: list[SwarmNode] = []
    dhts: list[Any] = []
    try:
        nodes = start_rlswarm(n, tmp)
        dhts = start_raw(n)
        modes: dict[str, Callable[[RoundStage], tuple[float, float, bool]]] = {
            "rlswarm": lambda rs: stage_rlswarm(nodes, rs, questions, size),
            "raw-seq": lambda rs: stage_raw(dhts, rs, questions, size, batched=False),
            "raw-batch": lambda rs: stage_raw(dhts, rs, questions, size, batched=True),
        }
        times: dict[str, list[tuple[float, float, bool]]] = {mode: [] for mode in modes}
        names = list(modes)
        for r in range(repeat):
            for k, mode in enumerate(names[r % len(names) :] + names[: r % len(names)]):
                times[mode].append(modes[mode](RoundStage(r * 10 + k, 0)))
        rl_rss = rss_mb([pid for node in nodes for pid in node.daemon_pids()])
        raw_rss = rss_mb([pid for d in dhts for pid in p2pd_children(d.pid)])
        return {
            mode: {
                "publish_s": statistics.median(t[0] for t in runs),
                "gather_s": statistics.median(t[1] for t in runs),
                "total_s": statistics.median(t[0] + t[1] for t in runs),
                "complete": all(t[2] for t in runs),
                "p2pd_rss_mb": rl_rss if mode == "rlswarm" else raw_rss,
            }
            for mode, runs in times.items()
        }
    finally:
        for node in nodes:
            node.shutdown()
        for dht in dhts:
            dht.shutdown()


def summary(rss: list[float]) -> str:
    if not rss:
        return "n/a"
    return f"mean {statistics.mean(rss):.1f} MB, max {max(rss):.1f} MB ({len(rss)} daemons)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--questions", type=int, default=8, help="questions (outputs) per peer per stage")
    parser.add_argument("--completion-chars", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    report: dict[str, Any] = {
        "questions": args.questions,
        "completion_chars": args.completion_chars,
        "repeat": args.repeat,
        "cpus": psutil.cpu_count(),
        "load_avg_before": psutil.getloadavg(),
        "sizes": {},
    }
    with tempfile.TemporaryDirectory(prefix="rlswarm-bench-") as tmp:
        for n in args.sizes:
            report["sizes"][n] = run_size(n, args.questions, args.completion_chars, args.repeat, Path(tmp))
    report["load_avg_after"] = psutil.getloadavg()

    print(
        f"{args.questions} outputs of ~{args.completion_chars} chars per peer, median of {args.repeat}; "
        f"{report['cpus']} CPUs, load before {report['load_avg_before'][0]:.1f}"
    )
    print(
        f"{'peers':>5} {'mode':<10} {'publish s':>9} {'gather s':>9} {'total s':>8} {'vs raw-seq':>10} "
        f"{'vs raw-batch':>12} complete"
    )
    for n, modes in report["sizes"].items():
        base = {m: modes[m]["total_s"] for m in ("raw-seq", "raw-batch")}
        for mode, res in modes.items():
            total = res["total_s"]
            res["ratio_vs_raw_seq"] = total / base["raw-seq"]
            res["ratio_vs_raw_batch"] = total / base["raw-batch"]
            print(
                f"{n:>5} {mode:<10} {res['publish_s']:>9.3f} {res['gather_s']:>9.3f} {total:>8.3f} "
                f"{res['ratio_vs_raw_seq']:>9.2f}x {res['ratio_vs_raw_batch']:>11.2f}x {res['complete']}"
            )
        print(f"      p2pd RSS rlswarm: {summary(modes['rlswarm']['p2pd_rss_mb'])}")
        print(f"      p2pd RSS raw:     {summary(modes['raw-seq']['p2pd_rss_mb'])}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
