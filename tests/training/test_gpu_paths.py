"""GPU code paths decided on any machine: 4-bit loading, several GPUs per node, colocated vLLM, bf16,
and what ``doctor`` and ``profiles recommend`` report. The paths themselves run in
``scripts/gpu_checks.sh`` on a CUDA machine."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rlswarm_core.doctor.result import ERROR, OK, WARNING
from rlswarm_core.errors import ConfigError
from rlswarm_core.settings.model import NodeSettings
from rlswarm_core.training.device import (
    Capabilities,
    DeviceChoice,
    Placement,
    capabilities_from_hardware,
    choose_device,
    choose_placement,
    choose_vllm,
    gpu_paths,
    weights_dtype,
)

CPU = Capabilities()
ONE_GPU = Capabilities(cuda=True, cuda_bf16=True, gpu_count=1, gpu_memory_gb=(23.6,))
ONE_GPU_BNB = Capabilities(cuda=True, cuda_bf16=True, gpu_count=1, bitsandbytes=True)
FOUR_GPUS = Capabilities(
    cuda=True, cuda_bf16=True, gpu_count=4, gpu_memory_gb=(79.6,) * 4, vllm=True, bitsandbytes=True
)
OLD_GPU = Capabilities(cuda=True, cuda_bf16=False, gpu_count=1, vllm=True)
ON_CPU = DeviceChoice("cpu", "float32")
ON_CUDA = DeviceChoice("cuda", "bfloat16")


@pytest.mark.parametrize(
    ("choice", "quantization", "gpus", "lora", "caps", "expected"),
    [
        (ON_CPU, "none", 1, False, CPU, Placement("cpu")),
        (ON_CUDA, "none", 1, False, ONE_GPU, Placement("cuda")),
        (ON_CUDA, "4bit", 1, True, ONE_GPU_BNB, Placement("cuda", "4bit", 1, {"": 0})),
        (ON_CUDA, "none", 4, False, FOUR_GPUS, Placement("cuda", "none", 4, "balanced")),
        (
            ON_CUDA,
            "none",
            2,
            False,
            FOUR_GPUS,
            Placement("cuda", "none", 2, "balanced", {0: "79GiB", 1: "79GiB"}),
        ),
        (
            ON_CUDA,
            "4bit",
            2,
            True,
            FOUR_GPUS,
            Placement("cuda", "4bit", 2, "balanced", {0: "79GiB", 1: "79GiB"}),
        ),
    ],
)
def test_placement(
    choice: DeviceChoice, quantization: str, gpus: int, lora: bool, caps: Capabilities, expected: Placement
) -> None:
    placement = choose_placement(choice, quantization, gpus, lora, caps)
    assert placement == expected
    assert ("4-bit" in placement.describe()) is (quantization == "4bit")


@pytest.mark.parametrize(
    ("choice", "quantization", "gpus", "lora", "caps", "fragment"),
    [
        (ON_CPU, "4bit", 1, True, CPU, "4-bit loading needs a CUDA GPU"),
        (ON_CUDA, "4bit", 1, True, ONE_GPU, "needs the bitsandbytes package"),
        (ON_CUDA, "4bit", 1, False, ONE_GPU_BNB, "cannot be trained directly"),
        (ON_CUDA, "8bit", 1, True, ONE_GPU_BNB, "unknown quantization"),
        (ON_CPU, "none", 2, False, CPU, "gpus 2 needs CUDA GPUs"),
        (ON_CUDA, "none", 2, False, ONE_GPU, "torch sees 1 CUDA GPU"),
        (ON_CUDA, "none", 5, False, FOUR_GPUS, "torch sees 4 CUDA GPU"),
        (ON_CUDA, "none", 0, False, ONE_GPU, "gpus must be 1 or more"),
    ],
)
def test_impossible_placements_are_clear_errors(
    choice: DeviceChoice, quantization: str, gpus: int, lora: bool, caps: Capabilities, fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment) as raised:
        choose_placement(choice, quantization, gpus, lora, caps)
    assert raised.value.hint


@pytest.mark.parametrize(
    ("wanted", "device", "caps", "gpus", "quantization", "fragment"),
    [
        (True, "cuda", FOUR_GPUS, 1, "none", ""),
        (False, "cuda", FOUR_GPUS, 1, "none", "off"),
        (True, "cpu", CPU, 1, "none", "needs a CUDA device"),
        (True, "mps", Capabilities(mps=True), 1, "none", "needs a CUDA device"),
        (True, "cuda", ONE_GPU, 1, "none", "not installed"),
        (True, "cuda", FOUR_GPUS, 2, "none", "several GPUs"),
        (True, "cuda", FOUR_GPUS, 1, "4bit", "4-bit"),
    ],
)
def test_vllm_decision(
    wanted: bool, device: str, caps: Capabilities, gpus: int, quantization: str, fragment: str
) -> None:
    reason = choose_vllm(wanted, device, caps, gpus, quantization)
    assert (reason == "") is (fragment == "")
    assert fragment in reason


def test_bf16_on_cuda_and_float16_on_older_gpus(tmp_path: Path) -> None:
    from rlswarm_core.training.grpo import GrpoStageRunner, training_precision

    assert choose_device("auto", "auto", FOUR_GPUS) == DeviceChoice("cuda", "bfloat16")
    assert training_precision("cuda", "bfloat16")["bf16"] is True
    # bf16 weights train under bf16 autocast; float16 is mixed precision over float32 weights,
    # because the loss scaler refuses float16 gradients
    assert weights_dtype(DeviceChoice("cuda", "bfloat16")) == "bfloat16"
    old = choose_device("cuda", "bfloat16", OLD_GPU)
    assert old.dtype == "float16" and weights_dtype(old) == "float32"
    assert weights_dtype(DeviceChoice("mps", "float16")) == "float16"
    # the trainer's precision follows the resolved dtype, not the profile's bfloat16
    runner = GrpoStageRunner(None, None, NodeSettings(dtype="bfloat16"), tmp_path, "cuda", dtype=old.dtype)
    assert training_precision(runner.device, runner.dtype) == {"bf16": False, "fp16": True, "use_cpu": False}


def test_runner_on_cpu_generates_without_vllm(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    from rlswarm_core.training.grpo import GrpoStageRunner

    settings = NodeSettings(use_vllm=True)
    with caplog.at_level(logging.INFO, logger="rlswarm_core.training.grpo"):
        runner = GrpoStageRunner(None, None, settings, tmp_path, device="cpu")
    assert runner.use_vllm is False
    assert "use_vllm ignored: vLLM needs a CUDA device" in caplog.text


def test_gpu_paths_reported() -> None:
    assert [(p.name, p.usable) for p in gpu_paths(CPU)] == [
        ("bf16", False),
        ("vllm", False),
        ("4bit", False),
        ("multi-gpu", False),
    ]
    assert all(p.detail == "no CUDA GPU" for p in gpu_paths(CPU))
    assert all(p.usable for p in gpu_paths(FOUR_GPUS))
    old = {p.name: p for p in gpu_paths(OLD_GPU)}
    assert not old["bf16"].usable and "float16" in old["bf16"].detail
    assert old["vllm"].usable and not old["4bit"].usable and "rlswarm[gpu]" in old["4bit"].detail
    assert not old["multi-gpu"].usable


def test_capabilities_from_nvidia_smi_answers() -> None:
    caps = capabilities_from_hardware("cuda", [79.6, 79.6], [9.0, 9.0])
    assert (caps.cuda, caps.cuda_bf16, caps.gpus, caps.gpu_memory_gb) == (True, True, 2, (79.6, 79.6))
    assert capabilities_from_hardware("cuda", [24.0], [7.5]).cuda_bf16 is False
    assert capabilities_from_hardware("cuda", [24.0], [None]).cuda_bf16 is False
    assert capabilities_from_hardware("cpu").gpus == 0


def test_settings_take_quantization_and_gpus() -> None:
    settings = NodeSettings(quantization="4bit", lora=True, gpus=2)
    assert (settings.quantization, settings.gpus) == ("4bit", 2)
    with pytest.raises(ValueError):
        NodeSettings(quantization="3bit")
    with pytest.raises(ValueError):
        NodeSettings(gpus=0)


def test_loading_4bit_or_several_gpus_on_this_cpu_is_refused_before_loading(models_cache: Path) -> None:
    from rlswarm_core.training.models import load_model

    with pytest.raises(ConfigError, match="4-bit loading needs a CUDA GPU"):
        load_model("builtin:tiny-qwen2", "cpu", cache_dir=models_cache, quantization="4bit", lora=True)
    with pytest.raises(ConfigError, match="gpus 2 needs CUDA GPUs"):
        load_model("builtin:tiny-qwen2", "cpu", cache_dir=models_cache, gpus=2)
    loaded = load_model("builtin:tiny-qwen2", "cpu", cache_dir=models_cache)
    assert loaded.placement == Placement("cpu") and loaded.model.device.type == "cpu"


def test_4bit_load_arguments() -> None:
    import torch

    from rlswarm_core.training.models import placement_kwargs

    kwargs = placement_kwargs(Placement("cuda", "4bit", 1, {"": 0}), "bfloat16")
    config = kwargs["quantization_config"]
    assert kwargs["device_map"] == {"": 0} and kwargs["dtype"] is torch.bfloat16
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_compute_dtype is torch.bfloat16
    half = placement_kwargs(Placement("cuda", "4bit", 1, {"": 0}), "float32", "float16")
    assert half["dtype"] is torch.float32
    assert half["quantization_config"].bnb_4bit_compute_dtype is torch.float16
    spread = placement_kwargs(Placement("cuda", "none", 2, "balanced", {0: "79GiB", 1: "79GiB"}), "float16")
    assert spread["max_memory"] == {0: "79GiB", 1: "79GiB"} and "quantization_config" not in spread
    assert placement_kwargs(Placement("cpu"), "float32") == {"dtype": torch.float32}


# -- doctor and profiles recommend on a CUDA machine, with nvidia-smi played by a script ---------------
FAKE_NVIDIA_SMI = """#!/bin/sh
case "$*" in
  *compute_cap*) printf '9.0\\n9.0\\n' ;;
  *name,memory.total*) printf 'NVIDIA H100 80GB HBM3, 81559\\nNVIDIA H100 80GB HBM3, 81559\\n' ;;
  *) exit 1 ;;
esac
"""


@pytest.fixture
def two_h100(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "nvidia-smi"
    script.write_text(FAKE_NVIDIA_SMI)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return dict(os.environ)


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rlswarm_cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_profiles_recommend_reports_gpu_paths(two_h100: dict[str, str]) -> None:
    import importlib.util

    done = run_cli("profiles", "recommend", "--json", env=two_h100)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["recommended"] == "gpu-80gb"
    assert [g["compute_capability"] for g in data["hardware"]["gpus"]] == [9.0, 9.0]
    paths = {p["name"]: p for p in data["gpu_paths"]}
    assert paths["bf16"]["usable"] and paths["multi-gpu"]["usable"]
    assert paths["multi-gpu"]["detail"] == "gpus: 2 spreads one node over them"
    assert paths["vllm"]["usable"] is (importlib.util.find_spec("vllm") is not None)
    assert paths["4bit"]["usable"] is (importlib.util.find_spec("bitsandbytes") is not None)
    text = run_cli("profiles", "recommend", env=two_h100)
    assert "GPU paths: bf16 yes" in text.stdout and "multi-gpu yes" in text.stdout


def test_profiles_recommend_without_gpu_says_none() -> None:
    done = run_cli("profiles", "recommend", env=dict(os.environ, PATH=os.path.dirname(sys.executable)))
    assert done.returncode == 0, done.stderr
    assert "GPU paths: none (no CUDA GPU)" in done.stdout


def test_doctor_flags_gpu_settings_the_machine_cannot_take(
    two_h100: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from rlswarm_core.doctor.context import build_context
    from rlswarm_core.doctor.system import check_accelerator

    monkeypatch.setenv("RLSWARM_PROFILE", "gpu-80gb")
    monkeypatch.setenv("RLSWARM_GPUS", "3")
    result = check_accelerator(build_context(online=False))
    assert result.status == ERROR
    assert "torch sees 2 CUDA GPU(s)" in result.summary and "CUDA_VISIBLE_DEVICES" in result.fix
    assert {p["name"] for p in result.details["gpu_paths"]} == {"bf16", "vllm", "4bit", "multi-gpu"}

    monkeypatch.setenv("RLSWARM_GPUS", "2")
    result = check_accelerator(build_context(online=False))
    # gpu-80gb asks for vLLM; spread over two GPUs the node generates with trl instead
    assert result.status == WARNING and "use_vllm is set but" in result.summary
    assert "several GPUs" in result.summary or "not installed" in result.summary

    monkeypatch.setenv("RLSWARM_GPUS", "1")
    result = check_accelerator(build_context(online=False))
    if importlib.util.find_spec("vllm") is None:
        assert result.status == WARNING and "vllm package is not installed" in result.summary
        assert "rlswarm[gpu]" in result.fix
    else:
        assert result.status == OK and "GPU paths: bf16 yes" in result.summary


# -- the one-command GPU check, on this CPU machine -------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]


def test_gpu_checks_report_no_cuda_here(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: run scripts/gpu_checks.sh instead")
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gpu_checks.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "gpu_checks.json").read_text())
    # without CUDA the first check fails and the others are not attempted
    assert [(c["check"], c["status"]) for c in report["checks"]] == [("cuda", "fail")]
    assert "sees no CUDA GPU" in report["checks"][0]["detail"]
    assert "0 of 1 checks passed" in done.stdout

    wrapper = subprocess.run(
        ["bash", str(REPO / "scripts" / "gpu_checks.sh"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHON=sys.executable),
        check=False,
    )
    assert wrapper.returncode == 2
    lines = wrapper.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {sys.executable} has no CUDA build of torch")


def test_qlora_profile_loads_a_large_model_in_4bit() -> None:
    from rlswarm_core.settings import profiles
    from rlswarm_core.system import hardware

    profile = profiles.get_profile("gpu-24gb-qlora")
    settings = NodeSettings(**profile.values_for(24.0))
    assert (settings.quantization, settings.lora, settings.device) == ("4bit", True, "cuda")
    choice = choose_device(settings.device, settings.dtype, ONE_GPU_BNB)
    placement = choose_placement(choice, settings.quantization, settings.gpus, settings.lora, ONE_GPU_BNB)
    assert placement == Placement("cuda", "4bit", 1, {"": 0})
    with pytest.raises(ConfigError, match="bitsandbytes"):
        choose_placement(choice, settings.quantization, settings.gpus, settings.lora, ONE_GPU)
    # a 24 GB GPU is still recommended the full-precision 0.5B profile; 4-bit is opted into
    rtx = hardware.Hardware(
        "cuda", "Linux", "x86_64", "cpu", 16, 8, 64.0, 60.0, (hardware.Gpu("RTX 4090", 24.0),)
    )
    recommended = hardware.recommend(profiles.list_profiles(), rtx)
    assert recommended is not None and recommended.name == "gpu-24gb"
