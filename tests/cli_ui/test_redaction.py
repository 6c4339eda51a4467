"""A secret planted in every source a command can print never reaches its output, human or JSON.

The secret is the Hugging Face token (set in the environment, as operators do) and it is also planted in:
the data directory's path (so every printed path holds it), settings in config.yaml, a user profile's
description, file names that become table cells (identities, instance journals), an instance's log, the
names and arguments given on the command line (echoed back in errors), and the answers of a loopback
server standing in for the Hub and a chain RPC endpoint (echoed back in errors and checks).

Every command runs here except ``join``, whose output (live panel, event lines, log file) is covered by
its own tests in tests/node and tests/chain/test_secret_hygiene.py.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rlswarm_core.instances.logfile import RotatingLog
from tests.helpers import Cli, command_leaves
from tests.rewards.journals import write_journal

SECRET = "hfPlantedSecret0123456789xyz"
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
NOT_COVERED_HERE = {("join",)}


class _Leaky(BaseHTTPRequestHandler):
    """Answers everything with an error that quotes the secret, as a careless server might."""

    def do_GET(self) -> None:
        self._reply(500, {"error": f"internal error for {SECRET}"})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            request = {}
        if isinstance(request, dict) and "jsonrpc" in request:
            error = {"code": -32000, "message": f"execution reverted: {SECRET}", "data": SECRET}
            self._reply(200, {"jsonrpc": "2.0", "id": request.get("id"), "error": error})
        else:
            self._reply(500, {"error": f"refused {SECRET}"})

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def leaky_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Leaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def planted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leaky_server: str, no_keyring_backend: None
) -> Iterator[dict[str, Any]]:
    home = tmp_path / f"home-{SECRET}"
    monkeypatch.setenv("RLSWARM_HOME", str(home))
    monkeypatch.setenv("RLSWARM_HF_TOKEN", SECRET)
    monkeypatch.setenv("HF_ENDPOINT", leaky_server)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the Hub stand-in is on loopback
    from rlswarm_core.settings.resolve import save_user_config
    from rlswarm_core.system.paths import app_paths

    paths = app_paths().ensure()
    save_user_config(
        {
            "hub_repo_id": SECRET,
            "hf_user": SECRET,
            "proxy_url": f"https://{SECRET}.example",
            "rpc_url": leaky_server,
        }
    )
    paths.user_profiles.mkdir(parents=True, exist_ok=True)
    (paths.user_profiles / "mine.yaml").write_text(
        f"name: mine\ndescription: tuned by {SECRET}\nsettings: {{model: builtin:tiny-qwen2, dtype: float32,"
        " device: cpu, batch_size: 2, num_generations: 2, max_completion_length: 16}\n"
    )
    write_journal(SECRET, 2)  # an instance folder (rewards' name column) and an identity (identity list)
    log = RotatingLog(paths.logs / "node-1.log")
    log.write(f"node says {SECRET}")
    log.close()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        yield {"home": home, "url": leaky_server, "busy_port": busy.getsockname()[1]}
    finally:
        busy.close()


def _invocations(env: dict[str, Any]) -> list[tuple[tuple[str, ...], list[str], str | None]]:
    """(command path, arguments, stdin) for every command but join."""
    url, port = env["url"], str(env["busy_port"])
    chain = ["--rpc-url", url, "--contract", CONTRACT]
    wallet_key = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
    return [
        (("instances", "plan"), ["instances", "plan", "-p", "mine"], None),
        (
            ("instances", "add"),
            ["instances", "add", "-p", "local-tiny", "--name", "node-1", "--port", port],
            None,
        ),
        (("instances", "add"), ["instances", "add", "--name", SECRET], None),
        (("instances", "list"), ["instances", "list"], None),
        (("instances", "start"), ["instances", "start", SECRET], None),
        (("instances", "stop"), ["instances", "stop", SECRET], None),
        (("instances", "restart"), ["instances", "restart", SECRET], None),
        (("instances", "logs"), ["instances", "logs", "node-1"], None),
        (("instances", "remove"), ["instances", "remove", SECRET], None),
        (("rewards",), ["rewards"], None),
        (("rewards",), ["rewards", "--source", "chain", "--peer", "QmX", *chain], None),
        (("doctor",), ["doctor"], None),
        (("push-hub",), ["push-hub", "--dry-run"], None),
        (("push-hub",), ["push-hub", "--instance", SECRET], None),
        (("login", "hf"), ["login", "hf", "--insecure-storage"], SECRET + "\n"),
        (("login", "wallet"), ["login", "wallet", "--insecure-storage"], wallet_key + "\n"),
        (("login", "proxy"), ["login", "proxy", "--insecure-storage"], "org\nkey-123456\n"),
        (("login", "status"), ["login", "status"], None),
        (("logout",), ["logout", "wallet"], None),
        (("identity", "create"), ["identity", "create", "--name", "n2"], None),
        (("identity", "import"), ["identity", "import", str(env["home"] / "absent.pem")], None),
        (("identity", "show"), ["identity", "show", "--name", SECRET], None),
        (("identity", "list"), ["identity", "list"], None),
        (("identity", "name"), ["identity", "name", SECRET], None),
        (("profiles", "list"), ["profiles", "list"], None),
        (("profiles", "show"), ["profiles", "show", "mine"], None),
        (("profiles", "show"), ["profiles", "show", SECRET], None),
        (("profiles", "recommend"), ["profiles", "recommend"], None),
        (("config", "show"), ["config", "show"], None),
        (("config", "set"), ["config", "set", "hub_org", SECRET], None),
        (("config", "unset"), ["config", "unset", SECRET], None),
        (("config", "paths"), ["config", "paths"], None),
        (("devnet", "up"), ["devnet", "up", "--port", port], None),
        (("devnet", "proxy"), ["devnet", "proxy", "--port", "0", *chain], None),
        (
            ("swarm", "create"),
            [
                "swarm",
                "create",
                str(env["home"] / "s.yaml"),
                "--name",
                "s1",
                "--set",
                f"hub_repo_id={SECRET}",
                "--force",
            ],
            None,
        ),
        (("swarm", "deploy"), ["swarm", "deploy", str(env["home"] / f"{SECRET}.yaml")], None),
        (("swarm", "serve"), ["swarm", "serve", str(env["home"] / f"{SECRET}.yaml")], None),
        (("swarm", "status"), ["swarm", "status", str(env["home"] / f"{SECRET}.yaml")], None),
        (("completion",), ["completion", "bash"], None),
        (("dashboard",), ["dashboard", "--port", port], None),
        (("alerts", "add", "webhook"), ["alerts", "add", "webhook", SECRET], f"{url}/hook\n"),
        (("alerts", "add", "telegram"), ["alerts", "add", "telegram", "tg", "--chat-id", "1"], SECRET + "\n"),
        (
            ("alerts", "add", "ntfy"),
            ["alerts", "add", "ntfy", "phone", "--topic", SECRET, "--server", url],
            None,
        ),
        (("alerts", "list"), ["alerts", "list"], None),
        (("alerts", "test"), ["alerts", "test", SECRET], None),
        (("alerts", "remove"), ["alerts", "remove", SECRET], None),
        (("alerts", "rules"), ["alerts", "rules", "--set", f"stall_rounds={SECRET}"], None),
    ]


def test_no_command_prints_a_planted_secret(planted: dict[str, Any], cli: Cli) -> None:
    invocations = _invocations(planted)
    covered = {path for path, _, _ in invocations}
    assert covered | NOT_COVERED_HERE == {path for path, _ in command_leaves()}, "a command is missing here"
    masked = 0
    for _, args, stdin in invocations:
        for mode in ([], ["--json"]):
            result = cli(*mode, *args, input=stdin)
            shown = result.stdout + result.stderr
            assert SECRET not in shown, (mode, args, shown)
            assert SECRET.lower() not in shown.lower(), (mode, args, shown)
            masked += "***" in shown
    # the planted values were reached: most invocations printed something that had to be masked
    assert masked >= len(invocations)
