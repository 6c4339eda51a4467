"""The dashboard's web server (aiohttp): the page, its static assets and a read-only JSON API.

Routes (GET only; every other method is refused):

- ``/``                  the page
- ``/static/...``        its assets (shipped in the wheel; no build step)
- ``/api``               this list, as JSON
- ``/api/instances``     every local instance: state, round/stage, peers, rank, rewards, restarts, chain,
  memory
- ``/api/rewards``       reward per stage for each instance, and cumulative rewards on one time axis
- ``/api/leaderboard``   the swarm's leaderboard (DHT, as the local nodes last read it, or the chain)
- ``/api/events``        server-sent events named ``instances``, ``rewards`` and ``leaderboard``: each part
  (the bodies above) when its content changes

Bound to loopback by default, where requests must name a loopback host (a page on another site cannot
reach the API through DNS rebinding). Any other address requires a token: ``Authorization: Bearer``,
or ``?token=`` once in the browser, which sets a cookie for the page's own requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rlswarm_core.dashboard.collector import Collector, DashboardOptions
from rlswarm_core.errors import ConfigError

STATIC = Path(__file__).parent / "static"
COOKIE = "rlswarm_dashboard"
KEEPALIVE_S = 15.0
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; frame-ancestors 'none'"
)
API_INDEX = {
    "/api/instances": "each local instance: state, round/stage, peers, rank, rewards, restarts, chain, RSS;"
    " active alerts",
    "/api/rewards": "reward per stage for each instance, and cumulative rewards; ?limit=N points each",
    "/api/leaderboard": "the swarm's leaderboard (source dht or chain)",
    "/api/events": "server-sent events 'instances', 'rewards', 'leaderboard': each part when it changes",
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The host part of a Host header: ``[::1]:8640`` -> ``::1``, ``localhost:8640`` -> ``localhost``."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def check_options(options: DashboardOptions) -> None:
    if not is_loopback(options.host) and not options.token:
        raise ConfigError(
            f"serving the dashboard on {options.host} needs a token",
            "set RLSWARM_DASHBOARD_TOKEN, or let 'rlswarm dashboard' generate one",
        )
    if options.leaderboard not in ("dht", "chain"):
        raise ConfigError(f"unknown leaderboard source {options.leaderboard!r}", "use dht or chain")
    if options.interval_s <= 0:
        raise ConfigError("the refresh interval must be positive")


def _json(data: Any, status: int = 200) -> Any:
    from aiohttp import web

    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


def build_app(options: DashboardOptions, collector: Collector) -> Any:
    from aiohttp import web

    loopback = is_loopback(options.host)

    @web.middleware
    async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        if loopback and not is_loopback(host_name(request.host or "")):
            return _json({"error": "requests must address a loopback host"}, 403)
        set_cookie = False
        if options.token:
            given = request.query.get("token") or request.cookies.get(COOKIE) or ""
            header = request.headers.get("Authorization", "")
            if header.startswith("Bearer "):
                given = header[7:]
            if not hmac.compare_digest(given.encode(), options.token.encode()):
                return _json({"error": "missing or wrong token"}, 401)
            set_cookie = "token" in request.query
        response = await handler(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.path.startswith("/api"):
            response.headers["Cache-Control"] = "no-store"
        if set_cookie and options.token and not response.prepared:
            response.set_cookie(COOKIE, options.token, httponly=True, samesite="Strict")
        return response

    async def index(request: web.Request) -> Any:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def api(request: web.Request) -> Any:
        return _json({"endpoints": API_INDEX})

    def part(name: str) -> Callable[[web.Request], Awaitable[Any]]:
        async def handler(request: web.Request) -> Any:
            return _json(collector.snapshot.get(name) or {})

        return handler

    async def rewards(request: web.Request) -> Any:
        raw = request.query.get("limit")
        if raw is None:
            return _json(collector.snapshot.get("rewards") or {})
        try:
            limit = int(raw)
        except ValueError:
            return _json({"error": "limit must be a whole number"}, 400)
        from rlswarm_core.dashboard.collector import collect_instances_and_rewards

        opts = DashboardOptions(**{**options.__dict__, "points": max(0, limit)})
        _, data = await asyncio.to_thread(collect_instances_and_rewards, opts)
        return _json(data)

    async def events(request: web.Request) -> Any:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        seen = 0
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while True:
                version = await collector.newer_than(seen, KEEPALIVE_S)
                if version == seen:
                    await response.write(b": keepalive\n\n")
                    continue
                # only the parts that changed since this client's last event
                for name, changed_at in collector.part_versions.items():
                    if changed_at > seen:
                        payload = json.dumps(collector.snapshot[name], default=str)
                        await response.write(f"event: {name}\nid: {version}\ndata: {payload}\n\n".encode())
                seen = version
        return response

    app = web.Application(middlewares=[guard])
    app.router.add_get("/", index)
    app.router.add_get("/api", api)
    app.router.add_get("/api/instances", part("instances"))
    app.router.add_get("/api/rewards", rewards)
    app.router.add_get("/api/leaderboard", part("leaderboard"))
    app.router.add_get("/api/events", events)
    app.router.add_static("/static/", STATIC, show_index=False, follow_symlinks=False)
    return app


class DashboardServer:
    """Runs the dashboard on its own event loop; ``serve_forever`` in the foreground, or start/close."""

    def __init__(self, options: DashboardOptions) -> None:
        check_options(options)
        self.options = options
        self.collector = Collector(options)
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = self.options.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        shown = f"[{shown}]" if ":" in shown else shown
        return f"http://{shown}:{self.port}/"

    async def _main(self, ready: Callable[[DashboardServer], None] | None) -> None:
        from aiohttp import web

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await self.collector.refresh()
        runner = web.AppRunner(build_app(self.options, self.collector), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.options.host, self.options.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"cannot serve the dashboard on {self.options.host}:{self.options.port}: "
                f"{os.strerror(exc.errno) if exc.errno else exc}",
                "choose another --port",
            ) from None
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else self.options.port
        refresher = asyncio.create_task(self.collector.run())
        try:
            if ready is not None:
                ready(self)
            await self._stop.wait()
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            await runner.cleanup()

    def serve_forever(self, ready: Callable[[DashboardServer], None] | None = None) -> None:
        """Serve until SIGINT or SIGTERM (main thread only), then shut down cleanly."""
        import signal

        async def main() -> None:
            loop = asyncio.get_running_loop()
            task = asyncio.create_task(self._main(ready))
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._request_stop)
            await task

        asyncio.run(main())

    def _request_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def start(self, timeout: float = 30.0) -> str:
        """Serve from a background thread; returns the URL once the socket is listening."""
        started = threading.Event()
        failure: list[BaseException] = []

        def target() -> None:
            try:
                asyncio.run(self._main(lambda _: started.set()))
            except BaseException as exc:
                failure.append(exc)
                started.set()

        self._thread = threading.Thread(target=target, name="rlswarm-dashboard", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise RuntimeError("the dashboard did not start in time")
        if failure:
            raise failure[0]
        return self.url

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
