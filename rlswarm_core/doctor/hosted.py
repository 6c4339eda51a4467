"""The doctor's look at the swarm a node joins with ``--swarm``: is anyone still serving it?"""

from __future__ import annotations

from rlswarm_core.doctor.context import DoctorContext
from rlswarm_core.doctor.result import ERROR, OK, WARNING, CheckResult
from rlswarm_core.errors import RlswarmError


def check_swarm(ctx: DoctorContext) -> CheckResult:
    if not ctx.swarm:
        return CheckResult("swarm", OK, "no swarm file given (--swarm)", "", {"configured": False})
    from rlswarm_core.hosting.status import swarm_status
    from rlswarm_core.hosting.swarmfile import read_swarm_source

    try:
        swarm = read_swarm_source(ctx.swarm)
        status = swarm_status(swarm, quiet_s=ctx.settings.swarm_stopped_after_s, rounds=1)
    except RlswarmError as exc:
        return CheckResult("swarm", ERROR, exc.message, exc.hint or "", {"configured": True})
    reachable = sum(b.reachable for b in status.bootnodes)
    details = {
        "configured": True,
        "swarm": swarm.name,
        "round": status.round,
        "stage": status.stage,
        "bootnodes": len(status.bootnodes),
        "bootnodes_reachable": reachable,
        "looks_stopped": status.looks_stopped,
    }
    if status.looks_stopped:
        return CheckResult(
            "swarm",
            WARNING,
            f"this swarm looks stopped: {swarm.name} shows no round progress and no bootnode answers "
            f"for {status.quiet_s:.0f} s",
            "ask its host to run `rlswarm swarm serve`, or join another swarm",
            details,
        )
    clock = f"round {status.round} stage {status.stage}, " if status.round is not None else ""
    return CheckResult(
        "swarm",
        OK,
        f"{swarm.name}: {clock}{reachable} of {len(status.bootnodes)} bootnode(s) reachable",
        "",
        details,
    )
