"""``rlswarm dashboard``: a local, read-only web page over every instance, with charts and a JSON API."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from rlswarm_cli.app import output
from rlswarm_cli.options import ContractOpt, JsonOpt, RpcUrlOpt

TOKEN_ENV = "RLSWARM_DASHBOARD_TOKEN"


def dashboard(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", help="Port to serve on (0 picks a free one).")] = 8640,
    host: Annotated[
        str,
        typer.Option(
            "--host", help=f"Address to bind; anything but loopback requires a token ({TOKEN_ENV})."
        ),
    ] = "127.0.0.1",
    interval: Annotated[float, typer.Option("--interval", help="Seconds between refreshes.")] = 2.0,
    leaderboard: Annotated[
        str, typer.Option("--leaderboard", help="Leaderboard source: dht (as the nodes read it) or chain.")
    ] = "dht",
    network: Annotated[
        str | None, typer.Option("--network", help="With --leaderboard chain: local, devnet or testnet.")
    ] = None,
    rpc_url: RpcUrlOpt = None,
    contract: ContractOpt = None,
    stale_rounds: Annotated[
        int,
        typer.Option("--stale-rounds", help="Warn when a running node earned nothing in this many rounds."),
    ] = 3,
    json_flag: JsonOpt = False,
) -> None:
    """Serve a live dashboard of the local instances until Ctrl-C (http://127.0.0.1:8640/ by default)."""
    from rlswarm_core.dashboard.collector import DashboardOptions
    from rlswarm_core.dashboard.leaderboard import ChainTarget
    from rlswarm_core.dashboard.server import DashboardServer, is_loopback

    out = output(ctx, json_flag)
    if not 0 <= port <= 65535:
        raise typer.BadParameter("must be between 0 and 65535", param_hint="--port")
    if interval <= 0:
        raise typer.BadParameter("must be positive", param_hint="--interval")
    if leaderboard not in ("dht", "chain"):
        raise typer.BadParameter("choose dht or chain", param_hint="--leaderboard")
    token = (os.environ.get(TOKEN_ENV) or "").strip() or None
    generated = False
    if token is None and not is_loopback(host):
        import secrets

        token, generated = secrets.token_urlsafe(24), True
    options = DashboardOptions(
        host=host,
        port=port,
        token=token,
        interval_s=interval,
        stale_rounds=stale_rounds,
        leaderboard=leaderboard,
        chain=ChainTarget(network=network, rpc_url=rpc_url, contract=contract),
    )
    server = DashboardServer(options)

    def ready(srv: Any) -> None:
        data = {"url": srv.url, "host": host, "port": srv.port, "token_required": token is not None}
        # a generated token is the operator's own, printed once to their terminal like a notebook server's
        link = f"{srv.url}?token={token}" if generated else srv.url
        out.emit(
            {**data, "link": link},
            f"dashboard at {link}",
        )
        if token is not None and not generated:
            out.info(f"open {srv.url}?token=<the token in {TOKEN_ENV}> once; the page remembers it")
        out.info("read-only; Ctrl-C to stop")

    server.serve_forever(ready)
    out.info("dashboard stopped")
