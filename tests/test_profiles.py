from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlswarm_core.errors import ConfigError
from rlswarm_core.settings import profiles
from rlswarm_core.settings.model import NodeSettings
from rlswarm_core.system import hardware
from rlswarm_core.system.hardware import Gpu, Hardware
from rlswarm_core.system.paths import app_paths
from tests.helpers import Cli

REQUIRED = {"mac-m4", "mac-16gb", "cpu", "gpu-24gb", "gpu-80gb", "local-tiny", "local-smollm", "local-code"}
PRESET_KEYS = {
    "model",
    "dtype",
    "device",
    "batch_size",
    "num_generations",
    "max_completion_length",
    "memory_budget_gb",
}


def test_required_profiles_exist() -> None:
    assert set(profiles.profile_names()) >= REQUIRED


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_profile_loads_and_validates(name: str) -> None:
    profile = profiles.get_profile(name)
    assert set(profile.settings) >= PRESET_KEYS, f"{name} misses {PRESET_KEYS - set(profile.settings)}"
    for memory in (8, 16, 24, 32, 80, None):
        NodeSettings(**profile.values_for(memory))


def test_mac_m4_scales_with_memory() -> None:
    m4 = profiles.get_profile("mac-m4")
    small, mid, large = (NodeSettings(**m4.values_for(gb)) for gb in (16, 24, 32))
    assert small.batch_size <= mid.batch_size <= large.batch_size
    assert small.memory_budget_gb < mid.memory_budget_gb < large.memory_budget_gb
    assert small.env["PYTORCH_MPS_HIGH_WATERMARK_RATIO"]
    assert small.dtype == "float16" and small.device == "mps"


def _hw(accelerator: str, memory: float, chip: str = "x86", gpus: tuple[Gpu, ...] = ()) -> Hardware:
    return Hardware(accelerator, "Linux", "x86_64", chip, 8, 4, memory, memory, gpus)


@pytest.mark.parametrize(
    ("hw", "expected"),
    [
        (_hw("mps", 24, chip="Apple M4 Pro"), "mac-m4"),
        (_hw("mps", 16, chip="Apple M2"), "mac-16gb"),
        (_hw("cuda", 64, gpus=(Gpu("NVIDIA GeForce RTX 4090", 24.0),)), "gpu-24gb"),
        (_hw("cuda", 256, gpus=(Gpu("NVIDIA H100 80GB HBM3", 79.6),)), "gpu-80gb"),
        (_hw("cpu", 32), "cpu"),
        (_hw("cpu", 4), "cpu"),
    ],
)
def test_recommendation(hw: Hardware, expected: str) -> None:
    assert hardware.recommend(profiles.list_profiles(), hw).name == expected


def test_detect_reports_this_machine() -> None:
    hw = hardware.detect()
    assert hw.accelerator in {"cpu", "cuda", "mps"}
    assert hw.memory_gb > 0 and hw.cpu_cores_logical >= 1


def _user_profile(text: str, name: str = "broken") -> Path:
    folder = app_paths().config / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name: broken\ndescription: x\nsettings: {batch_size: [\n", "not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        ("name: broken\ndescription: x\nsettings: {bach_size: 4}\n", "unknown setting 'bach_size'"),
        ("name: broken\ndescription: x\nsettings: {dtype: float8}\n", "dtype"),
        ("name: other\ndescription: x\nsettings: {}\n", "does not match the file name"),
        ("name: broken\nsettings: {}\n", "description"),
        (
            "name: broken\ndescription: x\nsettings: {batch_size: 4, num_generations: 4}\n"
            "variants: [{min_memory_gb: 16, settings: {batch_size: 6}}]\n",
            "variant for 16 GB",
        ),
    ],
)
def test_broken_profile_is_one_clear_line(text: str, fragment: str, cli: Cli) -> None:
    _user_profile(text)
    result = cli("profiles", "show", "broken")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_unknown_profile_lists_choices(cli: Cli) -> None:
    result = cli("profiles", "show", "no-such-profile")
    assert result.exit_code == 1
    assert "unknown profile 'no-such-profile'" in result.stderr and "mac-m4" in result.stderr


def test_user_profile_shadows_and_lists(cli: Cli) -> None:
    _user_profile(
        "name: cpu\ndescription: mine\nsettings: {model: my/model, dtype: float32, device: cpu,"
        " batch_size: 2, num_generations: 2, max_completion_length: 64, memory_budget_gb: 2}\n",
        name="cpu",
    )
    assert profiles.get_profile("cpu", app_paths().config / "profiles").settings["model"] == "my/model"
    listed = json.loads(cli("profiles", "list", "--json").stdout)
    assert {p["name"] for p in listed["profiles"]} >= REQUIRED
    assert sum(p["recommended"] for p in listed["profiles"]) == 1


def test_profiles_show_json(cli: Cli) -> None:
    data = json.loads(cli("profiles", "show", "mac-m4", "--memory-gb", "32", "--json").stdout)
    assert data["settings"]["num_generations"] == 4 and data["settings"]["profile"] == "mac-m4"


def test_profiles_recommend_json(cli: Cli) -> None:
    data = json.loads(cli("profiles", "recommend", "--json").stdout)
    assert data["hardware"]["accelerator"] in {"cpu", "cuda", "mps"}
    assert data["recommended"] in profiles.profile_names()


def test_profile_error_in_missing_dir_does_not_crash(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        profiles.get_profile("nothing", tmp_path / "absent")
