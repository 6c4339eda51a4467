"""Device and dtype choice: every combination, and this machine's CPU."""

from __future__ import annotations

import logging

import pytest

from rlswarm_core.errors import ConfigError
from rlswarm_core.training.device import Capabilities, choose_device, select_device, torch_dtype

NONE = Capabilities()
CUDA = Capabilities(cuda=True, cuda_bf16=True)
OLD_CUDA = Capabilities(cuda=True, cuda_bf16=False)
MPS = Capabilities(mps=True)


@pytest.mark.parametrize(
    ("device", "dtype", "caps", "expected", "warns"),
    [
        ("auto", "auto", CUDA, ("cuda", "bfloat16"), False),
        ("auto", "auto", OLD_CUDA, ("cuda", "float16"), False),
        ("auto", "bfloat16", OLD_CUDA, ("cuda", "float16"), True),
        ("auto", "auto", MPS, ("mps", "float16"), False),
        ("mps", "bfloat16", MPS, ("mps", "float16"), True),
        ("auto", "auto", NONE, ("cpu", "float32"), False),
        ("cpu", "bfloat16", CUDA, ("cpu", "float32"), True),
        ("cpu", "float16", NONE, ("cpu", "float32"), True),
        ("cpu", "float32", NONE, ("cpu", "float32"), False),
        ("cuda", "float32", CUDA, ("cuda", "float32"), False),
    ],
)
def test_choose_device(
    device: str, dtype: str, caps: Capabilities, expected: tuple[str, str], warns: bool
) -> None:
    choice = choose_device(device, dtype, caps)
    assert (choice.device, choice.dtype) == expected
    assert bool(choice.warnings) is warns


def test_fallback_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="rlswarm.training"):
        choice = choose_device("cpu", "bfloat16", NONE)
    assert "bfloat16 is not supported for training on the CPU" in choice.warnings[0]
    assert choice.warnings[0] in caplog.text


@pytest.mark.parametrize(
    ("device", "dtype", "caps", "fragment"),
    [
        ("cuda", "auto", NONE, "no CUDA GPU"),
        ("mps", "auto", CUDA, "no MPS backend"),
        ("tpu", "auto", NONE, "unknown device"),
        ("cpu", "int8", NONE, "unknown dtype"),
    ],
)
def test_impossible_requests_are_clear_errors(
    device: str, dtype: str, caps: Capabilities, fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment):
        choose_device(device, dtype, caps)


def test_this_machine_cpu() -> None:
    import torch

    choice = select_device("cpu", "bfloat16")
    assert choice.device == "cpu" and choice.dtype == "float32" and choice.warnings
    assert torch_dtype(choice.dtype) is torch.float32
    auto = select_device()
    assert auto.device == ("cuda" if torch.cuda.is_available() else auto.device)
