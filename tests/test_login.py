"""`rlswarm login …` / `logout` through the real CLI, a real gnome-keyring and a local Hub stand-in."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from rlswarm_core.secrets.store import SecretStore
from rlswarm_core.system.paths import app_paths
from tests.helpers import Cli

WRITE_TOKEN = "hf_aliceWriteToken0123456789"
READ_TOKEN = "hf_bobReadToken0123456789ab"
FINE_WRITE_TOKEN = "hf_carolFineGrainedWrite0123"
FINE_READ_TOKEN = "hf_daveFineGrainedRead012345"
INVALID_TOKEN = "hf_revokedToken0123456789ab"
WALLET_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
WALLET_ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
ORG_ID = "org-7f3a9c2e-41d8-4b6a"
API_KEY = "pk_live_proxyApiKey987654321"

_ACCOUNTS: dict[str, dict[str, Any]] = {
    WRITE_TOKEN: {"name": "alice", "accessToken": {"displayName": "push", "role": "write"}},
    READ_TOKEN: {"name": "bob", "accessToken": {"displayName": "look", "role": "read"}},
    FINE_WRITE_TOKEN: {
        "name": "carol",
        "accessToken": {
            "displayName": "fine",
            "role": "fineGrained",
            "fineGrained": {
                "global": [],
                "scoped": [
                    {
                        "entity": {"type": "user", "name": "carol"},
                        "permissions": ["repo.content.read", "repo.write"],
                    }
                ],
            },
        },
    },
    FINE_READ_TOKEN: {
        "name": "dave",
        "accessToken": {
            "displayName": "fine-read",
            "role": "fineGrained",
            "fineGrained": {
                "global": ["discussion.write"],
                "scoped": [
                    {"entity": {"type": "user", "name": "dave"}, "permissions": ["repo.content.read"]}
                ],
            },
        },
    },
}


class _WhoamiHandler(BaseHTTPRequestHandler):
    """Answers /api/whoami-v2 the way the Hub does."""

    def do_GET(self) -> None:
        if self.path != "/api/whoami-v2":
            self._reply(404, {"error": "not found"})
            return
        token = (self.headers.get("authorization") or "").removeprefix("Bearer ")
        account = _ACCOUNTS.get(token)
        if account is None:
            self._reply(401, {"error": "Invalid credentials in Authorization header"})
            return
        self._reply(
            200,
            {
                "type": "user",
                "name": account["name"],
                "auth": {"type": "access_token", "accessToken": account["accessToken"]},
            },
        )

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hub_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WhoamiHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def hub_online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let huggingface_hub make requests (the suite runs offline, and the library reads these once)."""
    import huggingface_hub.constants as constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def flat(text: str) -> str:
    """Terminal output wraps at the console width; compare words, not line breaks."""
    return " ".join(text.split())


def config() -> dict[str, Any]:
    path = app_paths().config_file
    return yaml.safe_load(path.read_text()) if path.exists() else {}


def stored(key: str) -> str | None:
    return SecretStore().get(key).value


def test_login_hf_write_token(
    keyring_env: dict[str, str], hub_online: None, hub_url: str, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub_url)
    result = cli("login", "hf", input=WRITE_TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert "as alice (write) stored in keyring (SecretService Keyring)" in flat(result.stdout)
    assert stored("hf_token") == WRITE_TOKEN
    assert config()["hf_user"] == "alice"


def test_login_hf_fine_grained_write_token(
    keyring_env: dict[str, str], hub_online: None, hub_url: str, cli: Cli
) -> None:
    result = cli(
        "--json", "login", "hf", "--token-stdin", "--endpoint", hub_url, input=FINE_WRITE_TOKEN + "\n"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["user"], data["role"], data["can_write"], data["verified"]) == (
        "carol",
        "fineGrained",
        True,
        True,
    )
    assert stored("hf_token") == FINE_WRITE_TOKEN


def test_login_hf_read_token_is_refused(
    keyring_env: dict[str, str], hub_online: None, hub_url: str, cli: Cli
) -> None:
    result = cli("login", "hf", "--endpoint", hub_url, input=READ_TOKEN + "\n")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith("error: the token of bob is read-only")
    assert "create a write token" in line and "--allow-read-only" in line
    assert stored("hf_token") is None

    result = cli("login", "hf", "--endpoint", hub_url, input=FINE_READ_TOKEN + "\n")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the token of dave is read-only (fineGrained)")

    result = cli("login", "hf", "--endpoint", hub_url, "--allow-read-only", input=READ_TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert "uploads to the Hub will fail" in flat(result.stderr)
    assert stored("hf_token") == READ_TOKEN


def test_login_hf_invalid_token(
    keyring_env: dict[str, str], hub_online: None, hub_url: str, cli: Cli
) -> None:
    result = cli("login", "hf", "--endpoint", hub_url, input=INVALID_TOKEN + "\n")
    assert result.exit_code == 1
    assert result.stderr.strip().startswith(f"error: the Hub at {hub_url} rejected the token (HTTP 401")
    assert stored("hf_token") is None


def test_login_hf_hub_unreachable_stores_with_note(
    keyring_env: dict[str, str],
    hub_online: None,
    closed_port_url: str,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url)
    result = cli("login", "hf", input=WRITE_TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert f"could not verify the token: cannot reach {closed_port_url}" in flat(result.stderr)
    assert "stored it unchecked" in flat(result.stderr)
    assert stored("hf_token") == WRITE_TOKEN
    assert "hf_user" not in config()


def test_silent_hub_times_out_unverified(hub_online: None) -> None:
    from rlswarm_core.hub.auth import check_token

    # Accepts connections (kernel backlog) but never answers, like a black-holed proxy.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        check = check_token(WRITE_TOKEN, endpoint=url, timeout=0.5)
        assert time.monotonic() - started < 5
    assert not check.verified
    assert check.problem == f"cannot reach {url} (TimeoutError)"


def test_login_hf_rejects_token_argument(keyring_env: dict[str, str], cli: Cli) -> None:
    result = cli("login", "hf", WRITE_TOKEN)
    assert result.exit_code == 2
    assert stored("hf_token") is None


def test_login_hf_without_backend(
    no_keyring_backend: None, hub_online: None, closed_port_url: str, cli: Cli
) -> None:
    result = cli("login", "hf", "--endpoint", closed_port_url, input=WRITE_TOKEN + "\n")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "\n" not in line
    assert "Secret Service" in line and "RLSWARM_HF_TOKEN" in line and "--insecure-storage" in line
    # one short line: what is wrong, then the three ways out
    assert len(line) <= 200, line
    assert line.startswith("error: cannot store the Hugging Face token: no secure keyring is running (")

    result = cli("login", "hf", "--endpoint", closed_port_url, "--insecure-storage", input=WRITE_TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert "stored in plain text" in flat(result.stderr)
    path = app_paths().insecure_secrets_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config()["insecure_storage"] is True
    assert stored("hf_token") == WRITE_TOKEN


def test_login_wallet_shows_only_the_address(keyring_env: dict[str, str], cli: Cli) -> None:
    result = cli("login", "wallet", input=WALLET_KEY + "\n")
    assert result.exit_code == 0, result.output
    assert WALLET_ADDRESS in result.stdout
    assert WALLET_KEY[2:] not in result.output
    assert stored("wallet_private_key") == WALLET_KEY
    assert config()["wallet_address"] == WALLET_ADDRESS

    result = cli("login", "wallet", input="0x1234\n")
    assert result.exit_code == 1
    assert "must be 32 bytes of hex" in result.stderr


def test_login_proxy(keyring_env: dict[str, str], cli: Cli) -> None:
    result = cli("login", "proxy", "--url", "https://proxy.example.org/", input=f"{ORG_ID}\n{API_KEY}\n")
    assert result.exit_code == 0, result.output
    assert stored("proxy_org_id") == ORG_ID
    assert stored("proxy_api_key") == API_KEY
    assert config()["proxy_url"] == "https://proxy.example.org"

    result = cli("login", "proxy", "--url", "ftp://nowhere", input=f"{ORG_ID}\n{API_KEY}\n")
    assert result.exit_code == 1
    assert "invalid proxy URL" in result.stderr


def test_status_is_masked(keyring_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, cli: Cli) -> None:
    SecretStore().set("hf_token", WRITE_TOKEN)
    SecretStore().set("proxy_api_key", API_KEY)
    monkeypatch.setenv("RLSWARM_WALLET_PRIVATE_KEY", WALLET_KEY)

    result = cli("login", "status")
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    assert "keyring backend: SecretService Keyring" in text
    assert "Hugging Face token hf_…789 from keyring (SecretService Keyring)" in text
    assert "wallet private key 0x4…318 from environment variable RLSWARM_WALLET_PRIVATE_KEY" in text
    assert "proxy org id not set" in text

    result = cli("login", "status", "--json")
    data = json.loads(result.stdout)
    rows = {row["name"]: row for row in data["secrets"]}
    assert data["backend"] == "SecretService Keyring"
    assert rows["hf_token"] == {
        "name": "hf_token",
        "label": "Hugging Face token",
        "set": True,
        "masked": "hf_…789",
        "origin": "keyring",
        "source": "SecretService Keyring",
    }
    assert rows["wallet_private_key"]["origin"] == "env"
    assert rows["proxy_org_id"]["set"] is False


def test_status_without_backend(no_keyring_backend: None, cli: Cli) -> None:
    result = cli("login", "status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["backend"] is None
    assert "--insecure-storage" in data["backend_problem"]
    assert not any(row["set"] for row in data["secrets"])


def test_logout(keyring_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, cli: Cli) -> None:
    assert cli("login", "wallet", input=WALLET_KEY + "\n").exit_code == 0
    assert cli("login", "proxy", "--url", "http://127.0.0.1:9", input=f"{ORG_ID}\n{API_KEY}\n").exit_code == 0
    SecretStore().set("hf_token", WRITE_TOKEN)

    result = cli("logout", "hf")
    assert result.exit_code == 0, result.output
    assert stored("hf_token") is None
    assert stored("wallet_private_key") == WALLET_KEY

    monkeypatch.setenv("HF_TOKEN", READ_TOKEN)
    result = cli("--json", "logout")
    assert result.exit_code == 0, result.output
    removed = json.loads(result.stdout)["removed"]
    assert removed["wallet_private_key"] == ["keyring (SecretService Keyring)"]
    assert removed["hf_token"] == []
    assert "HF_TOKEN is still set in the environment" in flat(result.stderr)
    for key in ("wallet_private_key", "proxy_org_id", "proxy_api_key"):
        assert stored(key) is None
    assert not {"wallet_address", "proxy_url", "hf_user"} & set(config())


def test_logout_removes_insecure_file(no_keyring_backend: None, cli: Cli) -> None:
    assert cli("login", "wallet", "--insecure-storage", input=WALLET_KEY + "\n").exit_code == 0
    assert app_paths().insecure_secrets_file.exists()
    assert cli("logout", "wallet").exit_code == 0
    assert not app_paths().insecure_secrets_file.exists()


def test_secrets_never_reach_output_or_files(
    keyring_env: dict[str, str], hub_online: None, hub_url: str, rlswarm_home: Path, cli: Cli
) -> None:
    runs = [
        cli("--debug", "login", "hf", "--endpoint", hub_url, input=WRITE_TOKEN + "\n"),
        cli("login", "hf", "--endpoint", hub_url, input=READ_TOKEN + "\n"),
        cli("login", "hf", "--endpoint", hub_url, input=INVALID_TOKEN + "\n"),
        cli("login", "wallet", input=WALLET_KEY + "\n"),
        cli("login", "proxy", "--url", "https://proxy.example.org", input=f"{ORG_ID}\n{API_KEY}\n"),
        cli("login", "status"),
        cli("login", "status", "--json"),
        cli("--json", "login", "hf", "--endpoint", hub_url, input=WRITE_TOKEN + "\n"),
        cli("logout", "all"),
    ]
    captured = "\n".join(run.stdout + run.stderr for run in runs)
    files = "\n".join(path.read_text(errors="replace") for path in rlswarm_home.rglob("*") if path.is_file())
    assert "alice" in captured and WALLET_ADDRESS in captured  # the runs did happen
    for secret in (WRITE_TOKEN, READ_TOKEN, INVALID_TOKEN, WALLET_KEY, WALLET_KEY[2:], ORG_ID, API_KEY):
        assert secret not in captured
        assert secret not in files


def test_status_imports_no_heavy_modules(no_keyring_backend: None) -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from rlswarm_cli.main import app\n"
        "result = CliRunner().invoke(app, ['login', 'status'])\n"
        "assert result.exit_code == 0, result.output\n"
        "heavy = ['torch', 'transformers', 'trl', 'hivemind', 'web3', 'huggingface_hub', 'eth_account']\n"
        "print(','.join(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
