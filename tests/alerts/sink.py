"""A loopback HTTP server standing in for a webhook receiver, the Telegram Bot API and an ntfy server.

It records every request (path, headers, body) and answers as the real service would; ``fail_next``
makes the next requests fail with HTTP 500, as a service having a bad minute does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Sink:
    url: str
    requests: list[Request] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def matching(self, prefix: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def wait_for(self, check: Callable[[Sink], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(self):
                return
            time.sleep(0.1)
        with self.lock:
            seen = [(r.path, r.body[:200]) for r in self.requests]
        raise AssertionError(f"{what} within {timeout:.0f} s; requests: {seen}")


@contextmanager
def sink() -> Iterator[Sink]:
    state: dict[str, Sink] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            server = state["sink"]
            with server.lock:
                failing = server.fail_next > 0
                server.fail_next -= 1 if failing else 0
                if not failing:
                    server.requests.append(Request(self.path, dict(self.headers.items()), body))
            if failing:
                self.send_response(500)
                self.end_headers()
                return
            if "/sendMessage" in self.path:
                reply = json.dumps({"ok": True, "result": {"message_id": len(server.requests)}}).encode()
            else:
                reply = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["sink"] = Sink(url=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["sink"]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
