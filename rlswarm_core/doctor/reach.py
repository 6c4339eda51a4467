"""Can peers dial this node? With ``--probe`` or ``--swarm``, a short-lived DHT node on the configured
port asks a bootnode to dial it back (see :mod:`rlswarm_core.swarm.reachability`).

The only check that starts the node's own stack: hivemind is imported inside it, and only when asked,
so a plain ``doctor`` stays light.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from rlswarm_core.doctor.context import DoctorContext
from rlswarm_core.doctor.result import OK, WARNING, CheckResult
from rlswarm_core.errors import RlswarmError

NAME = "reachability"
# the throwaway node only needs to reach one bootnode: one attempt, a short start
STARTUP_TIMEOUT_S = 10.0


def check_reachability(ctx: DoctorContext) -> CheckResult:
    if not (ctx.probe or ctx.swarm):
        return _skipped("add --probe to ask a bootnode to dial this node back", configured=False)
    if not ctx.online:
        return _skipped("offline (--offline)", configured=False)
    try:
        settings, bootnodes = _target(ctx)
    except RlswarmError as exc:
        return CheckResult(NAME, WARNING, f"not checked: {exc.message}", exc.hint or "", {"checked": False})
    if not bootnodes:
        return _skipped("no bootnode to ask (this node starts a swarm)")
    if settings.dht_client_mode:
        return _skipped("client mode: peers never dial this node")
    return _dial_back(settings, bootnodes)


def _skipped(why: str, configured: bool = True) -> CheckResult:
    return CheckResult(NAME, OK, f"not checked: {why}", "", {"checked": False, "configured": configured})


def _target(ctx: DoctorContext) -> tuple[Any, list[str]]:
    """The settings ``join`` would use (with the swarm file's layer) and the bootnodes it would join."""
    settings = ctx.settings
    if not ctx.swarm:
        return settings, list(settings.initial_peers)
    from rlswarm_core.hosting.swarmfile import read_swarm_source, settings_layer
    from rlswarm_core.settings.resolve import resolve_node_settings

    swarm = read_swarm_source(ctx.swarm)
    layer = settings_layer(swarm)
    settings = resolve_node_settings(environ=ctx.environ, paths=ctx.paths, swarm=layer).settings
    bootnodes = list(settings.initial_peers)
    if not bootnodes and swarm.chain is not None and swarm.chain.contract:
        from rlswarm_core.chain.reader import CoordinatorReader

        chain = swarm.chain
        reader = CoordinatorReader(chain.rpc_url, chain.contract, chain.chain_id)
        bootnodes = [b for b in reader.bootnodes() if b]
    return settings, bootnodes


def _dial_back(settings: Any, bootnodes: list[str]) -> CheckResult:
    from rlswarm_core.identity.keys import create_identity
    from rlswarm_core.swarm.dht import DHTOptions, start_node
    from rlswarm_core.swarm.dht_process import route_hivemind_logs
    from rlswarm_core.swarm.reachability import check_reachability

    details: dict[str, Any] = {"checked": True, "bootnodes": bootnodes, "port": settings.dht_port}
    # a throwaway identity: the node's own may be in use by a running node, and the peer id does not
    # change what a dial to this machine's port finds
    with tempfile.TemporaryDirectory(prefix="rlswarm-doctor-") as scratch:
        options = DHTOptions(
            identity_path=create_identity(Path(scratch) / "probe.pem").path,
            host=settings.host,
            port=settings.dht_port,
            announce_maddrs=tuple(settings.announce_maddrs),
            initial_peers=tuple(bootnodes),
            startup_timeout=STARTUP_TIMEOUT_S,
            bootstrap_attempts=1,
            log_path=Path(scratch) / "dht.log",  # hivemind's chatter, never on the doctor's terminal
        )
        try:
            node = start_node(options)
        except RlswarmError as exc:
            if "already in use" in exc.message:  # a node runs here: it checks itself when it joins
                return _skipped(f"TCP {settings.dht_port} is in use (a running node reports this in its log)")
            return CheckResult(NAME, WARNING, f"not checked: {exc.message}", exc.hint or "", details)
        else:
            try:
                result = check_reachability(node, bootnodes)
            finally:
                node.shutdown()
        finally:
            route_hivemind_logs(None)  # start_node sent them to the scratch folder, gone after this
    details.update(
        reachable=result.reachable,
        asked=result.asked,
        address=result.address,
        tried=list(result.tried),
        observed=result.observed,
        reason=result.reason,
    )
    if result.reachable is None:
        return CheckResult(NAME, OK, f"not checked: {result.summary}", "", details)
    if result.reachable and not result.fix:
        return CheckResult(NAME, OK, result.summary, "", details)
    return CheckResult(NAME, WARNING, result.summary, result.fix, details)
