"""What machine are we on, and which profile fits it.

Detection avoids importing torch: ``nvidia-smi`` reports CUDA GPUs, the platform reports Apple
silicon, psutil reports memory and cores. :func:`probe_torch` confirms what torch itself sees and is
only called when the operator asks for it (``doctor --probe``) or when training starts.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from rlswarm_core.settings.profiles import Profile

GIB = 1024**3


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_gb: float
    # CUDA compute capability (8.0 and up computes in bfloat16); None when nvidia-smi does not say
    compute_capability: float | None = None


@dataclass(frozen=True)
class Hardware:
    accelerator: str  # "cuda" | "mps" | "cpu"
    system: str
    machine: str
    chip: str
    cpu_cores_logical: int
    cpu_cores_physical: int
    memory_gb: float
    memory_available_gb: float
    gpus: tuple[Gpu, ...] = field(default_factory=tuple)

    @property
    def accelerator_memory_gb(self) -> float:
        """Memory the model lives in: the largest GPU on CUDA, unified memory on Apple silicon."""
        if self.accelerator == "cuda" and self.gpus:
            return max(g.memory_gb for g in self.gpus)
        return self.memory_gb

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["gpus"] = [asdict(g) for g in self.gpus]
        data["accelerator_memory_gb"] = round(self.accelerator_memory_gb, 1)
        return data


def _run(cmd: list[str], timeout: float = 5.0) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def detect_nvidia_gpus() -> tuple[Gpu, ...]:
    out = _run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"])
    if not out:
        return ()
    gpus = []
    for line in out.strip().splitlines():
        name, _, mem = line.rpartition(",")
        try:
            gpus.append(Gpu(name=name.strip(), memory_gb=round(float(mem) / 1024, 1)))
        except ValueError:
            continue
    # asked separately: drivers older than 510 do not know this field and would fail the whole query
    caps = (_run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"]) or "").split()
    if len(caps) == len(gpus):
        gpus = [replace(g, compute_capability=_float_or_none(c)) for g, c in zip(gpus, caps, strict=True)]
    return tuple(gpus)


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _chip_name() -> str:
    if sys.platform == "darwin":
        out = _run(["sysctl", "-n", "machdep.cpu.brand_string"])
        if out:
            return out.strip()
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if line.lower().startswith("model name"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
    return platform.processor() or platform.machine()


def detect() -> Hardware:
    import psutil

    gpus = detect_nvidia_gpus()
    is_apple_silicon = sys.platform == "darwin" and platform.machine() == "arm64"
    accelerator = "cuda" if gpus else ("mps" if is_apple_silicon else "cpu")
    memory = psutil.virtual_memory()
    logical = os.cpu_count() or 1
    return Hardware(
        accelerator=accelerator,
        system=platform.system(),
        machine=platform.machine(),
        chip=_chip_name(),
        cpu_cores_logical=logical,
        cpu_cores_physical=psutil.cpu_count(logical=False) or logical,
        memory_gb=round(memory.total / GIB, 1),
        memory_available_gb=round(memory.available / GIB, 1),
        gpus=gpus,
    )


def gpu_paths(hw: Hardware) -> list[dict[str, Any]]:
    """Which GPU code paths (bf16, vLLM, 4-bit, several GPUs per node) this machine can use, decided
    by the same functions the node uses (no torch import)."""
    from rlswarm_core.training.device import capabilities_from_hardware, gpu_paths

    caps = capabilities_from_hardware(
        hw.accelerator, [g.memory_gb for g in hw.gpus], [g.compute_capability for g in hw.gpus]
    )
    return [asdict(path) for path in gpu_paths(caps)]


def describe_gpu_paths(paths: list[dict[str, Any]]) -> str:
    """One line: ``bf16 yes, vllm no (pip install ...), ...``, or ``none (no CUDA GPU)``."""
    if paths and not any(p["usable"] for p in paths) and len({p["detail"] for p in paths}) == 1:
        return f"none ({paths[0]['detail']})"
    return ", ".join(f"{p['name']} yes" if p["usable"] else f"{p['name']} no ({p['detail']})" for p in paths)


def profile_fits(profile: Profile, hw: Hardware) -> bool:
    match = profile.match
    if match is None or match.accelerator != hw.accelerator:
        return False
    memory = hw.accelerator_memory_gb
    if memory < match.min_memory_gb:
        return False
    if match.max_memory_gb is not None and memory >= match.max_memory_gb:
        return False
    return not (match.chip and match.chip.lower() not in hw.chip.lower())


def recommend(profiles: list[Profile], hw: Hardware) -> Profile | None:
    """The fitting profile with the highest priority, then the largest memory floor."""
    fitting = [p for p in profiles if profile_fits(p, hw)]
    if not fitting:
        fallback = [p for p in profiles if p.name == "cpu"]
        return fallback[0] if fallback else None
    return max(fitting, key=lambda p: (p.match.priority, p.match.min_memory_gb))  # type: ignore[union-attr]


def probe_torch() -> dict[str, Any]:
    """Ask torch what it sees. Imports torch: call only where training or an explicit probe needs it."""
    try:
        import torch
    except ImportError:
        return {"torch": None, "cuda": False, "mps": False, "error": "torch is not installed"}
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    cuda = bool(torch.cuda.is_available())
    info: dict[str, Any] = {"torch": torch.__version__, "cuda": cuda, "mps": mps}
    if cuda:
        info["cuda_devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["bf16"] = bool(torch.cuda.is_bf16_supported())
    return info
