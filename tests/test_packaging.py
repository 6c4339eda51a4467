"""The wheel ships profiles and completions, and the installed package finds them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-c", f"from hatchling.build import build_wheel; build_wheel({str(out)!r})"],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("rlswarm-*.whl")
    return built


def test_wheel_contains_data_and_entry_point(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for profile in (REPO / "profiles").glob("*.yaml"):
        assert f"rlswarm_core/_data/profiles/{profile.name}" in names
    for script in ("rlswarm.bash", "_rlswarm", "rlswarm.fish"):
        assert f"rlswarm_core/_data/completions/{script}" in names
    assert "rlswarm_core/identity/animal_words.json" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "rlswarm = rlswarm_cli.main:run" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_unpacked_wheel_finds_its_profiles(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = (
        "import rlswarm_core.settings.profiles as p, rlswarm_core.system.resources as r;"
        "print(p.profiles_dir()); print(len(p.list_profiles()));"
        "print(r.data_dir('completions'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    folder, count, completions = done.stdout.split()
    assert Path(folder).is_relative_to(site) and Path(completions).is_relative_to(site)
    assert int(count) == len(list((REPO / "profiles").glob("*.yaml")))


def test_the_engine_never_imports_or_starts_the_command_line_package() -> None:
    """rlswarm_core is a library: no module of it names rlswarm_cli, neither in an import nor in a
    command line it starts (a supervisor or service runs ``python -m rlswarm_core.…``)."""
    core = Path(__file__).resolve().parent.parent / "rlswarm_core"
    naming = [str(p.relative_to(core)) for p in core.rglob("*.py") if "rlswarm_cli" in p.read_text()]
    assert naming == []
