"""One lasting call channel into the DHT process.

hivemind's ``DHT.run_coroutine`` sends a fresh ``MPFuture`` with every call: its result pipe travels
through multiprocessing's resource sharer (a new socket connection to a helper thread of this process,
per call) and its state lives in a new shared-memory tensor. That was close to half the CPU time a
store cost (both processes together), and on a small machine that time comes out of training.

The channel is set up once, through one ``run_coroutine`` call: a socket pair whose far end the DHT
process serves from its own event loop. A call is then one message out (the coroutine function,
pickled as ``run_coroutine`` would) and one message back; a reader thread here hands each answer to
its :class:`concurrent.futures.Future`. Sends are serialised by a lock (``run_coroutine``'s pipe is
shared unguarded between threads). When the DHT process ends, every waiting call fails at once with
:class:`ChannelClosed` instead of waiting out its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pickle
import socket
import threading
from concurrent.futures import Future
from functools import partial
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any


class ChannelClosed(ConnectionError):
    """The DHT process is gone (or the channel was closed): no call can be answered."""


class DHTChannel:
    """Calls ``coro(dht, node)`` in the DHT process of ``dht`` (a started hivemind ``DHT``)."""

    def __init__(self, dht: Any, timeout: float) -> None:
        self._conn, far = Pipe(duplex=True)
        try:
            attached = dht.run_coroutine(partial(_attach, conn=far), return_future=True)
            if not attached.result(timeout=timeout):
                raise ChannelClosed("the DHT process did not take the call channel")
        except BaseException:
            self._conn.close()
            raise
        finally:
            far.close()  # the DHT process holds its own copy of the far end
        self._send_lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._ids = itertools.count()
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="dht-channel", daemon=True)
        self._reader.start()

    def submit(self, coro: Any) -> Future[Any]:
        """Start ``coro`` in the DHT process; its result (or exception) arrives in the returned future.

        A coroutine that cannot be pickled raises here (a programming error, not a DHT fault);
        :class:`ChannelClosed` when the DHT process is gone.
        """
        payload = pickle.dumps(coro)
        future: Future[Any] = Future()
        with self._send_lock:
            if self._closed:
                raise ChannelClosed("the DHT call channel is closed")
            call_id = next(self._ids)
            self._pending[call_id] = future
            try:
                self._conn.send(("call", call_id, payload))
            except (OSError, EOFError, ValueError) as exc:
                self._pending.pop(call_id, None)
                raise ChannelClosed(f"the DHT process is not reachable: {exc}") from None
        future.call_id = call_id  # type: ignore[attr-defined]
        return future

    def cancel(self, future: Future[Any]) -> None:
        """Stop waiting for ``future``; the DHT process cancels the call's task (best effort)."""
        call_id = getattr(future, "call_id", None)
        if call_id is None or self._pending.pop(call_id, None) is None:
            return
        future.cancel()
        with self._send_lock, contextlib.suppress(OSError, EOFError, ValueError):
            if not self._closed:
                self._conn.send(("cancel", call_id, b""))

    def close(self) -> None:
        """Fail what is still waiting and stop the reader thread. Idempotent."""
        with self._send_lock:
            if self._closed:
                return
            self._closed = True
            # a thread blocked in recv() on a descriptor is only woken by shutting the socket down
            with contextlib.suppress(OSError):
                sock = socket.socket(fileno=_dup(self._conn))
                with sock:
                    sock.shutdown(socket.SHUT_RDWR)
        self._reader.join(timeout=5)
        self._fail_pending()
        with contextlib.suppress(OSError):
            self._conn.close()

    def _read(self) -> None:
        while True:
            try:
                call_id, ok, value = self._conn.recv()
            except (EOFError, OSError, ValueError, pickle.UnpicklingError):
                break
            future = self._pending.pop(call_id, None)
            if future is None or future.done():
                continue  # cancelled by the caller
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        with self._send_lock:
            self._closed = True
        self._fail_pending()

    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(ChannelClosed("the DHT process has exited (its call channel closed)"))


def _dup(conn: Connection) -> int:
    return os.dup(conn.fileno())


# --- the far end, in the DHT process -----------------------------------------------------------------


async def _attach(dht: Any, node: Any, conn: Connection) -> bool:
    """Serve ``conn`` from the DHT process's event loop until the other side closes it."""
    loop = asyncio.get_running_loop()
    tasks: dict[int, asyncio.Task[Any]] = {}
    fd = conn.fileno()

    def reply(call_id: int, ok: bool, value: Any) -> None:
        try:
            conn.send((call_id, ok, value))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            # an answer that cannot be pickled (an exotic exception) still ends the call, as one line
            conn.send((call_id, False, RuntimeError(f"{type(value).__name__}: {value} ({exc})")))
        except (OSError, EOFError, ValueError):
            pass  # the caller is gone; the reader below sees it and stops serving

    def finished(call_id: int, task: asyncio.Task[Any]) -> None:
        tasks.pop(call_id, None)
        if task.cancelled():
            return  # the caller stopped waiting: nobody to answer
        exc = task.exception()
        reply(call_id, exc is None, task.result() if exc is None else exc)

    def readable() -> None:
        try:
            kind, call_id, payload = conn.recv()
        except (EOFError, OSError, ValueError, pickle.UnpicklingError):
            loop.remove_reader(fd)
            for task in tasks.values():
                task.cancel()
            with contextlib.suppress(OSError):
                conn.close()
            return
        if kind == "cancel":
            task = tasks.pop(call_id, None)
            if task is not None:
                task.cancel()
            return
        try:
            coro = pickle.loads(payload)
            task = asyncio.ensure_future(coro(dht, node))
        except Exception as exc:  # whatever the call was, it is answered, never fatal
            reply(call_id, False, exc)
            return
        tasks[call_id] = task
        task.add_done_callback(partial(finished, call_id))

    loop.add_reader(fd, readable)
    # the loop (uvloop) leaves a descriptor it watches non-blocking; a message larger than the socket
    # buffer would then be read half-way (BlockingIOError). It is only read once the loop reports it
    # readable, and the sender is writing the rest, so a blocking read waits no longer than the transfer.
    os.set_blocking(fd, True)
    # kept alive with the DHT object, which lives as long as the process serves
    dht._rlswarm_channel = (conn, tasks)
    return True
