"""A development proxy server: the proxy API on loopback, signing with a devnet key.

It stands in for the hosted login service so that proxy mode runs end to end against a local chain.
Answers: 200 ``{"ok": true, "account", "txHash"}``; 400 ``{"error": <contract error>, "message"}`` for a
revert or bad request; 401 for an unknown org id; 503 when the chain is unreachable.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rlswarm_core.chain.errors import ChainError, ChainUnavailable, ContractRevert, PeerIdTaken
from rlswarm_core.chain.proxy import register_org_id
from rlswarm_core.chain.wallet import WalletClient
from rlswarm_core.secrets.redact import redact

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


class _BadRequest(Exception):
    pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up before the answer leaves a broken pipe: not worth a traceback on stderr.
        log.debug("proxy connection from %s ended early", client_address)


class ProxyServer:
    """Serve the proxy API for ``org_id`` with ``wallet`` signing; ``start()`` runs it on a thread."""

    def __init__(self, wallet: WalletClient, org_id: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        register_org_id(org_id)
        self.wallet = wallet
        self._org_id = org_id
        self._server = _QuietServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ProxyServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="proxy-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted (the CLI's foreground mode)."""
        self._server.serve_forever()

    def stop_listening(self) -> None:
        self._server.server_close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ProxyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- request handling -----

    def _routes(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "/register-peer": self._register,
            "/submit-reward": self._reward,
            "/submit-winner": self._winners,
        }

    def _register(self, body: dict[str, Any]) -> dict[str, Any]:
        result = self.wallet.register_peer(_str(body, "peerId"))
        return {
            "ok": True,
            "account": result.account,
            "alreadyRegistered": result.already_registered,
            "txHash": result.tx_hash,
        }

    def _reward(self, body: dict[str, Any]) -> dict[str, Any]:
        tx = self.wallet.submit_reward(
            _uint(body, "roundNumber"), _uint(body, "stageNumber"), _int(body, "reward"), _str(body, "peerId")
        )
        return {"ok": True, "account": self.wallet.address, "txHash": tx.tx_hash}

    def _winners(self, body: dict[str, Any]) -> dict[str, Any]:
        winners = body.get("winners")
        if not isinstance(winners, list) or not all(isinstance(w, str) for w in winners):
            raise _BadRequest("winners must be a list of peer id strings")
        tx = self.wallet.submit_winners(_uint(body, "roundNumber"), winners, _str(body, "peerId"))
        return {"ok": True, "account": self.wallet.address, "txHash": tx.tx_hash}

    def handle(self, path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        route = self._routes().get(path.rstrip("/") or "/")
        if route is None:
            return HTTPStatus.NOT_FOUND, {"error": "NotFound", "message": f"no endpoint {path}"}
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return HTTPStatus.BAD_REQUEST, {"error": "BadRequest", "message": "the body is not JSON"}
        if not isinstance(body, dict):
            return HTTPStatus.BAD_REQUEST, {
                "error": "BadRequest",
                "message": "the body must be a JSON object",
            }
        org = body.get("orgId")
        if not isinstance(org, str) or not hmac.compare_digest(org.encode(), self._org_id.encode()):
            return HTTPStatus.UNAUTHORIZED, {"error": "UnknownOrg", "message": "unknown orgId"}
        try:
            return HTTPStatus.OK, route(body)
        except _BadRequest as exc:
            return HTTPStatus.BAD_REQUEST, {"error": "BadRequest", "message": str(exc)}
        except PeerIdTaken as exc:
            return HTTPStatus.BAD_REQUEST, {"error": "PeerIdAlreadyRegistered", "message": exc.one_line()}
        except ContractRevert as exc:
            return HTTPStatus.BAD_REQUEST, {"error": exc.name, "message": exc.one_line()}
        except ChainUnavailable as exc:
            return HTTPStatus.SERVICE_UNAVAILABLE, {"error": "ChainUnavailable", "message": exc.one_line()}
        except ChainError as exc:
            return HTTPStatus.INTERNAL_SERVER_ERROR, {"error": type(exc).__name__, "message": exc.one_line()}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "rlswarm-devnet-proxy"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self._reply(
                        HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "BadRequest", "message": "too large"}
                    )
                    return
                status, body = server.handle(self.path, self.rfile.read(length))
                self._reply(status, body)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/health":
                    self._reply(HTTPStatus.OK, {"ok": True, "account": server.wallet.address})
                else:
                    self._reply(
                        HTTPStatus.NOT_FOUND, {"error": "NotFound", "message": f"no endpoint {self.path}"}
                    )

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = redact(json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("proxy %s", redact(format % args))

        return Handler


def _str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise _BadRequest(f"{key} must be a non-empty string")
    return value


def _int(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _BadRequest(f"{key} must be an integer")
    return value


def _uint(body: dict[str, Any], key: str) -> int:
    value = _int(body, key)
    if value < 0:
        raise _BadRequest(f"{key} must not be negative")
    return value
