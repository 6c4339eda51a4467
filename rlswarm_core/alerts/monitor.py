"""Alerts evaluated and delivered by an instance's own supervisor: no extra daemon to run or forget.

:func:`watching` wraps the supervisor's loop. A thread polls the instance's status every
``rules.interval_s``, turns rule changes into notices (deduplicated through the shared delivery state),
and hands them to a second thread that sends them with retries. Neither thread ever blocks the
supervisor or the node; a channel that is down costs only that thread's time. When the supervisor
gives up on its node, one last poll reports it before the process exits.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from rlswarm_core.alerts import rules as alert_rules
from rlswarm_core.alerts import state as alert_state
from rlswarm_core.alerts.channels import Notice, send
from rlswarm_core.alerts.config import AlertsConfig, Channel, config_mtime, load_config
from rlswarm_core.errors import RlswarmError
from rlswarm_core.secrets.redact import redact

ATTEMPTS = 3
QUEUE_SIZE = 200
FLUSH_S = 15.0
STOP_FLUSH_S = 5.0


def _note(text: str) -> None:
    """One line to the supervisor's stderr, which its start-up redirects into the instance log."""
    with contextlib.suppress(Exception):
        sys.stderr.write(f"alerts: {redact(text)}\n")
        sys.stderr.flush()


@dataclass(frozen=True)
class _Item:
    notice: Notice
    channels: tuple[Channel, ...]


class Deliverer:
    """Sends notices in order, one channel after another, each with a few retries."""

    def __init__(self) -> None:
        self._queue: queue.Queue[_Item | None] = queue.Queue(maxsize=QUEUE_SIZE)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rlswarm-alerts-send", daemon=True)
        self._thread.start()

    def put(self, notice: Notice, channels: list[Channel]) -> None:
        try:
            self._queue.put_nowait(_Item(notice, tuple(channels)))
        except queue.Full:
            _note(f"dropped alert {notice.title!r}: {QUEUE_SIZE} alerts are already waiting")

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            for channel in item.channels:
                self._deliver(channel, item.notice)

    def _deliver(self, channel: Channel, notice: Notice) -> None:
        error = None
        for attempt in range(ATTEMPTS):
            try:
                send(channel, notice)
            except RlswarmError as exc:
                error = exc.one_line()
            except Exception as exc:  # the keyring, say: report it, keep the thread alive
                error = f"alert channel {channel.name!r}: {type(exc).__name__}"
            else:
                with contextlib.suppress(Exception):  # sent is sent: never resend over a bookkeeping failure
                    alert_state.record_delivery(channel.name, None)
                return
            if attempt + 1 < ATTEMPTS and not self._closing.wait(2.0**attempt):
                continue
            if self._closing.is_set():
                break
        _note(f"could not deliver {notice.title!r}: {error}")
        with contextlib.suppress(Exception):
            alert_state.record_delivery(channel.name, error)

    def close(self, timeout: float = FLUSH_S) -> None:
        """Send what is queued (retries cut short), for at most ``timeout`` seconds."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=1.0)
        self._thread.join(timeout / 2)
        self._closing.set()
        self._thread.join(timeout / 2)


class Monitor:
    """Polls one instance and reports the changes of its conditions."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.memo = alert_rules.Memo(restarts=0)
        active = alert_state.read()["active"]
        # a supervisor that restarts while its node was reported down must not report it up too early
        self.memo.down = alert_state.alert_key(name, "node_down") in active
        self._config: AlertsConfig | None = None
        self._mtime: float | None = None
        self._last_error = ""
        self.deliverer = Deliverer()

    def config(self) -> AlertsConfig:
        mtime = config_mtime()
        if self._config is None or mtime != self._mtime:
            self._mtime = mtime
            self._config = load_config()
        return self._config

    def poll(self) -> list[Notice]:
        from rlswarm_core.dashboard.status import collect
        from rlswarm_core.system.paths import app_paths

        config = self.config()
        rules = config.rules
        status = collect(self.name, stale_rounds=rules.stall_rounds or 1)
        now = time.time()
        conditions = alert_rules.evaluate(status, self.memo, rules, data_dir=app_paths().data, now=now)
        if not config.channels:
            return []  # nothing to tell anyone: conditions start counting once a channel exists
        notices = []
        with alert_state.locked() as data:
            for cond in conditions:
                machine = cond.rule in alert_rules.MACHINE_RULES
                key = alert_state.alert_key(None if machine else self.name, cond.rule)
                change = alert_state.transition(data, key, cond.firing, redact(cond.detail), now)
                if change is not None:
                    notices.append(
                        Notice(
                            rule=cond.rule,
                            status=change,
                            instance="" if machine else self.name,
                            title=redact(cond.title),
                            detail=redact(cond.detail),
                            at=now,
                        )
                    )
        for notice in notices:
            self.deliverer.put(notice, config.channels)
        return notices

    def safe_poll(self) -> None:
        try:
            self.poll()
            self._last_error = ""
        except Exception as exc:
            text = exc.one_line() if isinstance(exc, RlswarmError) else f"{type(exc).__name__}: {exc}"
            if text != self._last_error:  # one line per distinct problem, not one per poll
                _note(f"cannot evaluate the alert rules: {text}")
                self._last_error = text


@contextlib.contextmanager
def watching(name: str) -> Iterator[Monitor | None]:
    """Evaluate and deliver alerts for instance ``name`` while the block runs (the supervisor's loop)."""
    try:
        monitor = Monitor(name)
    except Exception as exc:  # alerts must never keep a node from running
        _note(f"alerts are off for this run: {type(exc).__name__}: {exc}")
        yield None
        return
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                interval = monitor.config().rules.interval_s
            except Exception:
                interval = 15.0
            if stop.wait(interval):
                return
            monitor.safe_poll()

    thread = threading.Thread(target=loop, name="rlswarm-alerts", daemon=True)
    thread.start()
    try:
        yield monitor
    finally:
        stop.set()
        thread.join(timeout=FLUSH_S)
        from rlswarm_core.instances.state import read_state

        failed = read_state(name).get("state") == "failed"
        if failed:
            monitor.safe_poll()  # the supervisor gave up: say so before the process ends
        # a stop asked for by the operator must not wait long on a channel that does not answer
        monitor.deliverer.close(FLUSH_S if failed else STOP_FLUSH_S)
