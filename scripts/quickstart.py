#!/usr/bin/env python3
"""Install rlswarm from this checkout with the right torch for the machine, then start a local node.

Needs nothing but Python 3.10+ (standard library only):

    python3 scripts/quickstart.py              # install, then train 2 rounds of the offline local-tiny node
    python3 scripts/quickstart.py --no-join    # install only

It creates a virtual environment in rlswarm's data folder, installs torch from the build that fits the
machine (the CPU build on Linux without an NVIDIA driver, the default build with one and on macOS),
then this project, and links ``rlswarm`` into ``~/.local/bin``. Rerunning it updates the install and
trains again. ``RLSWARM_TORCH_INDEX`` picks the torch source by hand: a package index URL, or ``pip``
to use pip's own configuration (a mirror or wheel folder set up for pip).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
import venv
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TORCH_VERSION = "2.13.0"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
MIN_PYTHON = (3, 10)


@dataclass(frozen=True)
class TorchSource:
    """Where torch comes from: ``index`` None means pip's own configuration (PyPI by default)."""

    index: str | None
    reason: str


def has_nvidia_driver() -> bool:
    return shutil.which("nvidia-smi") is not None or Path("/proc/driver/nvidia/version").exists()


def choose_torch_source(system: str, nvidia: bool, override: str | None) -> TorchSource:
    """The torch build for this machine. PyPI's Linux wheel carries CUDA (several GB of nvidia-* wheels),
    useless without an NVIDIA driver, so such machines get the CPU build; macOS wheels have MPS built in."""
    if override:
        if override == "pip":
            return TorchSource(None, "RLSWARM_TORCH_INDEX=pip: pip's own configuration")
        return TorchSource(override, "RLSWARM_TORCH_INDEX")
    if system == "Darwin":
        return TorchSource(None, "macOS: the default build (MPS included)")
    if nvidia:
        return TorchSource(None, "NVIDIA driver found: the default CUDA build")
    return TorchSource(CPU_INDEX, "no NVIDIA driver: the CPU build")


def default_venv() -> Path:
    if os.environ.get("RLSWARM_VENV"):
        return Path(os.environ["RLSWARM_VENV"]).expanduser()
    if platform.system() == "Darwin":
        return Path.home() / "Library" / "Application Support" / "rlswarm" / "venv"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "rlswarm" / "venv"


def folder_size_mb(path: Path) -> float:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total / 1e6


def pip(venv_dir: Path, *args: str) -> None:
    python = venv_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", *args], check=True)


def install(venv_dir: Path, source: TorchSource) -> Path:
    if not (venv_dir / "bin" / "python").exists():
        print(f"== creating {venv_dir}", flush=True)
        venv_dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    print(f"== installing torch {TORCH_VERSION} ({source.reason})", flush=True)
    index_args = ["--index-url", source.index] if source.index else []
    pip(venv_dir, *index_args, f"torch=={TORCH_VERSION}")
    print("== installing rlswarm", flush=True)
    pip(venv_dir, str(REPO))
    rlswarm = venv_dir / "bin" / "rlswarm"
    link = Path.home() / ".local" / "bin" / "rlswarm"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(rlswarm)
    if str(link.parent) not in os.environ.get("PATH", "").split(os.pathsep):
        print(f"note: add {link.parent} to PATH to run `rlswarm` from anywhere", flush=True)
    return rlswarm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-join", action="store_true", help="install only, do not start a node")
    parser.add_argument("--rounds", type=int, default=2, help="rounds the first node trains (default 2)")
    parser.add_argument("--venv", type=Path, default=None, help="virtual environment to install into")
    args = parser.parse_args(argv)
    if sys.version_info < MIN_PYTHON:
        print(f"error: rlswarm needs Python 3.10 or newer (this is {platform.python_version()})")
        return 1
    venv_dir = (args.venv or default_venv()).expanduser().resolve()
    source = choose_torch_source(
        platform.system(), has_nvidia_driver(), os.environ.get("RLSWARM_TORCH_INDEX")
    )
    started = time.monotonic()
    try:
        rlswarm = install(venv_dir, source)
    except subprocess.CalledProcessError as exc:
        print(f"error: installing failed ({' '.join(exc.cmd[3:5])}…); see pip's message above")
        return 1
    took, size = time.monotonic() - started, folder_size_mb(venv_dir)
    print(f"== installed in {took:.0f} s, {size:.0f} MB in {venv_dir}", flush=True)
    if args.no_join:
        return 0
    command = [str(rlswarm), "join", "--profile", "local-tiny", "--rounds", str(args.rounds)]
    print("== " + " ".join(["rlswarm", *command[1:]]), flush=True)
    return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main())
