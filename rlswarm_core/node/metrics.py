"""Prometheus metrics for a running node, off by default.

:class:`NodeMetrics` subscribes to the node's event bus and keeps gauges and counters current;
:func:`serve_metrics` exposes them on a local port with prometheus_client's own HTTP server. Each
exporter has its own registry, so several nodes in one process (tests) never collide.
"""

from __future__ import annotations

from typing import Any

from rlswarm_core.swarm.events import Event, EventBus

DEFAULT_HOST = "127.0.0.1"


class NodeMetrics:
    """An event-bus subscriber that turns node events into Prometheus metrics."""

    def __init__(self, instance: str = "default") -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry()
        labels = ["instance"]
        self.instance = instance

        def gauge(name: str, doc: str) -> Any:
            return Gauge(name, doc, labels, registry=self.registry).labels(instance)

        def counter(name: str, doc: str, extra: list[str] | None = None) -> Any:
            metric = Counter(name, doc, labels + (extra or []), registry=self.registry)
            return metric if extra else metric.labels(instance)

        self.round = gauge("rlswarm_round", "Current round")
        self.stage = gauge("rlswarm_stage", "Current stage")
        self.rounds = counter("rlswarm_rounds_finished", "Rounds this node finished")
        self.stages = counter("rlswarm_stages_finished", "Stages this node trained")
        self.steps = counter("rlswarm_steps", "Training steps done")
        self.stage_reward = gauge("rlswarm_stage_reward", "Reward of the last finished stage")
        self.reward_total = counter("rlswarm_reward", "Sum of this node's stage rewards")
        self.wins = counter("rlswarm_wins", "Rounds in which this node was among the winners")
        self.rank = gauge("rlswarm_leaderboard_rank", "Position on the latest stage leaderboard (0: absent)")
        self.peers = gauge("rlswarm_peers", "Peers seen in the current stage")
        self.tokens = gauge("rlswarm_tokens_per_second", "Generation throughput of the last step")
        self._submissions = counter("rlswarm_chain_submissions", "Chain submissions by status", ["status"])
        self._failures = counter(
            "rlswarm_chain_submission_failures", "Failed chain submissions by reason", ["reason"]
        )
        self.queued = gauge("rlswarm_chain_submissions_queued", "Chain submissions waiting to be retried")
        self.errors = counter("rlswarm_swarm_errors", "Recoverable DHT failures")
        self.flagged = counter(
            "rlswarm_claims_flagged", "Peers' reward claims that disagree with their outputs"
        )
        self.dropped = counter("rlswarm_outputs_dropped", "Peers' outputs dropped over the per-stage caps")
        self.chain_waiting = gauge("rlswarm_chain_waiting", "1 while the chain RPC endpoint is unreachable")
        self.chain_outages = counter("rlswarm_chain_outages", "Outages of the chain RPC endpoint")
        self.up = gauge("rlswarm_up", "1 while the node runs")
        memory = gauge("rlswarm_memory_rss_bytes", "Resident memory of the node process")
        memory.set_function(_rss)
        self.peer_id = ""
        self._pending: set[tuple[str, int, int]] = set()

    def submissions(self, status: str) -> Any:
        return self._submissions.labels(self.instance, status)

    def __call__(self, event: Event) -> None:
        kind = event.kind
        data: Any = event
        if kind == "NodeStarted":
            self.peer_id = data.peer_id
            self.up.set(1)
        elif kind == "NodeStopped":
            self.up.set(0)
        elif kind == "StageStarted":
            self.round.set(data.round)
            self.stage.set(data.stage)
        elif kind == "StepDone":
            self.steps.inc()
            self.tokens.set(data.tokens_per_second)
        elif kind == "StageFinished":
            self.stages.inc()
            self.stage_reward.set(data.reward)
            if data.reward > 0:
                self.reward_total.inc(data.reward)
        elif kind == "RoundFinished":
            self.rounds.inc()
            if self.peer_id and self.peer_id in data.winners:
                self.wins.inc()
        elif kind == "LeaderboardChanged":
            top = [entry[0] for entry in data.top]
            self.rank.set(top.index(self.peer_id) + 1 if self.peer_id in top else 0)
        elif kind == "PeerCountChanged":
            self.peers.set(data.peers)
        elif kind == "ChainSubmitted":
            self.submissions(data.status).inc()
            if data.status == "failed":
                self._failures.labels(self.instance, getattr(data, "reason", "") or "other").inc()
            key = (data.what, data.round, data.stage)
            if data.status == "queued":
                self._pending.add(key)
            else:
                self._pending.discard(key)
            self.queued.set(len(self._pending))
        elif kind == "SwarmErrorEvent":
            self.errors.inc()
        elif kind == "ClaimFlagged":
            self.flagged.inc()
        elif kind == "OutputsDropped":
            self.dropped.inc(data.dropped)
        elif kind == "ChainUnavailable":
            self.chain_waiting.set(1)
            self.chain_outages.inc()
        elif kind == "ChainRecovered":
            self.chain_waiting.set(0)


def _rss() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss)


class MetricsServer:
    def __init__(self, metrics: NodeMetrics, server: Any, thread: Any, unsubscribe: Any) -> None:
        self.metrics = metrics
        self._server = server
        self._thread = thread
        self._unsubscribe = unsubscribe

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._unsubscribe()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(
    bus: EventBus, port: int, *, host: str = DEFAULT_HOST, instance: str = "default"
) -> MetricsServer:
    """Subscribe an exporter to ``bus`` and serve it at ``http://host:port/metrics`` (port 0 picks one)."""
    from prometheus_client import start_http_server

    from rlswarm_core.errors import ConfigError

    metrics = NodeMetrics(instance)
    try:
        server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve metrics on {host}:{port}: {exc.strerror}", "choose another metrics_port"
        ) from None
    unsubscribe = bus.subscribe(metrics)
    return MetricsServer(metrics, server, thread, unsubscribe)
