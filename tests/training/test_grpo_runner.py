"""Real trl GRPO steps through the stage runner: the tiny local model, and the real SmolLM2-135M."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlswarm_core.profiles import get_profile
from rlswarm_core.settings import resolve
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
