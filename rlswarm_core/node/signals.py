"""A running node's answer to SIGINT (Ctrl-C) and SIGTERM (a service manager, ``kill``).

The first signal asks the node to finish its current step and stop cleanly (checkpoint kept, peers
told, chain submissions flushed). The second forces: the children's process groups (the DHT process
and its p2pd) are killed and the process exits with 130 at once, wherever it was, interpreter shutdown
included. The children never see the terminal's Ctrl-C themselves (see
:mod:`rlswarm_core.system.children`), so only this process decides how they stop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from typing import Any, NoReturn

from rlswarm_core.system.children import kill_groups

EXIT_INTERRUPTED = 130
STOPPING_NOTICE = "stopping after the current step (press Ctrl-C again to force)"


class StartupInterrupted(KeyboardInterrupt):
    """The first signal came while the node was still loading (nothing to stop in order yet): the run
    is abandoned at once instead of after a slow import or model load."""


def _write_interrupted() -> None:
    os.write(2, b"error: interrupted\n")


class StopPolicy:
    """Installs the handlers (main thread only); ``stop`` is the event the node watches.

    ``notify(level, text)`` reports the first signal; ``on_force()`` is called from the signal handler
    right before the forced exit, so it must not take locks (write to a descriptor with ``os.write``).
    """

    def __init__(
        self,
        notify: Callable[[str, str], None] | None = None,
        on_force: Callable[[], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.stop = stop or threading.Event()
        self.notify = notify or (lambda level, text: None)
        self.on_force = on_force or _write_interrupted
        self._previous: dict[int, Any] = {}
        self._cleaned_up = False
        # while True, the first signal also raises StartupInterrupted in the main thread
        self.interruptible = False
        self._notice: threading.Thread | None = None

    def install(self) -> StopPolicy:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def cleaned_up(self) -> None:
        """The node's clean-up is over: a signal now (interpreter shutdown, where Python would print and
        ignore a KeyboardInterrupt) exits at once."""
        self._cleaned_up = True

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stop.is_set() or self._cleaned_up:
            self.force()
        self.stop.set()
        # from a thread of its own: the signal may have interrupted this thread in the middle of writing
        # to the same screen (a live display's refresh), and printing here would cut into it
        self._notice = threading.Thread(target=self._notify_stopping, name="stop-notice", daemon=True)
        self._notice.start()
        if self.interruptible:
            self.interruptible = False
            raise StartupInterrupted

    def wait_for_notice(self, timeout: float = 2.0) -> None:
        """Let the "stopping" notice reach the screen before the node's last lines: a stop that takes
        effect at once (between stages) could otherwise end the process before that thread ran."""
        notice = self._notice
        if notice is not None and notice is not threading.current_thread():
            notice.join(timeout)

    def _notify_stopping(self) -> None:
        with contextlib.suppress(Exception):  # a notice is never worth a crash
            self.notify("warn", STOPPING_NOTICE)

    def phase(self, name: str) -> None:
        """The node's phase (see ``NodeConfig.on_phase``): interruptible while it loads."""
        self.interruptible = name == "loading"

    def force(self) -> NoReturn:
        kill_groups(signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.on_force()
        # no flushing of Python's streams: their locks may be held by the very code this interrupted
        os._exit(EXIT_INTERRUPTED)
