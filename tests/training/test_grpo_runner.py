"""Real trl GRPO steps through the stage runner: the tiny local model, and the real SmolLM2-135M."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlswarm_core.settings.model import resolve
from rlswarm_core.settings.profiles import get_profile
from rlswarm_core.training.grpo import GrpoStageRunner, training_precision
from rlswarm_core.training.models import load_model


def _settings(profile: str, **overrides: object):
    return resolve(profile_values=get_profile(profile).values_for(None), flags=overrides).settings


def _rows(n: int) -> list[dict]:
    return [
        {
            "prompt": [{"role": "user", "content": f"What is {i} + {i}?"}],
            "question_id": f"q{i}",
            "answer": str(2 * i),
        }
        for i in range(n)
    ]


def _length_score(rows, texts) -> list[float]:
    # Rewards that differ between completions, so the advantages (and the gradient) are not zero.
    return [float(len(t) % 7) for t in texts]


def _snapshot(model) -> dict:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _changed(before: dict, model) -> bool:
    return any(not before[name].equal(p.detach()) for name, p in model.named_parameters())


def test_precision_flags_per_device() -> None:
    assert training_precision("cuda", "bfloat16") == {"bf16": True, "fp16": False, "use_cpu": False}
    assert training_precision("mps", "float16") == {"bf16": False, "fp16": False, "use_cpu": False}
    assert training_precision("cpu", "float32") == {"bf16": False, "fp16": False, "use_cpu": True}


def test_vllm_only_on_cuda_with_the_package() -> None:
    import importlib.util

    from rlswarm_core.training.grpo import vllm_enabled

    assert vllm_enabled(False, "cuda") is False
    assert vllm_enabled(True, "cpu") is False and vllm_enabled(True, "mps") is False
    assert vllm_enabled(True, "cuda") is (importlib.util.find_spec("vllm") is not None)


def test_tiny_stage_trains_publishes_and_saves(models_cache: Path, tmp_path: Path) -> None:
    loaded = load_model("builtin:tiny-qwen2", device="cpu", dtype="float32", cache_dir=models_cache)
    settings = _settings("local-tiny")
    runner = GrpoStageRunner(loaded.model, loaded.tokenizer, settings, tmp_path / "work")
    before = _snapshot(loaded.model)
    published = []
    result = runner.run_stage(_rows(6), _length_score, steps=2, on_publish=published.append, publish_every=1)
    assert result.progress.step == 2 and not result.stopped_early
    assert [p.step for p in published] == [2, 2] or len(published) == 2
    assert result.progress.completions_scored == 2 * settings.batch_size
    assert set(result.progress.best) <= {f"q{i}" for i in range(6)} and result.progress.best
    assert result.progress.completion_tokens > 0
    assert _changed(before, loaded.model)
    runner.save(tmp_path / "ckpt", with_optimizer=True)
    for name in (
        "model.safetensors",
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "optimizer.pt",
    ):
        assert (tmp_path / "ckpt" / name).is_file(), name


def test_stop_event_ends_the_stage_early(models_cache: Path, tmp_path: Path) -> None:
    import threading

    loaded = load_model("builtin:tiny-qwen2", device="cpu", dtype="float32", cache_dir=models_cache)
    runner = GrpoStageRunner(loaded.model, loaded.tokenizer, _settings("local-tiny"), tmp_path / "work")
    stop = threading.Event()
    stop.set()
    result = runner.run_stage(_rows(4), _length_score, steps=5, stop=stop)
    assert result.stopped_early and result.progress.step == 1


def test_lora_stage_trains_only_the_adapter_and_reloads(models_cache: Path, tmp_path: Path) -> None:
    loaded = load_model("builtin:tiny-qwen2", device="cpu", dtype="float32", cache_dir=models_cache)
    settings = _settings("local-tiny", lora=True)
    runner = GrpoStageRunner(loaded.model, loaded.tokenizer, settings, tmp_path / "work")
    runner.run_stage(_rows(4), _length_score, steps=1)
    runner.save(tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "adapter_config.json").is_file()
    reloaded = load_model(str(tmp_path / "ckpt"), device="cpu", dtype="float32", cache_dir=models_cache)
    assert type(reloaded.model).__name__.startswith("Peft")


@pytest.mark.slow
def test_smollm_trains_one_grpo_step_offline(models_cache: Path, tmp_path: Path) -> None:
    loaded = load_model(
        "builtin:smollm2-135m-instruct", device="cpu", dtype="float32", cache_dir=models_cache
    )
    settings = _settings("local-smollm", max_completion_length=16)
    runner = GrpoStageRunner(loaded.model, loaded.tokenizer, settings, tmp_path / "work")
    before = _snapshot(loaded.model)
    result = runner.run_stage(_rows(2), _length_score, steps=1)
    assert result.progress.step == 1 and result.progress.completions_scored == settings.batch_size
    assert _changed(before, loaded.model)


def _fused_depth_per_stage(runner, stages: int) -> list[int]:
    """Run ``stages`` one-step stages; for each, the most ``forward`` wrappers a decoder call went through."""
    import sys

    depths: list[int] = []

    def count_wrappers(module, args) -> None:
        frame, depth = sys._getframe(), 0
        while frame is not None:
            depth += frame.f_code.co_name == "_fused_forward"
            frame = frame.f_back
        depths[-1] = max(depths[-1], depth)

    lora = hasattr(runner.model, "peft_config")
    decoder = runner.model.get_base_model().model if lora else runner.model.model
    handle = decoder.register_forward_pre_hook(count_wrappers)
    try:
        for _ in range(stages):
            depths.append(0)
            runner.run_stage(_rows(4), _length_score, steps=1)
            if lora and decoder is not runner.model.get_base_model().model:
                raise AssertionError("the LoRA wrapper changed the decoder")
    finally:
        handle.remove()
    return depths


def test_stage_trainers_do_not_pile_up_forward_wrappers(models_cache: Path, tmp_path: Path) -> None:
    # Each trl trainer wraps the model's forward; a node builds one per stage for as long as it runs.
    loaded = load_model("builtin:tiny-qwen2", device="cpu", dtype="float32", cache_dir=models_cache)
    runner = GrpoStageRunner(loaded.model, loaded.tokenizer, _settings("local-tiny"), tmp_path / "work")
    depths = _fused_depth_per_stage(runner, 4)
    assert max(depths) >= 1, "the fused LM head was not used (trl changed?)"
    assert depths == [depths[0]] * 4
    assert "forward" not in loaded.model.__dict__


def test_reference_is_copied_once_and_outlives_the_folder_it_was_loaded_from(
    models_cache: Path, tmp_path: Path
) -> None:
    import shutil

    import torch

    # A node resumed from a checkpoint keeps training after that checkpoint has been pruned.
    first = load_model("builtin:tiny-qwen2", device="cpu", dtype="float32", cache_dir=models_cache)
    folder = tmp_path / "round-000000"
    first.model.save_pretrained(folder)
    first.tokenizer.save_pretrained(folder)
    loaded = load_model(str(folder), device="cpu", dtype="float32", cache_dir=models_cache)
    start = _snapshot(loaded.model)
    shutil.rmtree(folder)
    settings = _settings("local-tiny", beta=0.04)
    runner = GrpoStageRunner(loaded.model, loaded.tokenizer, settings, tmp_path / "work")
    logs: list[dict] = []
    for _ in range(3):
        runner.run_stage(_rows(4), _length_score, steps=1, on_log=logs.append)
    reference = runner.trainer.ref_model
    assert reference is runner._reference and reference is not runner.model
    assert not any(p.requires_grad for p in reference.parameters())
    assert all(torch.equal(start[name], p) for name, p in reference.named_parameters())
    assert _changed(start, runner.model)
    kl = [entry["kl"] for entry in logs if "kl" in entry]
    assert len(kl) == 3 and kl[-1] > 0  # the KL term is on, and the policy has moved off the reference


def test_lora_node_trains_stage_after_stage_against_its_start(models_cache: Path, tmp_path: Path) -> None:
    loaded = load_model("builtin:tiny-qwen2", device="cpu", dtype="float32", cache_dir=models_cache)
    runner = GrpoStageRunner(
        loaded.model, loaded.tokenizer, _settings("local-tiny", lora=True, beta=0.04), tmp_path / "work"
    )
    logs: list[dict] = []
    for _ in range(3):
        runner.run_stage(_rows(4), _length_score, steps=1, on_log=logs.append)
    assert list(runner.model.peft_config) == ["default"]
    assert len([entry for entry in logs if "kl" in entry]) == 3
    depths = _fused_depth_per_stage(runner, 2)
    assert depths == [depths[0]] * 2 and depths[0] >= 1
    runner.save(tmp_path / "ckpt")
    assert not (tmp_path / "ckpt" / "ref").exists()


def _hooks(model) -> int:
    kinds = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return sum(len(getattr(m, kind, None) or ()) for m in model.modules() for kind in kinds)


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_stage_trainers_leave_no_hooks_behind_and_every_stage_trains(
    models_cache: Path, tmp_path: Path, lora: bool
) -> None:
    # transformers adds a hook on the input embeddings whenever a trainer turns gradient checkpointing
    # on; a node builds a trainer per stage for weeks, and each hook runs on every forward pass
    loaded = load_model("builtin:tiny-qwen2", device="cpu", dtype="float32", cache_dir=models_cache)
    settings = _settings("local-tiny", lora=lora)
    runner = GrpoStageRunner(loaded.model, loaded.tokenizer, settings, tmp_path / "work")
    assert runner._config(1).gradient_checkpointing  # trl's default, and the source of those hooks
    runner.run_stage(_rows(4), _length_score, steps=1)  # with LoRA, the first stage adds the adapter
    counts = [_hooks(runner.model)]
    for _ in range(3):
        before = _snapshot(runner.model)
        runner.run_stage(_rows(4), _length_score, steps=1)
        counts.append(_hooks(runner.model))
        # the hooks a stage's trainer needs are there while it trains: every stage still learns
        assert _changed(before, runner.model)
    assert counts == [counts[0]] * 4
