"""Adding, starting and removing instances: the rules behind ``rlswarm instances``.

Adding checks the machine's capacity (refused unless forced), hands out free DHT ports, thread and memory
budgets and GPUs, and assigns roles: in a private swarm the first instance is the coordinator and the
others follow it on loopback; with configured bootstrap peers every instance follows the public swarm.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rlswarm_core.instances import registry
from rlswarm_core.instances.planner import CapacityError, Plan
from rlswarm_core.instances.registry import InstanceError, InstanceRecord
from rlswarm_core.system.hardware import Hardware

Warn = Callable[[str], None]


@dataclass(frozen=True)
class MachineProfile:
    """A profile's values on this machine, the machine itself, and the configured bootstrap peers."""

    name: str
    values: dict[str, Any]
    hardware: Hardware
    bootstrap: list[str]


@dataclass
class Added:
    created: list[InstanceRecord]
    plan: Plan
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"created": [r.describe() for r in self.created], "plan": self.plan.to_dict()}


def machine_profile(profile: str | None) -> MachineProfile:
    """``profile`` (default: the configured or recommended one) as it applies to this machine."""
    from rlswarm_core.settings import profiles
    from rlswarm_core.settings.resolve import resolve_node_settings
    from rlswarm_core.system import hardware

    hw = hardware.detect()
    resolved = resolve_node_settings({"profile": profile}, memory_gb=hw.accelerator_memory_gb)
    name = resolved.settings.profile
    values = profiles.get_profile(name).values_for(hw.accelerator_memory_gb)
    return MachineProfile(name, values, hw, list(resolved.settings.initial_peers))


def plan_for(profile: str | None, count: int | None = None) -> tuple[MachineProfile, Plan]:
    """The plan for ``count`` instances of ``profile`` (default: as many as the machine holds well)."""
    from rlswarm_core.instances import planner

    machine = machine_profile(profile)
    n = count or planner.recommend(machine.hardware, machine.values)
    return machine, planner.plan(machine.hardware, machine.values, n)


def add_instances(
    *,
    profile: str | None = None,
    count: int = 1,
    gpu: int | None = None,
    port: int | None = None,
    host: str | None = None,
    name: str | None = None,
    force: bool = False,
) -> Added:
    from rlswarm_core.instances import planner

    if name is not None and count != 1:
        raise InstanceError("--name names one instance", "leave --name out when adding several with --count")
    machine = machine_profile(profile)
    existing = registry.list_records()
    plan = planner.plan(machine.hardware, machine.values, count, existing=len(existing), gpu=gpu)
    if not plan.fits and not force:
        raise CapacityError(plan.warnings[0], "add fewer instances, or pass --force to add them anyway")
    names = [registry.check_name(name)] if name else registry.next_names(count, {r.name for r in existing})
    ports = planner.allocate_ports(count, [r.port for r in existing], start=port)
    coordinator = next((r for r in existing if r.role == "coordinator"), None)
    public_swarm = bool(machine.bootstrap)
    created = []
    for index, (inst, inst_port) in enumerate(zip(names, ports, strict=True)):
        record = registry.create(
            inst,
            profile=machine.name,
            port=inst_port,
            threads=plan.threads,
            memory_budget_gb=plan.memory_budget_gb,
            gpu=plan.gpus[index],
            host=host,
            coordinator=None if public_swarm else coordinator,
        )
        if public_swarm:
            # the swarm's bootstrap peers come from the config; every instance is a follower
            record.role = "follower"
            registry.save(record)
        elif coordinator is None:
            coordinator = record
        created.append(record)
    return Added(created, plan, list(plan.warnings))


def resolve_names(names: list[str] | None) -> list[str]:
    """The instances named (each must exist), or every instance when none is named."""
    if names:
        return [registry.load(n).name for n in names]
    found = [r.name for r in registry.list_records()]
    if not found:
        raise InstanceError("no instances yet", "create some with 'rlswarm instances add --count N'")
    return found


def _pids(live: Any) -> dict[str, int | None]:
    return {
        "supervisor_pid": live.supervisor.pid if live.supervisor else None,
        "pid": live.child.pid if live.child else None,
    }


def start_instances(names: list[str], warn: Warn) -> list[dict[str, Any]]:
    """Start supervised instances, coordinators first: their followers bootstrap from them."""
    from rlswarm_core.instances import supervisor

    records = {n: registry.load(n) for n in names}
    ordered = sorted(names, key=lambda n: records[n].role != "coordinator")
    followed = {r.coordinator_peer_id for r in records.values() if r.coordinator_peer_id}
    started = []
    for name in ordered:
        since = time.time()
        live = supervisor.start(name)
        if records[name].peer_id in followed and not supervisor.wait_joined(name, since):
            warn(f"{name} has not joined its swarm yet; its followers will retry until it does")
        started.append({"name": name, **_pids(live)})
    return started


def stop_instances(names: list[str], timeout_s: float, warn: Warn) -> list[dict[str, Any]]:
    from rlswarm_core.instances import supervisor

    done = supervisor.stop_many(names, timeout_s=timeout_s, on_escalate=warn)
    return [{"name": name, "stopped": was} for name, was in done.items()]


def restart_instances(names: list[str], timeout_s: float, warn: Warn) -> list[dict[str, Any]]:
    from rlswarm_core.instances import supervisor

    supervisor.stop_many(names, timeout_s=timeout_s, on_escalate=warn)
    return [{"name": name, "pid": _pids(supervisor.start(name))["pid"]} for name in names]


def remove_instance(name: str, *, delete_identity: bool = False) -> None:
    """Delete a stopped instance; its identity (its history) stays unless asked."""
    from rlswarm_core.instances.state import liveness

    registry.load(name)
    if liveness(name).running:
        raise InstanceError(f"instance {name!r} is running", f"stop it first: rlswarm instances stop {name}")
    registry.remove(name, keep_identity=not delete_identity)
