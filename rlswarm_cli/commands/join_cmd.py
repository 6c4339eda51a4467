"""``rlswarm join``: run one node in the foreground."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from rlswarm_cli.app import EXIT_INTERRUPTED, output
from rlswarm_cli.options import JsonOpt

Role = Annotated[
    str | None,
    typer.Option(
        "--role",
        help="coordinator (runs the round/stage clock) or follower; default: coordinator when no "
        "--initial-peer is given, else follower.",
    ),
]


def join(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Hardware profile.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model name, folder or builtin:NAME.")] = None,
    max_rounds: Annotated[
        int | None, typer.Option("--max-rounds", help="Stop once the swarm reaches this round.")
    ] = None,
    initial_peer: Annotated[
        list[str] | None, typer.Option("--initial-peer", help="Bootstrap multiaddr (repeatable).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="DHT port (default 38331; 0 picks one).")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address the DHT listens on.")] = None,
    identity: Annotated[
        str | None,
        typer.Option("--identity", help="Identity name (rlswarm identity list); default: the instance name."),
    ] = None,
    role: Role = None,
    coordinator_peer_id: Annotated[
        str | None, typer.Option("--coordinator-peer-id", help="Trust only this peer's round/stage clock.")
    ] = None,
    stage_timeout: Annotated[
        float, typer.Option("--stage-timeout", help="Seconds to wait for peers or the clock per stage.")
    ] = 600.0,
    min_peers: Annotated[
        int, typer.Option("--min-peers", help="Coordinator: wait for this many peers before each stage ends.")
    ] = 1,
    instance: Annotated[str, typer.Option("--instance", help="Instance name (state and logs).")] = "default",
    network: Annotated[
        str | None,
        typer.Option("--network", help="local (DHT clock), devnet or testnet (on-chain coordinator)."),
    ] = None,
    rpc_url: Annotated[str | None, typer.Option("--rpc-url", help="Override the network's RPC URL.")] = None,
    contract: Annotated[
        str | None, typer.Option("--contract", help="Override the coordinator contract address.")
    ] = None,
    json_flag: JsonOpt = False,
) -> None:
    """Run one node in the foreground: join the swarm, train round after round, publish and checkpoint."""
    from rlswarm_cli.commands.identity_cmd import identity_path
    from rlswarm_core.errors import ConfigError
    from rlswarm_core.identity.keys import create_identity
    from rlswarm_core.node.engine import Node, NodeConfig
    from rlswarm_core.node.journal import EventJournal
    from rlswarm_core.settings.model import load_yaml_mapping
    from rlswarm_core.settings.resolve import resolve_node_settings
    from rlswarm_core.swarm.events import EventBus
    from rlswarm_core.system.paths import app_paths

    out = output(ctx, json_flag)
    flags = {
        "profile": profile,
        "model": model,
        "dht_port": port,
        "host": host,
        "initial_peers": initial_peer,
        "network": network,
        "coordinator_peer_id": coordinator_peer_id,
    }
    # An instance created with 'rlswarm instances add' keeps its own settings (port, profile, threads, ...).
    instance_values = load_yaml_mapping(
        app_paths().instances / instance / "settings.yaml", "instance settings"
    )
    settings = resolve_node_settings(flags, instance=instance_values).settings
    if role is None:
        role = "follower" if settings.initial_peers else "coordinator"
    if role not in ("coordinator", "follower"):
        raise ConfigError(f"unknown role {role!r}", "use coordinator or follower")
    identity = identity or instance
    id_path = identity_path(identity)
    if not id_path.exists():
        ident = create_identity(id_path)
        out.info(f"created identity {identity}: {ident.peer_id} ({ident.animal_name}) in {id_path}")

    paths = app_paths().ensure()
    bus = EventBus()
    journal = EventJournal(paths.instances / instance / "events.jsonl")
    bus.subscribe(journal)
    display = _Display(out, paths.logs / f"{instance}.log")
    bus.subscribe(display)
    metrics = None
    if settings.metrics_port is not None:
        from rlswarm_core.node.metrics import serve_metrics

        metrics = serve_metrics(bus, settings.metrics_port, instance=instance)
        out.info(f"metrics on http://127.0.0.1:{metrics.port}/metrics")
    stop = threading.Event()
    cleaned_up = _install_signal_handlers(stop, out)
    from rlswarm_core.chain.link import LoginRequired, connect_chain
    from rlswarm_core.identity.keys import load_identity

    peer_id = load_identity(id_path).peer_id
    try:
        link = connect_chain(settings, peer_id, rpc_url=rpc_url, contract=contract)
    except LoginRequired as missing:
        if not _walk_through_login(ctx, out, missing):
            raise
        link = connect_chain(settings, peer_id, rpc_url=rpc_url, contract=contract)
    if link is not None:
        out.info(f"on-chain coordinator {link.network.contract} on {link.network.name} ({link.mode} mode)")
        for shared in link.shared_wallets(instance):
            out.warn(shared.one_line())
        if role == "coordinator" and not link.is_stage_manager():
            out.info(
                "this account is not the contract's stage manager: rounds advance when the network moves them"
            )
    config = NodeConfig(
        settings=settings,
        identity_path=Path(id_path),
        role=role,  # type: ignore[arg-type]
        coordinator_peer_id=settings.coordinator_peer_id,
        max_rounds=max_rounds,
        stage_timeout_s=stage_timeout,
        instance=instance,
        min_peers=min_peers,
        chain=link.queue if link is not None else None,
        clock_factory=link.clock_factory(role) if link is not None else None,
    )
    node = Node(config, events=bus, paths=paths)
    # The Hub token's write scope is checked now, before any training, not after the first round.
    pusher = _auto_push(node, settings, instance) if settings.push_every_rounds else None
    out.info(f"joining as {role} with profile {settings.profile} ({settings.model}); Ctrl-C stops cleanly")
    try:
        with display:
            summary = node.run(stop)
    finally:
        if pusher is not None:
            pusher.wait_settled(120)
            pusher.stop()
        if link is not None:
            link.close(flush=True)
        if metrics is not None:
            metrics.close()
        journal.close()
        cleaned_up.set()
    if out.json_mode:
        return
    out.success(
        f"stopped ({summary.reason}): {len(summary.rounds_completed)} round(s), "
        f"{summary.stages_trained} stage(s) trained"
    )


def _walk_through_login(ctx: typer.Context, out: Any, missing: Exception) -> bool:
    """On a terminal, a first run that lacks a login is offered one right here, without a browser;
    anywhere else the one-line error stands. True once a login was stored."""
    from rlswarm_cli.commands import login_cmd

    if out.json_mode or not sys.stdin.isatty():
        return False
    out.warn(str(missing))
    choice = typer.prompt("Log in now: [w]allet private key, [p]roxy, or [q]uit", default="q").strip().lower()
    if choice.startswith("w"):
        login_cmd.login_wallet(ctx, key_stdin=False, insecure_storage=False, json_out=False)
        return True
    if choice.startswith("p"):
        url = typer.prompt("proxy base URL").strip()
        login_cmd.login_proxy(ctx, url=url, insecure_storage=False, json_out=False)
        return True
    return False


def _auto_push(node: Any, settings: Any, instance: str) -> Any:
    """The background worker that pushes every N rounds' checkpoint to the Hub, off the training path."""
    from rlswarm_core.hub.push import hub_access
    from rlswarm_core.hub.selection import InstanceCheckpoints
    from rlswarm_core.hub.worker import AutoPushConfig, PushWorker
    from rlswarm_core.training.checkpoints import CheckpointStore

    access = hub_access()
    item = InstanceCheckpoints(
        instance, node.peer_id, CheckpointStore(node.checkpoint_dir(), settings.checkpoints_keep)
    )
    config = AutoPushConfig(
        every_rounds=settings.push_every_rounds,
        repo_id=settings.hub_repo_id,
        org=settings.hub_org,
        private=settings.hub_private,
        best_only=settings.hub_best_only,
        optimizer=settings.hub_optimizer,
        settings=settings.model_dump(mode="json"),
    )
    worker = PushWorker(item, access, config, emit=node.events.emit).start()
    node.events.subscribe(worker.on_event)
    return worker


def _install_signal_handlers(stop: threading.Event, out: Any) -> threading.Event:
    """First Ctrl-C (or SIGTERM) finishes the current step and stops cleanly; a second one forces.

    Returns the event to set once the command's own clean-up is over: a second press after that point
    lands in interpreter shutdown (atexit finalisers), where a KeyboardInterrupt is printed and ignored,
    so the forced stop exits the process directly instead."""
    cleaned_up = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            if cleaned_up.is_set():
                out.error("interrupted")
                sys.stderr.flush()
                os._exit(EXIT_INTERRUPTED)
            raise KeyboardInterrupt
        stop.set()
        out.warn("stopping after the current step (press Ctrl-C again to force)")

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return cleaned_up


class _Display:
    """Where events go: JSON lines (--json), a live panel (a terminal), or plain lines (anything else);
    plain lines always go to the instance's log file too."""

    def __init__(self, out: Any, log_path: Path) -> None:
        from rlswarm_core.node.view import NodeView

        self.out = out
        self.view = NodeView()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.live: Any = None
        self.interactive = not out.json_mode and not out.quiet and sys.stdout.isatty()

    def __call__(self, event: Any) -> None:
        import json

        from rlswarm_cli.event_lines import stamped
        from rlswarm_core.node.journal import event_to_dict
        from rlswarm_core.secrets.redact import redact

        self.view.apply(event)
        line = stamped(event)
        if line is not None and not self.log.closed:
            # a full disk loses log lines, never the event stream or the panel
            with contextlib.suppress(OSError):
                self.log.write(redact(line) + "\n")
                self.log.flush()
        if self.out.json_mode:
            sys.stdout.write(redact(json.dumps(event_to_dict(event), default=str)) + "\n")
            sys.stdout.flush()
        elif self.live is not None:
            self.live.update(self._panel())
        elif line is not None and not self.out.quiet:
            sys.stderr.write(redact(line) + "\n")
            sys.stderr.flush()

    def _panel(self) -> Any:
        import psutil

        from rlswarm_cli.panel import render_panel

        memory = psutil.Process().memory_info().rss / 1024**3
        return render_panel(self.view, memory_gb=memory)

    def __enter__(self) -> _Display:
        if self.interactive:
            from rich.live import Live

            self.live = Live(self._panel(), console=self.out.console, refresh_per_second=2, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)
            self.live = None
        with contextlib.suppress(OSError):  # lines still buffered for a full disk are lost, nothing more
            self.log.close()
