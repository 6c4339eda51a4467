"""``rlswarm rewards``: my rewards per round and stage, totals, wins, rank and a short history."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rlswarm_cli.app import output
from rlswarm_cli.options import ContractOpt, JsonOpt, OptionalInstanceOpt, RpcUrlOpt

if TYPE_CHECKING:
    from rlswarm_cli.output import Output

SOURCES = ("local", "dht", "chain")


def rewards(
    ctx: typer.Context,
    instance: OptionalInstanceOpt = None,
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
    rpc_url: RpcUrlOpt = None,
    contract: ContractOpt = None,
    coordinator_peer_id: Annotated[
        str | None,
        typer.Option("--coordinator-peer-id", help="With --source dht: trust only this peer's clock."),
    ] = None,
    plot: Annotated[
        bool, typer.Option("--plot", help="Chart one instance's reward per round in the terminal.")
    ] = False,
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

    def show(data: dict[str, Any], with_warnings: bool = False) -> Any:
        if plot:
            from rlswarm_cli.commands.rewards_plot import plot_text

            return plot_text(data)
        return _view(out, data, source, with_warnings)

    if not watch:
        data = fetch()
        out.emit(data, lambda: show(data), plain=True)  # dicts, lists and scalars only: fast to encode
        for warning in data["warnings"]:
            out.warn(warning)
        return
    # the screen is redrawn in place, so its warnings are part of it rather than lines on stderr
    latest = fetch()
    with out.live(lambda: show(latest, with_warnings=True)) as view:
        refreshes = 1
        try:
            while times is None or refreshes < times:
                time.sleep(interval)  # the refresh rate the operator asked for
                latest = fetch()
                view.refresh()
                refreshes += 1
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


def _percent(rate: float | None) -> str | None:
    return None if rate is None else f"{rate:.1%}"


def _view(out: Output, data: dict[str, Any], source: str, with_warnings: bool = False) -> Any:
    from rlswarm_cli.output import Col

    nodes = data["nodes"]
    if not nodes:
        return out.text(
            "no rewards yet: no local instance has a journal (start one with 'rlswarm instances start')"
        )
    # pass@1 only for nodes that train the code family
    with_pass = any(node.get("pass_at_1") is not None for node in nodes)
    columns = ["name", Col("animal", wrap=True), "r/s", "last", "total", "wins", "votes", "rank", "history"]
    columns += ["pass@1"] if with_pass else []
    rows = [
        [
            node["name"],
            node["animal_name"] or None,
            None if node["round"] is None else f"{node['round']}/{node['stage']}",
            f"{node['stages'][-1]['reward']:.3f}" if node["stages"] else None,
            f"{node['total']:.3f}",
            node["wins"],
            node["votes"],
            # "!": the coordinator flagged its claim, so it is ranked by what its outputs earn
            (f"{node['rank']}/{node['leaderboard_size']}" + (" !" if node.get("flagged") else ""))
            if node["rank"]
            else None,
            node["sparkline"] or None,
            *([_percent(node.get("pass_at_1"))] if with_pass else []),
        ]
        for node in nodes
    ]
    return out.group(
        out.table(columns, rows, title=f"rewards ({source})"),
        f"total {data['total']:.3f} across {len(nodes)} node(s)",
        *([f"warning: {w}" for w in data["warnings"]] if with_warnings else []),
        time.strftime("updated %H:%M:%S", time.localtime(data["at"])),
    )
