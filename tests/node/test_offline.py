"""A local profile is offline: a real ``rlswarm join`` of ``local-tiny`` sends nothing to the Hugging Face
Hub, whose endpoint is a loopback server here that records every request it gets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.node.procs import NodeProcess

pytestmark = pytest.mark.slow


class _Recorder(BaseHTTPRequestHandler):
    requests: list[str]

    def _any(self) -> None:
        self.requests.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = do_PUT = _any

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def hub_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A loopback Hub endpoint, and an environment as an operator's shell has it: not offline, no CI flag
    (trl sends no telemetry when CI is set, which would hide the fault)."""
    requests: list[str] = []
    handler = type("Recorder", (_Recorder,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "CI"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HF_HUB_DISABLE_TELEMETRY", "DISABLE_TELEMETRY", "DO_NOT_TRACK"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_local_join_sends_nothing_to_the_hub(hub_endpoint: list[str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    node = NodeProcess(
        "offline",
        home,
        ["--profile", "local-tiny", "--port", "0", "--host", "127.0.0.1", "--max-rounds", "2"],
    )
    try:
        assert node.wait(300) == 0, node.describe()
    finally:
        node.stop()
    assert [e["round"] for e in node.of("RoundFinished")] == [0, 1]  # trainers started in every stage
    assert hub_endpoint == [], f"requests to the Hub endpoint during a local join: {hub_endpoint}"
    # the switches live in the node's process only, never in the operator's files
    written = "".join(p.read_text(errors="replace") for p in (home / "config").rglob("*") if p.is_file())
    assert "HF_HUB" not in written
