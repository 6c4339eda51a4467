"""The list of checks, run side by side, each one unable to take the others down."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rlswarm_core.doctor import hosted, identities, network, p2pd, reach, secrets_checks, system, wallets
from rlswarm_core.doctor.context import DoctorContext
from rlswarm_core.doctor.result import ERROR, WARNING, CheckResult, rank
from rlswarm_core.secrets.redact import redact

Check = Callable[[DoctorContext], CheckResult]

# (name, check): the name labels the failure if the check itself crashes.
CHECKS: tuple[tuple[str, Check], ...] = (
    ("python", lambda ctx: system.check_python()),
    ("packages", lambda ctx: system.check_packages()),
    ("config", system.check_config),
    ("accelerator", system.check_accelerator),
    ("disk", lambda ctx: system.check_disk(ctx.paths.data)),
    ("dht-ports", lambda ctx: network.check_ports(ctx.settings.host, ctx.settings.dht_port)),
    ("keyring", secrets_checks.check_keyring),
    ("identities", lambda ctx: identities.check_identities(ctx.paths.identities)),
    ("hf-token", secrets_checks.check_hf_token),
    ("chain-rpc", lambda ctx: network.check_rpc(ctx.rpc_url, ctx.net_timeout)),
    (
        "bootstrap-peers",
        lambda ctx: network.check_bootstrap(list(ctx.settings.initial_peers), ctx.net_timeout),
    ),
    ("p2pd", lambda ctx: p2pd.check_p2pd()),
    ("shared-wallet", wallets.check_shared_wallets),
    ("swarm", hosted.check_swarm),
)
# run after the others: they start a node on the DHT port, which the port check must find free
LATE_CHECKS: tuple[tuple[str, Check], ...] = (("reachability", reach.check_reachability),)

MAX_WORKERS = 8


def run_check(name: str, check: Check, ctx: DoctorContext) -> CheckResult:
    """One check; if the check itself breaks, that becomes its result instead of a traceback."""
    try:
        result = check(ctx)
    except Exception as exc:
        text = redact(str(exc)).strip().splitlines()
        reason = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
        return CheckResult(
            name,
            ERROR,
            f"the check itself failed ({reason})",
            "rerun with --debug and report it if it persists",
            {"exception": type(exc).__name__},
        )
    if not isinstance(result, CheckResult):
        return CheckResult(name, ERROR, f"the check itself failed (returned {type(result).__name__})", "", {})
    return result


def run_checks(
    ctx: DoctorContext,
    checks: tuple[tuple[str, Check], ...] = CHECKS,
    late: tuple[tuple[str, Check], ...] = LATE_CHECKS,
) -> list[CheckResult]:
    """Every check, concurrently (most wait on sockets, subprocesses or disks), then the ``late`` ones
    one by one; ranked worst first."""
    with ThreadPoolExecutor(
        max_workers=min(MAX_WORKERS, len(checks)) or 1, thread_name_prefix="doctor"
    ) as pool:
        futures = [pool.submit(run_check, name, check, ctx) for name, check in checks]
        results = [f.result() for f in futures]
    results += [run_check(name, check, ctx) for name, check in late]
    return rank(results)


def report(results: list[CheckResult]) -> dict[str, Any]:
    """The ``--json`` document: overall verdict, counts, and every check worst first."""
    errors = sum(r.status == ERROR for r in results)
    warnings = sum(r.status == WARNING for r in results)
    return {
        "ok": errors == 0,
        "errors": errors,
        "warnings": warnings,
        "checks": [r.to_dict() for r in rank(results)],
    }
