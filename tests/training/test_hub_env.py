"""Which Hugging Face switches a node sets for itself: telemetry always off, the Hub client offline for a
local model that pushes nothing; never over the operator's own choice."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from rlswarm_core.training.hub_env import apply_hub_environment, hub_environment, model_is_local


def _settings(model: str, push_every_rounds: int | None = None) -> SimpleNamespace:
    return SimpleNamespace(model=model, push_every_rounds=push_every_rounds)


def test_local_models_are_recognised(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text("{}")
    lora_on_hub = tmp_path / "lora-hub"
    lora_on_hub.mkdir()
    (lora_on_hub / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": "Qwen/Qwen3-0.6B"})
    )
    lora_local = tmp_path / "lora-local"
    lora_local.mkdir()
    (lora_local / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(plain)}))
    assert (
        model_is_local("builtin:tiny-qwen2")
        and model_is_local(str(plain))
        and model_is_local(str(lora_local))
    )
    assert not model_is_local("Gensyn/Qwen2.5-0.5B-Instruct")
    assert not model_is_local(str(lora_on_hub))  # its base model comes from the Hub
    assert not model_is_local("not a model name!")


@pytest.mark.parametrize(
    ("model", "push", "expected"),
    [
        ("builtin:tiny-qwen2", None, {"HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}),
        ("builtin:tiny-qwen2", 5, {"HF_HUB_DISABLE_TELEMETRY": "1"}),  # pushing needs the Hub
        ("Gensyn/Qwen2.5-0.5B-Instruct", None, {"HF_HUB_DISABLE_TELEMETRY": "1"}),
    ],
)
def test_switches_per_model_and_push(model: str, push: int | None, expected: dict[str, str]) -> None:
    assert hub_environment(_settings(model, push)) == expected


def test_the_operators_own_choice_is_kept() -> None:
    environ = {"HF_HUB_DISABLE_TELEMETRY": "0", "PATH": "/bin"}
    applied = apply_hub_environment(_settings("builtin:tiny-qwen2"), environ)
    assert applied == {"HF_HUB_OFFLINE": "1"}
    assert environ == {"HF_HUB_DISABLE_TELEMETRY": "0", "HF_HUB_OFFLINE": "1", "PATH": "/bin"}
