"""Which device and dtype a node trains in: CUDA in bf16, Apple MPS in fp16, the CPU in fp32.

The choice itself is a pure function of what was asked for and what the machine can do, so every
combination is testable on any machine; only :func:`detect_capabilities` asks torch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from rlswarm_core.errors import ConfigError

log = logging.getLogger("rlswarm.training")

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "float16", "bfloat16")
_PREFERRED = {"cuda": "bfloat16", "mps": "float16", "cpu": "float32"}


@dataclass(frozen=True)
class Capabilities:
    cuda: bool = False
    cuda_bf16: bool = False
    mps: bool = False


@dataclass(frozen=True)
class DeviceChoice:
    device: str
    dtype: str
    warnings: tuple[str, ...] = ()


def detect_capabilities() -> Capabilities:
    import torch

    cuda = bool(torch.cuda.is_available())
    mps_backend = getattr(torch.backends, "mps", None)
    return Capabilities(
        cuda=cuda,
        cuda_bf16=bool(cuda and torch.cuda.is_bf16_supported()),
        mps=bool(mps_backend is not None and mps_backend.is_available()),
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


def torch_dtype(name: str) -> Any:
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]
