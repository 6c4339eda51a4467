"""``rlswarm rewards``: my rewards per round and stage, totals, wins, rank and a short history."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from rlswarm_cli.app import output
from rlswarm_cli.options import JsonOpt

SOURCES = ("local", "dht", "chain")


def rewards(
    ctx: typer.Context,
    instance: Annotated[
        str | None, typer.Option("--instance", "-i", help="Only this local instance.")
    ] = None,
    peer: Annotated[str | None, typer.Option("--peer", help="Only this peer id.")] = None,
    all_flag: Annotated[bool, typer.Option("--all", help="Every local instance (the default).")] = False,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh in place until Ctrl-C.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between refreshes with --watch.")
    ] = 2.0,
    times: Annotated[
        int | None, typer.Option("--times", help="With --watch: stop after this many refreshes.")
    ] = None,
    source: Annotated[
        str, typer.Option("--source", help="Where to read: local (journals), dht or chain.")
    ] = "local",
    stale_rounds: Annotated[
        int,
        typer.Option("--stale-rounds", help="Warn when a running node earned nothing in this many rounds."),
    ] = 3,
    initial_peer: Annotated[
        list[str] | None, typer.Option("--initial-peer", help="With --source dht: a peer to bootstrap from.")
    ] = None,
    network: Annotated[
        str | None, typer.Option("--network", help="With --source chain: local, devnet or testnet.")
    ] = None,
    rpc_url: Annotated[
        str | None, typer.Option("--rpc-url", help="With --source chain: the RPC URL.")
    ] = None,
    contract: Annotated[
        str | None, typer.Option("--contract", help="With --source chain: the coordinator contract.")
    ] = None,
    coordinator_peer_id: Annotated[
        str | None,
        typer.Option("--coordinator-peer-id", help="With --source dht: trust only this peer's clock."),
    ] = None,
    json_flag: JsonOpt = False,
) -> None:
    """Show rewards for every local instance (or one, or one peer); --watch refreshes in place."""
    out = output(ctx, json_flag)
    if source not in SOURCES:
        raise typer.BadParameter(f"choose one of: {', '.join(SOURCES)}", param_hint="--source")
    if sum(x is not None and x is not False for x in (instance, peer, all_flag or None)) > 1:
        raise typer.BadParameter("give at most one of --instance, --peer and --all", param_hint="--instance")
    if watch and out.json_mode:
        raise typer.BadParameter("--watch refreshes a screen; use --json without it", param_hint="--watch")
    if interval <= 0:
        raise typer.BadParameter("must be positive", param_hint="--interval")

    def fetch() -> dict[str, Any]:
        return _fetch(
            source,
            instance,
            peer,
            stale_rounds,
            initial_peer,
            network,
            rpc_url,
            contract,
            coordinator_peer_id,
        )

    if not watch:
        data = fetch()
        out.emit(data, lambda console: console.print(render(data, source)))
        for warning in data["warnings"]:
            out.warn(warning)
        return
    from rich.live import Live

    refreshes = 0
    with Live(render(fetch(), source), console=out.console, auto_refresh=False, transient=False) as live:
        try:
            while True:
                refreshes += 1
                if times is not None and refreshes >= times:
                    break
                time.sleep(interval)
                live.update(render(fetch(), source), refresh=True)
        except KeyboardInterrupt:
            pass


def _fetch(
    source: str,
    instance: str | None,
    peer: str | None,
    stale_rounds: int,
    initial_peers: list[str] | None,
    network: str | None,
    rpc_url: str | None,
    contract: str | None,
    coordinator_peer_id: str | None = None,
) -> dict[str, Any]:
    from rlswarm_core.rewards import view as rewards_view

    local = rewards_view.local_rewards(instance, None if source != "local" else peer, stale_rounds)
    if source == "local":
        return rewards_view.snapshot(local)
    from rlswarm_core.rewards import remote as rewards_remote

    peers = [peer] if peer else [r.peer_id for r in local if r.peer_id]
    if source == "dht":
        found = rewards_remote.dht_rewards(
            peers,
            initial_peers or rewards_remote.local_bootstrap(),
            coordinator=rewards_remote.pinned_coordinator(coordinator_peer_id),
        )
    else:
        found = rewards_remote.chain_rewards(peers, network=network, rpc_url=rpc_url, contract=contract)
    names = {r.peer_id: r.name for r in local}
    for item in found:
        item.name = names.get(item.peer_id, item.name)
    return rewards_view.snapshot(found)


def render(data: dict[str, Any], source: str) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    nodes = data["nodes"]
    if not nodes:
        return Text(
            "no rewards yet: no local instance has a journal (start one with 'rlswarm instances start')"
        )
    table = Table(box=None, pad_edge=False, title=f"rewards ({source})", title_justify="left")
    for col in ("name", "animal", "r/s", "last", "total", "wins", "votes", "rank", "history"):
        table.add_column(col, no_wrap=col != "animal")
    for node in nodes:
        stages = node["stages"]
        where = "-" if node["round"] is None else f"{node['round']}/{node['stage']}"
        rank = f"{node['rank']}/{node['leaderboard_size']}" if node["rank"] else "-"
        if node.get("flagged"):
            rank += " !"  # the coordinator flagged its claim: ranked by what its outputs earn
        table.add_row(
            node["name"],
            node["animal_name"] or "-",
            where,
            f"{stages[-1]['reward']:.3f}" if stages else "-",
            f"{node['total']:.3f}",
            str(node["wins"]),
            str(node["votes"]),
            rank,
            node["sparkline"] or "-",
        )
    parts: list[Any] = [table, Text(f"total {data['total']:.3f} across {len(nodes)} node(s)")]
    parts += [Text(f"warning: {w}") for w in data["warnings"]]
    parts.append(Text(time.strftime("updated %H:%M:%S", time.localtime(data["at"]))))
    return Group(*parts)
