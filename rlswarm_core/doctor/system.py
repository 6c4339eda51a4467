"""Checks of the interpreter, installed packages, configuration, accelerator, memory and disk.

Package versions come from installed metadata so that the check never imports torch and friends.
"""

from __future__ import annotations

import platform
import shutil
import sys
from pathlib import Path
from typing import Any

from rlswarm_core.doctor.context import DoctorContext
from rlswarm_core.doctor.result import ERROR, OK, WARNING, CheckResult, Status, worst

MIN_PYTHON = (3, 10)
KEY_PACKAGES = ("torch", "transformers", "trl", "hivemind", "web3", "huggingface_hub", "keyring", "typer")
DISTRIBUTION = "rlswarm"

GIB = 1024**3
DISK_WARN_GIB = 20.0
DISK_ERROR_GIB = 5.0


def check_python(version: tuple[int, ...] | None = None) -> CheckResult:
    version = tuple(version or sys.version_info[:3])
    shown = ".".join(str(p) for p in version)
    details = {
        "version": shown,
        "executable": sys.executable,
        "implementation": platform.python_implementation(),
    }
    if version[:2] < MIN_PYTHON:
        need = ".".join(str(p) for p in MIN_PYTHON)
        return CheckResult(
            "python",
            ERROR,
            f"Python {shown} is too old; rlswarm needs {need} or newer",
            f"create the environment with Python {need}+ (e.g. 'python3.11 -m venv .venv')",
            details,
        )
    return CheckResult("python", OK, f"Python {shown}", "", details)


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def declared_requirements() -> dict[str, str]:
    """The version range this distribution declares for each dependency, keyed by normalised name."""
    from importlib import metadata

    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return {}
    try:
        from packaging.requirements import Requirement
    except ImportError:
        return {}
    found: dict[str, str] = {}
    for line in requires:
        try:
            req = Requirement(line)
        except Exception:
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        found[_normalise(req.name)] = str(req.specifier)
    return found


def _satisfies(version: str, spec: str) -> bool | None:
    try:
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version

        return SpecifierSet(spec).contains(Version(version), prereleases=True)
    except Exception:
        return None


def check_packages(packages: tuple[str, ...] = KEY_PACKAGES) -> CheckResult:
    from importlib import metadata

    ranges = declared_requirements()
    versions: dict[str, str | None] = {}
    missing: list[str] = []
    out_of_range: list[str] = []
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
            missing.append(name)
            continue
        spec = ranges.get(_normalise(name), "")
        if spec and _satisfies(versions[name] or "", spec) is False:
            out_of_range.append(name)

    def pip_args(names: list[str]) -> str:
        return " ".join(f'"{n}{ranges.get(_normalise(n), "")}"' for n in names)

    details: dict[str, Any] = {
        "versions": versions,
        "required": {n: ranges.get(_normalise(n), "") for n in packages},
    }
    shown = ", ".join(f"{n} {versions[n]}" for n in packages if versions[n])
    if missing:
        return CheckResult(
            "packages",
            ERROR,
            f"missing: {', '.join(missing)}",
            f"python -m pip install {pip_args(missing)}",
            details,
        )
    if out_of_range:
        parts = ", ".join(f"{n} {versions[n]} (wants {ranges[_normalise(n)]})" for n in out_of_range)
        return CheckResult(
            "packages",
            WARNING,
            f"outside the supported range: {parts}",
            f"python -m pip install {pip_args(out_of_range)}",
            details,
        )
    return CheckResult("packages", OK, shown, "", details)


def check_config(ctx: DoctorContext) -> CheckResult:
    details = {"config_file": str(ctx.paths.config_file), "exists": ctx.paths.config_file.is_file()}
    if ctx.settings_error is not None:
        return CheckResult(
            "config",
            ERROR,
            ctx.settings_error.message,
            ctx.settings_error.hint or f"fix or remove {ctx.paths.config_file}",
            details,
        )
    details["profile"] = ctx.settings.profile
    details["profile_source"] = ctx.settings_source.get("profile", "default")
    where = str(ctx.paths.config_file) if details["exists"] else "no config file, defaults"
    return CheckResult(
        "config", OK, f"settings resolve (profile {ctx.settings.profile}; {where})", "", details
    )


def check_accelerator(ctx: DoctorContext) -> CheckResult:
    from rlswarm_core.settings import profiles
    from rlswarm_core.system import hardware

    hw = hardware.detect()
    recommended = hardware.recommend(profiles.list_profiles(ctx.paths.user_profiles), hw)
    rec_name = recommended.name if recommended else None
    settings = ctx.settings
    paths = hardware.gpu_paths(hw)
    details: dict[str, Any] = {
        "hardware": hw.to_dict(),
        "recommended_profile": rec_name,
        "profile": settings.profile,
        "gpu_paths": paths,
    }
    if hw.accelerator == "cuda":
        gpus = ", ".join(f"{g.name} ({g.memory_gb:g} GiB)" for g in hw.gpus)
        what = f"CUDA: {gpus} (GPU paths: {hardware.describe_gpu_paths(paths)})"
    elif hw.accelerator == "mps":
        what = f"Apple MPS ({hw.chip})"
    else:
        what = f"CPU only ({hw.cpu_cores_logical} cores)"
    summary = (
        f"{what}; {hw.memory_gb:g} GiB RAM, {hw.memory_available_gb:g} GiB free; "
        f"recommended profile {rec_name or 'none'}"
    )
    findings: list[tuple[Status, str, str]] = []

    if settings.device in ("cuda", "mps") and settings.device != hw.accelerator:
        findings.append(
            (
                ERROR,
                f"profile {settings.profile} runs on {settings.device}, which this machine does not have",
                f"rlswarm config set profile {rec_name or 'cpu'}",
            )
        )

    findings.extend(_gpu_path_findings(settings, hw))

    budget = settings.memory_budget_gb
    if budget is not None:
        room = hw.accelerator_memory_gb if hw.accelerator == "cuda" else hw.memory_available_gb
        kind = "GPU memory" if hw.accelerator == "cuda" else "free memory"
        details["memory_budget_gb"] = budget
        if budget > room:
            findings.append(
                (
                    WARNING,
                    f"profile {settings.profile} budgets {budget:g} GiB, only {room:g} GiB {kind} is left",
                    "close other programs, or pick a smaller profile (rlswarm profiles list)",
                )
            )

    if ctx.probe:
        info = hardware.probe_torch()
        details["torch"] = info
        findings.extend(_probe_findings(hw.accelerator, info))

    if recommended is not None and settings.profile != rec_name and not findings:
        summary += f" (configured: {settings.profile})"
    if not findings:
        return CheckResult("accelerator", OK, summary, "", details)
    status = worst([f[0] for f in findings])
    chosen = [f for f in findings if f[0] == status]
    return CheckResult(
        "accelerator",
        status,
        f"{chosen[0][1]}; {summary}",
        "; ".join(dict.fromkeys(f[2] for f in chosen)),
        details,
    )


def _gpu_path_findings(settings: Any, hw: Any) -> list[tuple[Status, str, str]]:
    """What the node would decide about vLLM, 4-bit loading and several GPUs, from the same
    functions, so that doctor warns before a node refuses to start or quietly drops vLLM."""
    from rlswarm_core.errors import ConfigError
    from rlswarm_core.training.device import (
        GPU_EXTRA_HINT,
        capabilities_from_hardware,
        choose_device,
        choose_placement,
        choose_vllm,
    )

    caps = capabilities_from_hardware(
        hw.accelerator, [g.memory_gb for g in hw.gpus], [g.compute_capability for g in hw.gpus]
    )
    try:
        # bfloat16 support is only known when nvidia-smi reports compute capabilities: no warning here
        choice = choose_device(settings.device, "auto", caps)
    except ConfigError:
        return []  # a missing device is already reported above
    found: list[tuple[Status, str, str]] = []
    try:
        choose_placement(choice, settings.quantization, settings.gpus, settings.lora, caps)
    except ConfigError as exc:
        found.append((ERROR, f"profile {settings.profile}: {exc.message}", exc.hint or ""))
    if settings.use_vllm and choice.device == "cuda":
        reason = choose_vllm(True, choice.device, caps, settings.gpus, settings.quantization)
        if reason:
            hint = GPU_EXTRA_HINT if not caps.vllm else "set use_vllm to false to silence this"
            found.append((WARNING, f"use_vllm is set but {reason}", hint))
    return found


def _probe_findings(accelerator: str, info: dict[str, Any]) -> list[tuple[Status, str, str]]:
    if info.get("torch") is None:
        return [(ERROR, "torch cannot be imported", 'python -m pip install "torch"')]
    found: list[tuple[Status, str, str]] = []
    if accelerator == "cuda" and not info.get("cuda"):
        found.append(
            (
                ERROR,
                f"nvidia-smi sees a GPU but torch {info['torch']} has no CUDA",
                "install a CUDA build of torch: python -m pip install torch --index-url "
                "https://download.pytorch.org/whl/cu128",
            )
        )
    if accelerator == "mps" and not info.get("mps"):
        found.append(
            (
                ERROR,
                f"this Mac has Apple silicon but torch {info['torch']} has no MPS",
                "python -m pip install -U torch",
            )
        )
    if accelerator == "cpu" and info.get("cuda"):
        found.append(
            (
                WARNING,
                "torch sees a CUDA device that nvidia-smi did not report",
                "put nvidia-smi on PATH so that rlswarm picks a GPU profile, or set the profile yourself",
            )
        )
    return found


def nearest_existing(path: Path) -> Path:
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(path: Path, warn_gib: float = DISK_WARN_GIB, error_gib: float = DISK_ERROR_GIB) -> CheckResult:
    """Free space where checkpoints go; a data dir that does not exist yet is judged by its parent."""
    where = nearest_existing(path)
    usage = shutil.disk_usage(where)
    free = usage.free / GIB
    details = {
        "path": str(path),
        "checked": str(where),
        "free_gib": round(free, 1),
        "total_gib": round(usage.total / GIB, 1),
        "warn_below_gib": warn_gib,
        "error_below_gib": error_gib,
    }
    summary = f"{free:.1f} GiB free of {usage.total / GIB:.0f} GiB at {where}"
    fix = f"free space on that disk (checkpoints go to {path}), or set RLSWARM_HOME to a larger disk"
    if free < error_gib:
        return CheckResult("disk", ERROR, f"{summary} (needs {error_gib:g} GiB)", fix, details)
    if free < warn_gib:
        return CheckResult("disk", WARNING, f"{summary} (under {warn_gib:g} GiB)", fix, details)
    return CheckResult("disk", OK, summary, "", details)
