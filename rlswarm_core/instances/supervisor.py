"""Run an instance as a supervised background process, and start or stop it from the command line.

Layout of a running instance::

    supervisor (python -m rlswarm_core.instances.supervise NAME; leads its own session)
      └── node  (python -m rlswarm_core.node --instance NAME; its own session)
            └── DHT process (its own session, with its p2pd)

The supervisor restarts the node when it crashes, with exponential backoff, copies its output into a
size-capped log, and records both processes (pid and start time) in ``supervisor.json``. A file lock held
for the supervisor's whole life makes a second start fail instead of running the same identity twice.
A node whose supervisor dies (SIGKILL included) is sent SIGTERM and stops cleanly: no node runs without
its supervisor, so a restarted supervisor never finds its identity and port taken.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from rlswarm_core.instances import state as st
from rlswarm_core.instances.logfile import RotatingLog
from rlswarm_core.instances.registry import InstanceError, InstanceRecord, load
from rlswarm_core.system.children import isolated_preexec
from rlswarm_core.system.paths import app_paths, private_dir
from rlswarm_core.system.processes import terminate_then_kill

EXIT_LOCKED = 3
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class Backoff:
    base_s: float = 1.0
    max_s: float = 60.0
    # a node that ran this long before failing is considered healthy again: backoff starts over
    stable_after_s: float = 120.0
    # this many failures in a row, each before stable_after_s, and the supervisor gives up ("failed")
    max_failures: int = 10

    def delay(self, consecutive_failures: int) -> float:
        return min(self.max_s, self.base_s * 2 ** max(0, consecutive_failures - 1))


def node_command(record: InstanceRecord, extra_args: list[str] | None = None) -> list[str]:
    # the node writes its event lines to the instance log itself; what it prints (an error line, a
    # traceback) is copied into the same log by the supervisor
    cmd = [sys.executable, "-m", "rlswarm_core.node", "--instance", record.name]
    if record.role == "follower":
        cmd += ["--role", "follower"]
        if record.coordinator_peer_id:
            cmd += ["--coordinator-peer-id", record.coordinator_peer_id]
    else:
        cmd += ["--role", "coordinator"]
    return cmd + list(extra_args or [])


def node_environment(record: InstanceRecord) -> dict[str, str]:
    """The node's environment: no secrets but those it reads itself (its wallet key, Hub token and proxy
    login, when they come from the environment rather than the keyring), named one by one."""
    from rlswarm_core.secrets.store import SECRETS
    from rlswarm_core.system.environment import child_environment

    wanted = {var for spec in SECRETS.values() for var in spec.env_vars}
    env = child_environment(extra={k: v for k, v in os.environ.items() if k in wanted})
    env.update({str(k): str(v) for k, v in (record.settings.get("env") or {}).items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _become_subreaper() -> None:
    """Orphans of the node (a DHT process, p2pd) get re-parented here, so they can be reaped after a crash."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap_descendants(timeout: float = 5.0) -> int:
    """Terminate, then kill, whatever the crashed node left behind under this process."""
    import psutil

    left = psutil.Process().children(recursive=True)
    terminate_then_kill(left, timeout)
    return len(left)


class Supervisor:
    def __init__(
        self,
        record: InstanceRecord,
        *,
        backoff: Backoff | None = None,
        stop_timeout_s: float = 20.0,
        extra_args: list[str] | None = None,
    ) -> None:
        self.record = record
        self.backoff = backoff or Backoff()
        self.stop_timeout_s = stop_timeout_s
        self.extra_args = extra_args or []
        self.stop_requested = threading.Event()
        self.me = st.ProcRef.of(os.getpid())
        self.restarts = 0
        self.last_exit_code: int | None = None
        self.started = time.time()

    def _state(self, state: str, child: st.ProcRef | None = None, **extra: Any) -> None:
        st.write_state(
            self.record.name,
            {
                "state": state,
                "supervisor": st.ref_dict(self.me),
                "child": st.ref_dict(child),
                "restarts": self.restarts,
                "last_exit_code": self.last_exit_code,
                "started": self.started,
                "log": str(self.record.log_file),
                **extra,
            },
        )

    def _install_signals(self) -> None:
        def handler(signum: int, frame: Any) -> None:
            self.stop_requested.set()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, handler)

    def run(self) -> int:
        from filelock import FileLock, Timeout

        lock = FileLock(str(st.lock_path(self.record.name)))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return EXIT_LOCKED
        log = RotatingLog(self.record.log_file)
        try:
            self._install_signals()
            _become_subreaper()
            from rlswarm_core.alerts.monitor import watching

            with watching(self.record.name):  # alerts: a side thread that never blocks this loop
                return self._loop(log)
        finally:
            log.close()
            lock.release()

    def _pump(self, stream: IO[str], log: RotatingLog) -> threading.Thread:
        def copy() -> None:
            for line in stream:
                log.write(line)

        thread = threading.Thread(target=copy, daemon=True)
        thread.start()
        return thread

    def _loop(self, log: RotatingLog) -> int:
        failures = 0
        while not self.stop_requested.is_set():
            cmd = node_command(self.record, self.extra_args)
            log.note(f"starting node: {' '.join(cmd[1:])}")
            child = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                env=node_environment(self.record),
                start_new_session=True,  # away from the terminal's signals; the supervisor stops it
                preexec_fn=isolated_preexec(signal.SIGTERM),  # and it stops when the supervisor dies
            )
            ref = st.ProcRef.of(child.pid)
            began = time.time()
            self._state("running", ref, child_started=began)
            assert child.stdout is not None
            pump = self._pump(child.stdout, log)
            code = self._wait(child, log)
            self.last_exit_code = code
            # leftovers hold the output pipe open: reap them before waiting for the copy to finish
            reaped = _reap_descendants()
            pump.join(timeout=5)
            if reaped:
                log.note(f"stopped {reaped} process(es) the node left behind")
            if self.stop_requested.is_set():
                log.note(f"node stopped (exit code {code})")
                break
            if code == 0:
                log.note("node finished")
                self._state("finished")
                return 0
            ran = time.time() - began
            failures = 1 if ran >= self.backoff.stable_after_s else failures + 1
            if failures >= self.backoff.max_failures:
                log.note(f"node failed {failures} times in a row (last exit code {code}): giving up")
                self._state("failed")
                return 1
            delay = self.backoff.delay(failures)
            self.restarts += 1
            log.note(
                f"node exited with code {code} after {ran:.0f} s; restart {self.restarts} in {delay:.1f} s"
            )
            self._state("backoff", None, next_start=time.time() + delay)
            self.stop_requested.wait(delay)
        self._state("stopped")
        return 0

    def _wait(self, child: subprocess.Popen[str], log: RotatingLog) -> int:
        signalled_at: float | None = None
        checked = time.monotonic()
        while True:
            if time.monotonic() - checked > 5:
                checked = time.monotonic()
                log.maybe_rotate()
            code = child.poll()
            if code is not None:
                return code
            if self.stop_requested.is_set():
                now = time.monotonic()
                if signalled_at is None:
                    signalled_at = now
                    log.note("stop requested: asking the node to finish its step")
                    # the node's main process: it stops its DHT process and p2pd in order
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child.pid, signal.SIGTERM)
                elif now - signalled_at > self.stop_timeout_s:
                    log.note(f"node did not stop within {self.stop_timeout_s:.0f} s: killing it")
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.pid, signal.SIGKILL)
                    return child.wait()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=0.2)


# ---- command-line side: start, stop -------------------------------------------------------------------


def start(name: str, *, wait_s: float = 10.0) -> st.Liveness:
    """Spawn a detached supervisor for ``name`` and wait until it has started the node."""
    record = load(name)
    now = st.liveness(name)
    if now.running:
        pid = now.supervisor.pid if now.supervisor_alive and now.supervisor else now.child.pid  # type: ignore[union-attr]
        raise InstanceError(
            f"instance {name!r} is already running (pid {pid})", "stop it first or use restart"
        )
    app_paths().ensure()
    private_dir(record.log_file.parent)
    fd = os.open(record.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rlswarm_core.instances.supervise", name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,  # a supervisor that dies before its own logging starts still says why
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            if code == EXIT_LOCKED:
                raise InstanceError(
                    f"instance {name!r} is already being started", "see 'rlswarm instances list'"
                )
            raise InstanceError(
                f"the supervisor of {name!r} exited with code {code}", f"see 'rlswarm instances logs {name}'"
            )
        live = st.liveness(name)
        sup = live.supervisor
        # a node that failed at once is the supervisor's to retry; starting has still succeeded
        if sup is not None and sup.pid == proc.pid and live.raw.get("state") in ("running", "backoff"):
            return live
        time.sleep(0.05)
    raise InstanceError(f"the supervisor of {name!r} did not start the node within {wait_s:.0f} s")


def wait_joined(name: str, since: float, timeout_s: float = 90.0) -> bool:
    """Whether the instance's node joined its swarm (a Joined event after ``since``) within the timeout.

    Followers bootstrap from the coordinator instance: starting them after it has joined saves each
    a failed first attempt and a restart.
    """
    from rlswarm_core.node.journal import read_journal

    record = load(name)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for event in read_journal(record.journal, limit=200):
            if event.get("kind") == "Joined" and float(event.get("at") or 0) >= since:
                return True
        if not st.liveness(name).running:
            return False
        time.sleep(0.25)
    return False


def _processes(live: st.Liveness) -> list[Any]:
    procs = []
    for ref in (live.supervisor, live.child):
        proc = ref.process() if ref is not None else None
        if proc is None:
            continue
        procs.append(proc)
        with contextlib.suppress(Exception):
            procs.extend(proc.children(recursive=True))
    return procs


@dataclass
class _Stopping:
    name: str
    processes: list[Any]
    groups: list[int]


def _request_stop(name: str) -> _Stopping | None:
    live = st.liveness(name)
    if not live.running:
        return None
    groups = [g for g in (st.group_of(live.supervisor), st.group_of(live.child)) if g is not None]
    if live.supervisor_alive:
        # the supervisor leads its own group and passes the request on to the node once
        first = [st.group_of(live.supervisor)]
    else:
        # an orphaned node: ask its main process directly
        first = []
        if live.child is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(live.child.pid, signal.SIGTERM)
    stopping = _Stopping(name, _processes(live), groups)
    for group in first:
        if group is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGTERM)
    return stopping


def stop_many(
    names: list[str], *, timeout_s: float = 30.0, on_escalate: Callable[[str], None] | None = None
) -> dict[str, bool]:
    """SIGTERM to every instance at once, SIGKILL to their process groups after ``timeout_s``.

    Returns, per name, whether anything was running. All are asked first and waited for together, so
    followers do not sit waiting for a coordinator that has already gone.
    """
    import psutil

    pending = {name: _request_stop(name) for name in names}
    everything = [p for s in pending.values() if s for p in s.processes]
    _, alive = psutil.wait_procs(everything, timeout=timeout_s)
    if alive:
        if on_escalate:
            on_escalate(f"{len(alive)} process(es) still running after {timeout_s:.0f} s: sending SIGKILL")
        for stopping in pending.values():
            for group in stopping.groups if stopping else []:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal.SIGKILL)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=10)
    for name, stopping in pending.items():
        if stopping is None:
            continue
        after = st.liveness(name)
        if after.raw.get("state") not in ("stopped", "finished"):
            st.write_state(name, {**after.raw, "state": "stopped", "child": None})
    return {name: stopping is not None for name, stopping in pending.items()}


def stop(name: str, *, timeout_s: float = 30.0, on_escalate: Callable[[str], None] | None = None) -> bool:
    return stop_many([name], timeout_s=timeout_s, on_escalate=on_escalate)[name]
