"""How many instances fit this machine, the ports they get, and each one's thread and memory budget.

The arithmetic is kept apart from detection so that it can be checked for any machine: ``plan()`` takes a
:class:`~rlswarm_core.system.hardware.Hardware` and the profile's settings.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from rlswarm_core.errors import RlswarmError
from rlswarm_core.settings.model import DEFAULT_DHT_PORT
from rlswarm_core.system.hardware import Hardware

# what a node needs beyond its model budget: the DHT daemon, the interpreter and libraries
OVERHEAD_GB = 0.75
# memory left to the operating system and everything else
RESERVE_FRACTION = 0.1
DEFAULT_MODEL_BUDGET_GB = 4.0
MAX_PORT_PROBES = 200


class CapacityError(RlswarmError):
    """The machine cannot hold the instances asked for."""


@dataclass
class Plan:
    count: int
    threads: int
    memory_budget_gb: float
    memory_needed_gb: float
    memory_usable_gb: float
    cores: int
    recommended: int
    gpus: list[int | None] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fits: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def port_is_free(port: int, host: str = "0.0.0.0") -> bool:
    """Whether a TCP listener could bind ``port`` now (what the DHT daemon will do)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def allocate_ports(count: int, taken: Iterable[int], start: int | None = None) -> list[int]:
    """``count`` ports from ``start`` (38331) upwards, skipping ports other instances own or that are busy."""
    owned = set(taken)
    port = start or DEFAULT_DHT_PORT
    found: list[int] = []
    probes = 0
    while len(found) < count:
        if port > 65535 or probes > MAX_PORT_PROBES:
            raise CapacityError(
                f"no {count} free ports from {start or DEFAULT_DHT_PORT} upwards",
                "free some ports or pass --port with another starting port",
            )
        if port not in owned and port_is_free(port):
            found.append(port)
        port += 1
        probes += 1
    return found


def per_instance_memory_gb(profile_values: dict[str, Any]) -> float:
    budget = profile_values.get("memory_budget_gb")
    return float(budget) if budget else DEFAULT_MODEL_BUDGET_GB


def recommend(hw: Hardware, profile_values: dict[str, Any]) -> int:
    """Instances this machine can run well: one per GPU on CUDA, else bounded by cores and memory."""
    need = per_instance_memory_gb(profile_values) + OVERHEAD_GB
    usable = hw.memory_gb * (1 - RESERVE_FRACTION)
    by_memory = int(usable // need)
    if hw.accelerator == "cuda" and hw.gpus:
        per_gpu = max(1, int(min(g.memory_gb for g in hw.gpus) // per_instance_memory_gb(profile_values)))
        return max(1, min(by_memory, len(hw.gpus) * per_gpu))
    min_threads = int(profile_values.get("threads") or 1)
    by_cores = hw.cpu_cores_logical // max(1, min_threads)
    return max(1, min(by_memory, by_cores))


def plan(
    hw: Hardware,
    profile_values: dict[str, Any],
    count: int,
    *,
    existing: int = 0,
    gpu: int | None = None,
) -> Plan:
    """Budgets for ``count`` new instances beside ``existing`` ones; ``fits`` is False if memory is short."""
    if count < 1:
        raise CapacityError("--count must be at least 1")
    total = count + existing
    model_gb = per_instance_memory_gb(profile_values)
    need_each = model_gb + OVERHEAD_GB
    usable = round(hw.memory_gb * (1 - RESERVE_FRACTION), 1)
    needed = round(need_each * total, 1)
    cores = hw.cpu_cores_logical
    threads = max(1, cores // total)
    recommended = recommend(hw, profile_values)
    result = Plan(
        count=count,
        threads=threads,
        memory_budget_gb=model_gb,
        memory_needed_gb=needed,
        memory_usable_gb=usable,
        cores=cores,
        recommended=recommended,
    )
    if hw.accelerator == "cuda" and hw.gpus:
        if gpu is not None and not 0 <= gpu < len(hw.gpus):
            raise CapacityError(f"there is no GPU {gpu}", f"this machine has GPUs 0..{len(hw.gpus) - 1}")
        result.gpus = [gpu if gpu is not None else (existing + i) % len(hw.gpus) for i in range(count)]
    else:
        if gpu is not None:
            raise CapacityError(
                f"--gpu {gpu} given but no CUDA GPU was found", "leave --gpu out on this machine"
            )
        result.gpus = [None] * count
    if needed > usable:
        result.fits = False
        result.warnings.append(
            f"{total} instance(s) need about {needed} GB ({need_each:.2f} GB each) but this machine has "
            f"{usable} GB usable of {hw.memory_gb} GB; at most {max(0, int(usable // need_each))} fit"
        )
    elif needed > hw.memory_available_gb:
        result.warnings.append(
            f"{total} instance(s) need about {needed} GB but only {hw.memory_available_gb} GB is free now"
        )
    if total > cores:
        result.warnings.append(
            f"{total} instance(s) on {cores} core(s): each gets 1 thread and they will slow each other down"
        )
    if total > recommended and result.fits:
        result.warnings.append(f"{recommended} instance(s) is the recommended number for this machine")
    return result
