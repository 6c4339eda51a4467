"""Which device and dtype a node trains in (CUDA in bf16, Apple MPS in fp16, the CPU in fp32), and the
GPU paths on top: vLLM generation colocated in the trainer, 4-bit loading with bitsandbytes, and one
node spread over several GPUs with accelerate.

Every decision is a pure function of what was asked for and what the machine can do, so every
combination is testable on any machine; only :func:`detect_capabilities` asks torch, and
:func:`capabilities_from_hardware` answers the same question from ``nvidia-smi`` for commands that must
not import torch (``doctor``, ``profiles recommend``).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rlswarm_core.errors import ConfigError

log = logging.getLogger("rlswarm.training")

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "float16", "bfloat16")
_PREFERRED = {"cuda": "bfloat16", "mps": "float16", "cpu": "float32"}


QUANTIZATIONS = ("none", "4bit")
GPU_EXTRA_HINT = "python -m pip install 'rlswarm[gpu]'"


@dataclass(frozen=True)
class Capabilities:
    cuda: bool = False
    cuda_bf16: bool = False
    mps: bool = False
    # CUDA GPUs torch can use (after CUDA_VISIBLE_DEVICES) and their memory; 0/() when unknown
    gpu_count: int = 0
    gpu_memory_gb: tuple[float, ...] = ()
    # optional packages, found without importing them
    vllm: bool = False
    bitsandbytes: bool = False

    @property
    def gpus(self) -> int:
        return max(self.gpu_count, 1) if self.cuda else 0


@dataclass(frozen=True)
class DeviceChoice:
    device: str
    dtype: str
    warnings: tuple[str, ...] = ()


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def detect_capabilities() -> Capabilities:
    import torch

    cuda = bool(torch.cuda.is_available())
    mps_backend = getattr(torch.backends, "mps", None)
    count = torch.cuda.device_count() if cuda else 0
    memory = tuple(round(torch.cuda.get_device_properties(i).total_memory / 1024**3, 1) for i in range(count))
    return Capabilities(
        cuda=cuda,
        cuda_bf16=bool(cuda and torch.cuda.is_bf16_supported()),
        mps=bool(mps_backend is not None and mps_backend.is_available()),
        gpu_count=count,
        gpu_memory_gb=memory,
        vllm=installed("vllm"),
        bitsandbytes=installed("bitsandbytes"),
    )


def capabilities_from_hardware(
    accelerator: str, gpu_memory_gb: Sequence[float] = (), compute_capabilities: Sequence[float | None] = ()
) -> Capabilities:
    """What :func:`detect_capabilities` would say, from ``nvidia-smi``'s answers (no torch import).
    bfloat16 needs compute capability 8.0 (Ampere) or newer on every GPU; unknown counts as no."""
    cuda = accelerator == "cuda"
    caps = list(compute_capabilities)
    return Capabilities(
        cuda=cuda,
        cuda_bf16=cuda and bool(caps) and all(c is not None and c >= 8.0 for c in caps),
        mps=accelerator == "mps",
        gpu_count=len(gpu_memory_gb) if cuda else 0,
        gpu_memory_gb=tuple(gpu_memory_gb) if cuda else (),
        vllm=installed("vllm"),
        bitsandbytes=installed("bitsandbytes"),
    )


def choose_device(device: str, dtype: str, caps: Capabilities) -> DeviceChoice:
    """Resolve ``auto`` and fall back from a dtype the device cannot train in, with a warning.

    Asking for a device the machine does not have is an error rather than a silent move to the CPU: a
    node that quietly trains 50x slower is worse than one that says why it will not start.
    """
    if device not in DEVICES:
        raise ConfigError(f"unknown device {device!r}", f"use one of: {', '.join(DEVICES)}")
    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}", f"use one of: {', '.join(DTYPES)}")
    if device == "auto":
        device = "cuda" if caps.cuda else "mps" if caps.mps else "cpu"
    elif device == "cuda" and not caps.cuda:
        raise ConfigError("device cuda was requested but torch sees no CUDA GPU", "set device to auto or cpu")
    elif device == "mps" and not caps.mps:
        raise ConfigError(
            "device mps was requested but torch has no MPS backend here", "set device to auto or cpu"
        )

    warnings: list[str] = []
    chosen = _PREFERRED[device] if dtype == "auto" else dtype
    if device == "cuda" and chosen == "bfloat16" and not caps.cuda_bf16:
        chosen = "float16"
        if dtype != "auto":
            warnings.append("this GPU cannot compute in bfloat16; training in float16 instead")
    elif device == "mps" and chosen == "bfloat16":
        chosen = "float16"
        warnings.append("bfloat16 is not reliable on Apple MPS; training in float16 instead")
    elif device == "cpu" and chosen != "float32":
        warnings.append(f"{chosen} is not supported for training on the CPU; training in float32 instead")
        chosen = "float32"
    for message in warnings:
        log.warning(message)
    return DeviceChoice(device=device, dtype=chosen, warnings=tuple(warnings))


def select_device(device: str = "auto", dtype: str = "auto") -> DeviceChoice:
    """:func:`choose_device` for this machine (imports torch)."""
    return choose_device(device, dtype, detect_capabilities())


def weights_dtype(choice: DeviceChoice) -> str:
    """The dtype the weights are loaded in. float16 training on CUDA is mixed precision: fp32 master
    weights, float16 compute under autocast, since the loss scaler refuses float16 gradients."""
    return "float32" if choice.device == "cuda" and choice.dtype == "float16" else choice.dtype


@dataclass(frozen=True)
class Placement:
    """Where the weights go. ``device_map`` None: load, then ``model.to(device)``; otherwise
    transformers places them with accelerate (4-bit weights are placed as they are quantized)."""

    device: str
    quantization: str = "none"
    gpus: int = 1
    device_map: str | dict[str, int] | None = None
    max_memory: dict[int, str] | None = None

    def describe(self) -> str:
        where = f"{self.gpus} GPUs (accelerate, {self.device_map})" if self.gpus > 1 else self.device
        return where + (", 4-bit weights" if self.quantization == "4bit" else "")


def choose_placement(
    choice: DeviceChoice, quantization: str, gpus: int, lora: bool, caps: Capabilities
) -> Placement:
    """Check 4-bit loading and multi-GPU requests against the machine and say how to load the model.

    Both are errors rather than silent fallbacks when the machine cannot do them: a large model that
    quietly loads unquantized, or on one GPU, runs out of memory later with a worse message.
    """
    if quantization not in QUANTIZATIONS:
        raise ConfigError(f"unknown quantization {quantization!r}", f"use one of: {', '.join(QUANTIZATIONS)}")
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1:
        raise ConfigError(f"gpus must be 1 or more, got {gpus!r}", "set gpus to the number of GPUs to use")
    if quantization == "4bit":
        if choice.device != "cuda":
            raise ConfigError(
                f"4-bit loading needs a CUDA GPU (bitsandbytes); this node runs on {choice.device}",
                "set quantization to none",
            )
        if not caps.bitsandbytes:
            raise ConfigError("4-bit loading needs the bitsandbytes package", GPU_EXTRA_HINT)
        if not lora:
            raise ConfigError(
                "4-bit weights cannot be trained directly",
                "set lora to true: the node then trains a LoRA adapter on the 4-bit model (QLoRA)",
            )
    if gpus > 1:
        if choice.device != "cuda":
            raise ConfigError(
                f"gpus {gpus} needs CUDA GPUs; this node runs on {choice.device}", "set gpus to 1"
            )
        if gpus > caps.gpus:
            raise ConfigError(
                f"gpus {gpus} was requested but torch sees {caps.gpus} CUDA GPU(s)",
                "lower gpus, or check CUDA_VISIBLE_DEVICES",
            )
        max_memory = None
        if gpus < caps.gpus and len(caps.gpu_memory_gb) >= gpus:
            # only the first ``gpus`` GPUs: accelerate spreads over every GPU it is given memory for
            max_memory = {i: f"{int(caps.gpu_memory_gb[i])}GiB" for i in range(gpus)}
        # "balanced" gives every GPU an equal share of the layers, leaving each room for activations
        return Placement("cuda", quantization, gpus, "balanced", max_memory)
    if quantization == "4bit":
        return Placement("cuda", quantization, 1, {"": 0})
    return Placement(choice.device, quantization, 1)


def choose_vllm(
    wanted: bool, device: str, caps: Capabilities, gpus: int = 1, quantization: str = "none"
) -> str:
    """Why vLLM generation is off, or "" when the trainer should use it (colocated: one engine in
    the training process, sharing the GPU). A profile that asks for vLLM still runs without it."""
    if not wanted:
        return "use_vllm is off"
    if device != "cuda":
        return f"vLLM needs a CUDA device, this node runs on {device}"
    if not caps.vllm:
        return f"the vllm package is not installed ({GPU_EXTRA_HINT})"
    if gpus > 1:
        return "a node spread over several GPUs generates with trl (colocated vLLM holds one GPU's model)"
    if quantization == "4bit":
        return "rlswarm does not hand 4-bit weights to vLLM; generating with trl"
    return ""


@dataclass(frozen=True)
class GpuPath:
    """One GPU code path and whether this machine can take it."""

    name: str
    usable: bool
    detail: str


def gpu_paths(caps: Capabilities) -> list[GpuPath]:
    """bf16, vLLM, 4-bit and multi-GPU: what ``doctor`` and ``profiles recommend`` report."""
    if not caps.cuda:
        why = "no CUDA GPU"
        return [GpuPath(name, False, why) for name in ("bf16", "vllm", "4bit", "multi-gpu")]
    return [
        GpuPath(
            "bf16",
            caps.cuda_bf16,
            "trains in bfloat16"
            if caps.cuda_bf16
            else "this GPU has no bfloat16 (compute capability under 8.0): trains in float16",
        ),
        GpuPath(
            "vllm",
            caps.vllm,
            "use_vllm: true generates with vLLM in the trainer" if caps.vllm else GPU_EXTRA_HINT,
        ),
        GpuPath(
            "4bit",
            caps.bitsandbytes,
            "quantization: 4bit with lora: true (QLoRA)" if caps.bitsandbytes else GPU_EXTRA_HINT,
        ),
        GpuPath(
            "multi-gpu",
            caps.gpus > 1,
            f"gpus: {caps.gpus} spreads one node over them" if caps.gpus > 1 else "one GPU",
        ),
    ]


def torch_dtype(name: str) -> Any:
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]
