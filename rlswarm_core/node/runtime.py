"""Run one node the way ``rlswarm join`` does, from any Python program.

:func:`run_node` (or :class:`NodeRuntime`, to take the steps one by one) resolves the settings with
their usual precedence, creates the identity on first use, connects the chain of an on-chain network,
wires the event journal, the instance log, metrics and Hub auto-push to the node's events, handles
SIGINT/SIGTERM (first: finish the step and stop; second: force), runs the node and tears everything
down in order. What the operator sees is the caller's: pass a :class:`NodeRenderer`.

    from rlswarm_core.node import LineRenderer, NodeRequest, run_node

    summary = run_node(NodeRequest(settings={"profile": "local-tiny"}, max_rounds=2), LineRenderer())
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlswarm_core.chain.link import LoginRequired  # raised by prepare(); exported here
from rlswarm_core.errors import ConfigError
from rlswarm_core.node.renderer import NodeRenderer
from rlswarm_core.system.paths import AppPaths, app_paths

ROLES = ("coordinator", "follower")
# how long a stop requested by a signal waits for a Hub push in flight (a finished run waits longer)
PUSH_SETTLE_ON_STOP_S = 5.0
PUSH_SETTLE_S = 120.0


@dataclass
class NodeRequest:
    """What to run. ``settings`` holds :class:`~rlswarm_core.settings.model.NodeSettings` values at flag
    level: they win over ``RLSWARM_*`` variables, the instance's settings, config.yaml and the profile."""

    settings: dict[str, Any] = field(default_factory=dict)
    instance: str = "default"
    # identity name (``rlswarm identity list``); default: the instance name; created on first use
    identity: str | None = None
    # coordinator (runs the round/stage clock) or follower; default: follower when initial peers are set
    role: str | None = None
    # stop once the swarm reaches this round; None runs until stopped
    max_rounds: int | None = None
    # stop after training this many more rounds, counted from where the node resumes
    rounds: int | None = None
    stage_timeout_s: float = 600.0
    min_peers: int = 1
    # a swarm file (path or https URL): its values are a settings layer between the profile and the
    # user config, its chain is checked against the file, and its bootnodes come from the chain
    swarm: str | None = None


class NodeRuntime:
    """One node's run. :meth:`prepare` (idempotent; may raise :class:`LoginRequired`, after which a
    login and another :meth:`prepare` continue), then :meth:`run`.

    ``handle_signals`` (default: when run in the main thread) installs the stop policy for the
    run; ``keep_handlers`` leaves it installed afterwards, so a Ctrl-C during interpreter shutdown exits
    at once (for programs that end when the node does).
    """

    def __init__(
        self,
        request: NodeRequest | None = None,
        renderer: NodeRenderer | None = None,
        *,
        handle_signals: bool | None = None,
        keep_handlers: bool = False,
        stop: threading.Event | None = None,
    ) -> None:
        self.request = request or NodeRequest()
        self.renderer = renderer or NodeRenderer()
        self.stop_event = stop or threading.Event()
        self.handle_signals = handle_signals
        self.keep_handlers = keep_handlers
        self.paths = app_paths()  # RLSWARM_HOME relocates everything, as for the command
        self.settings: Any = None
        self.role = ""
        self.identity_path: Path | None = None
        self.peer_id = ""
        self.link: Any = None
        self.swarm: Any = None
        self._log: Any = None
        self._metrics: Any = None
        self._pusher: Any = None
        self._watch: Any = None

    # -- preparation -------------------------------------------------------------------------------
    def prepare(self) -> NodeRuntime:
        from rlswarm_core.node.lines import InstanceLog

        if self._log is None:
            self._log = InstanceLog(self.paths.logs / f"{self.request.instance}.log")
        try:
            if self.settings is None:
                from rlswarm_core.node.preflight import check_network_settings

                settings = self._resolve_settings()
                # before any heavy import: a bad address or a taken port is reported at once
                check_network_settings(settings)
                self.settings = settings
                self.role = self._pick_role()
                self.identity_path = self._ensure_identity()
            if self.link is None and self.settings.network != "local":
                self.link = self._connect_chain()
        except LoginRequired:
            raise  # the caller may log in and call prepare() again
        except BaseException:
            self._log.close()
            self._log = None
            raise
        return self

    def _resolve_settings(self) -> Any:
        from rlswarm_core.settings.model import load_yaml_mapping
        from rlswarm_core.settings.resolve import resolve_node_settings

        # an instance created with 'rlswarm instances add' keeps its own settings (port, profile, ...)
        instance_values = load_yaml_mapping(
            self.paths.instances / self.request.instance / "settings.yaml", "instance settings"
        )
        layer = None
        if self.request.swarm:
            from rlswarm_core.hosting.swarmfile import read_swarm_source, settings_layer

            self.swarm = read_swarm_source(self.request.swarm)
            layer = settings_layer(self.swarm)
        settings = resolve_node_settings(
            self.request.settings, instance=instance_values, swarm=layer
        ).settings
        if self.swarm is not None:
            _check_swarm_model(self.swarm, settings.model)
        return settings

    def _pick_role(self) -> str:
        # a swarm's clock is its stage manager's (`rlswarm swarm serve`): its nodes follow
        default = "follower" if self.settings.initial_peers or self.swarm is not None else "coordinator"
        role = self.request.role or default
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r}", "use coordinator or follower")
        return role

    def _ensure_identity(self) -> Path:
        from rlswarm_core.identity.keys import create_identity, load_identity

        name = self.request.identity or self.request.instance
        path = self.paths.identity_file(name)
        if path.exists():
            self.peer_id = load_identity(path).peer_id
        else:
            self.paths.ensure()
            ident = create_identity(path)
            self.peer_id = ident.peer_id
            self.notice("info", f"created identity {name}: {ident.peer_id} ({ident.animal_name}) in {path}")
        return path

    def _connect_chain(self) -> Any:
        from rlswarm_core.chain.link import connect_chain

        if self.swarm is not None:
            _check_swarm_chain(self.swarm, self.settings)
        link = connect_chain(self.settings, self.peer_id)  # LoginRequired: the caller may log in and retry
        assert link is not None
        if self.swarm is not None and not self.settings.initial_peers:
            self.settings.initial_peers = _chain_bootnodes(self.swarm, link.reader)
            self.notice("info", f"bootnodes from the contract: {', '.join(self.settings.initial_peers)}")
        self.notice(
            "info", f"on-chain coordinator {link.network.contract} on {link.network.name} ({link.mode} mode)"
        )
        for shared in link.shared_wallets(self.request.instance):
            self.notice("warn", shared.one_line())
        if self.role == "coordinator" and not link.is_stage_manager():
            self.notice(
                "info",
                "this account is not the contract's stage manager: "
                "rounds advance when the network moves them",
            )
        return link

    def notice(self, level: str, text: str) -> None:
        self.renderer.notice(level, text)
        if self._log is not None:
            self._log.notice(level, text)

    # -- the run -----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the node to finish its current step and stop (what the first Ctrl-C does)."""
        self.stop_event.set()

    def run(self) -> Any:
        """Run until the node stops (``max_rounds``, a stop request, or an error); the node's summary."""
        from rlswarm_core.system.paths import private_umask

        self.prepare()
        with private_umask():
            return self._run()

    def _run(self) -> Any:
        from rlswarm_core.node.engine import NodeSummary
        from rlswarm_core.node.journal import JOURNAL_NAME, EventJournal
        from rlswarm_core.node.signals import StartupInterrupted
        from rlswarm_core.swarm.events import EventBus

        paths = self.paths.ensure()
        bus = EventBus()
        journal = EventJournal(paths.instances / self.request.instance / JOURNAL_NAME)
        journal.attach(bus)
        for subscriber in (self._log, self.renderer.event):
            bus.subscribe(subscriber)
        policy = self._install_signals()
        try:
            return self._start(bus, paths, policy)
        except StartupInterrupted:
            return NodeSummary(peer_id=self.peer_id, reason="stopped while starting")
        finally:
            if policy is not None:
                policy.wait_for_notice()
            self._tear_down(journal)
            if policy is not None:
                if self.keep_handlers:
                    policy.cleaned_up()
                else:
                    policy.restore()

    def _start(self, bus: Any, paths: AppPaths, policy: Any) -> Any:
        from rlswarm_core.node.engine import Node, NodeConfig
        from rlswarm_core.system.environment import secrets_withheld

        if self.settings.metrics_port is not None:
            from rlswarm_core.node.metrics import serve_metrics

            self._metrics = serve_metrics(bus, self.settings.metrics_port, instance=self.request.instance)
            self.notice("info", f"metrics on http://127.0.0.1:{self._metrics.port}/metrics")
        config = self._node_config(NodeConfig)
        if policy is not None:
            config.on_phase = policy.phase
        node = Node(config, events=bus, paths=paths)
        if self.settings.push_every_rounds:
            # the Hub token's write scope is checked now, before any training, not after a round
            self._pusher = _auto_push(node, self.settings, self.request.instance)
        self.notice(
            "info",
            f"joining as {self.role} with profile {self.settings.profile} ({self.settings.model}); "
            "Ctrl-C stops cleanly",
        )
        if self.swarm is not None and self.settings.contract:
            from rlswarm_core.hosting.watch import watch_swarm

            self._watch = watch_swarm(self.swarm, self.settings, bus).start()
        # the secrets were read (chain link, Hub token): what the node starts from here on (the DHT
        # process, its p2pd, torch's shared-memory manager) inherits an environment without them
        with secrets_withheld(), self._warnings_to_log(), self.renderer.running():
            return node.run(self.stop_event)

    @contextlib.contextmanager
    def _warnings_to_log(self) -> Iterator[None]:
        """Library warnings (transformers, torch, ...) go to the instance log, never to the terminal, where
        they would land in the middle of a live display."""
        import warnings

        def to_log(message: Any, category: Any, filename: str, lineno: int, *_: Any, **__: Any) -> None:
            if self._log is not None:
                self._log.notice("warn", f"{category.__name__}: {message} ({filename}:{lineno})")

        saved = warnings.showwarning
        warnings.showwarning = to_log
        try:
            yield
        finally:
            warnings.showwarning = saved

    def _node_config(self, config_class: Any) -> Any:
        link = self.link
        return config_class(
            settings=self.settings,
            identity_path=Path(self.identity_path or ""),
            role=self.role,
            coordinator_peer_id=self.settings.coordinator_peer_id,
            max_rounds=self.request.max_rounds,
            rounds=self.request.rounds,
            stage_timeout_s=self.request.stage_timeout_s,
            instance=self.request.instance,
            min_peers=self.request.min_peers,
            chain=link.queue if link is not None else None,
            clock_factory=link.clock_factory(self.role) if link is not None else None,
            log_path=self._log.path,
        )

    def _install_signals(self) -> Any:
        on_main = threading.current_thread() is threading.main_thread()
        if not (on_main if self.handle_signals is None else self.handle_signals):
            return None
        from rlswarm_core.node.signals import StopPolicy

        policy = StopPolicy(self.notice, self.renderer.interrupted, self.stop_event).install()
        policy.interruptible = True  # until the node starts joining (NodeConfig.on_phase)
        return policy

    def _tear_down(self, journal: Any) -> None:
        """In order: the last Hub push, the chain queue's last flush, metrics, the journal, the log."""
        from rlswarm_core.swarm.dht_process import route_hivemind_logs

        try:
            if self._watch is not None:
                self._watch.close()
            if self._pusher is not None:
                settle = PUSH_SETTLE_ON_STOP_S if self.stop_event.is_set() else PUSH_SETTLE_S
                if not self._pusher.wait_settled(settle):
                    self.notice("warn", "a Hub push was cut short: push it with 'rlswarm push-hub'")
                self._pusher.stop()
            if self.link is not None:
                self.link.close(flush=True)
            if self._metrics is not None:
                self._metrics.close()
        finally:
            journal.close()
            route_hivemind_logs(None)
            self._log.close()


def run_node(request: NodeRequest | None = None, renderer: NodeRenderer | None = None, **options: Any) -> Any:
    """Prepare and run a node (see :class:`NodeRuntime` for ``options``); its summary."""
    return NodeRuntime(request, renderer, **options).run()


def _check_swarm_model(swarm: Any, model: str) -> None:
    allowed = [swarm.model.name, *swarm.model.allowed]
    if swarm.model.allowed and model not in allowed:
        raise ConfigError(
            f"swarm {swarm.name!r} does not allow model {model!r}", f"use one of: {', '.join(allowed)}"
        )


def _check_swarm_chain(swarm: Any, settings: Any) -> None:
    """The chain the node will use must be the swarm file's: same chain id, same coordinator code."""
    from rlswarm_core.chain.reader import CoordinatorReader
    from rlswarm_core.hosting.chaincheck import check_swarm_chain

    if swarm.chain is None or not settings.contract or not settings.rpc_url:
        raise ConfigError(
            f"swarm {swarm.name!r} has no deployed coordinator in its file",
            "ask its host for the file written by `rlswarm swarm deploy`",
        )
    check_swarm_chain(swarm, CoordinatorReader(settings.rpc_url, settings.contract, settings.chain_id))


def _chain_bootnodes(swarm: Any, reader: Any) -> list[str]:
    found = [b for b in reader.bootnodes() if b]
    if not found:
        raise ConfigError(
            f"swarm {swarm.name!r} lists no bootnode, in its file or on its contract",
            "the swarm looks stopped: ask its host to run `rlswarm swarm serve`, or pass --initial-peer",
        )
    return found


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
