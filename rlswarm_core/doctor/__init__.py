"""``rlswarm doctor``: ranked checks of this machine's setup, each with a way to fix what it finds.

Checks never import the heavy stack (torch, transformers, trl, hivemind, web3); the optional
accelerator probe is the one exception and runs only when asked for.
"""

from __future__ import annotations

from rlswarm_core.doctor.context import DoctorContext, build_context
from rlswarm_core.doctor.result import ERROR, OK, WARNING, CheckResult, rank
from rlswarm_core.doctor.runner import CHECKS, report, run_check, run_checks


def diagnose(
    *,
    online: bool = True,
    probe: bool = False,
    rpc_url: str | None = None,
    swarm: str | None = None,
    ctx: DoctorContext | None = None,
) -> list[CheckResult]:
    """Run every check for this installation; results come ranked error > warning > ok."""
    return run_checks(ctx or build_context(online=online, probe=probe, rpc_url=rpc_url, swarm=swarm))


__all__ = [
    "CHECKS",
    "ERROR",
    "OK",
    "WARNING",
    "CheckResult",
    "DoctorContext",
    "build_context",
    "diagnose",
    "rank",
    "report",
    "run_check",
    "run_checks",
]
