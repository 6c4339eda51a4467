"""The README's first command on a fresh machine: no pipx, no virtual environment, an empty HOME."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

SCRIPT = REPO / "scripts" / "quickstart.py"


def _quickstart_module():
    spec = importlib.util.spec_from_file_location("quickstart", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # a dataclass resolves its string annotations through its module in sys.modules
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_torch_source_follows_the_machine() -> None:
    qs = _quickstart_module()
    assert qs.choose_torch_source("Linux", nvidia=False, override=None).index == qs.CPU_INDEX
    assert qs.choose_torch_source("Linux", nvidia=True, override=None).index is None
    assert qs.choose_torch_source("Darwin", nvidia=False, override=None).index is None
    assert qs.choose_torch_source("Linux", nvidia=False, override="pip").index is None
    assert (
        qs.choose_torch_source("Linux", nvidia=True, override="https://x/simple").index == "https://x/simple"
    )


def test_quickstart_pins_the_torch_that_ci_installs() -> None:
    pinned = re.search(r"^TORCH_VERSION=(\S+)$", (REPO / "scripts" / "test.sh").read_text(), re.M)
    assert pinned is not None
    assert pinned.group(1) == _quickstart_module().TORCH_VERSION


def _fresh_environment(home: Path) -> dict[str, str]:
    """What a new user's shell has: no virtual environment, no rlswarm variables, an empty HOME. Pip's
    machine-wide configuration (the package source CI uses) stays, with the CPU torch build it serves."""
    keep = ("PIP_", "LANG", "LC_", "TMPDIR", "SSL_CERT", "REQUESTS_CA")
    env = {k: v for k, v in os.environ.items() if k.startswith(keep)}
    base_bin = str(Path(sys.base_prefix) / "bin")
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([base_bin, "/usr/local/bin", "/usr/bin", "/bin"]),
        RLSWARM_TORCH_INDEX="pip",
        HF_HUB_OFFLINE="1",
        NO_COLOR="1",
    )
    return env


@pytest.mark.slow
def test_first_command_installs_and_trains_on_a_fresh_machine(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = _fresh_environment(home)
    python = str(Path(sys.base_prefix) / "bin" / "python3")
    command = [python, str(SCRIPT), "--rounds", "1"]

    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    output = first.stdout + first.stderr
    assert re.search(r"\b1 round\(s\)", output), output
    assert "Traceback" not in output

    venv = home / ".local" / "share" / "rlswarm" / "venv"
    assert (home / ".local" / "bin" / "rlswarm").resolve() == (venv / "bin" / "rlswarm").resolve()
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import torch; print(torch.version.cuda)"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert probe.stdout.strip() == "None", "a CPU machine must get the CPU build of torch"
    nvidia = [p.name for p in (venv / "lib").glob("python3*/site-packages/nvidia*")]
    assert nvidia == []

    # Rerunning the same command trains again, from the round the node resumes at.
    again = subprocess.run(
        [str(venv / "bin" / "rlswarm"), "join", "--profile", "local-tiny", "--rounds", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    assert re.search(r"\b1 round\(s\)", again.stdout + again.stderr), again.stderr
