"""``rlswarm doctor`` against real conditions: files, sockets, HTTP servers and processes on this host."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest

from rlswarm_core.doctor import (
    ERROR,
    OK,
    WARNING,
    CheckResult,
    build_context,
    rank,
    report,
    run_check,
    run_checks,
)
from rlswarm_core.doctor.identities import check_identities
from rlswarm_core.doctor.network import TcpTarget, check_bootstrap, check_ports, check_rpc, parse_multiaddr
from rlswarm_core.doctor.p2pd import check_p2pd
from rlswarm_core.doctor.secrets_checks import check_hf_token, check_keyring
from rlswarm_core.doctor.system import (
    check_accelerator,
    check_config,
    check_disk,
    check_packages,
    check_python,
)
from rlswarm_core.identity.keys import create_identity
from rlswarm_core.secrets.store import SecretStore
from rlswarm_core.settings import profiles
from rlswarm_core.settings.resolve import update_user_config
from rlswarm_core.system import hardware
from rlswarm_core.system.paths import app_paths
from tests.helpers import Cli, heavy_imports_of, run_rlswarm

RPC_CHAIN_ID = 685685
PEER_ID = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
HEAVY = ("torch", "transformers", "trl", "hivemind", "web3")


def by_name(results: list[CheckResult], name: str) -> CheckResult:
    found = [r for r in results if r.name == name]
    assert len(found) == 1, [r.name for r in results]
    return found[0]


def closed_port() -> int:
    """A loopback port nobody listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def listening_socket() -> Iterator[int]:
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]
    finally:
        sock.close()


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class JsonRpcNode(_Quiet):
    """Answers ``eth_chainId`` like an EVM node; anything else is a JSON-RPC 'method not found'."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if request.get("method") == "eth_chainId":
            self._json(200, {"jsonrpc": "2.0", "id": request["id"], "result": hex(RPC_CHAIN_ID)})
        else:
            self._json(
                200, {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": -32601, "message": "nope"}}
            )


class NotAnRpcNode(_Quiet):
    def do_POST(self) -> None:
        self._json(200, {"hello": "world"})


WRITE_TOKEN = "hf_doctorWriteToken0123456789"
READ_TOKEN = "hf_doctorReadToken0123456789"
FINE_TOKEN = "hf_doctorFineToken0123456789"


class FakeHub(_Quiet):
    """The Hub's whoami-v2 endpoint, answering per token the way huggingface.co does."""

    def do_GET(self) -> None:
        if self.path != "/api/whoami-v2":
            self._json(404, {"error": "not found"})
            return
        token = self.headers.get("authorization", "").removeprefix("Bearer ")
        access: dict[str, Any]
        if token == WRITE_TOKEN:
            access = {"role": "write"}
        elif token == READ_TOKEN:
            access = {"role": "read"}
        elif token == FINE_TOKEN:
            access = {
                "role": "fineGrained",
                "fineGrained": {
                    "scoped": [{"entity": {"type": "user"}, "permissions": ["repo.content.read"]}]
                },
            }
        else:
            self._json(401, {"error": "Invalid credentials in Authorization header"})
            return
        self._json(200, {"type": "user", "name": "swarm-operator", "auth": {"accessToken": access}})


# --- identities -------------------------------------------------------------------------------------


def test_identity_readable_by_others_is_an_error_with_chmod_fix() -> None:
    folder = app_paths().identities
    path = create_identity(folder / "node.pem").path
    os.chmod(path, 0o644)
    result = check_identities(folder)
    assert result.status == ERROR
    assert "0644" in result.summary
    assert f"chmod 600 {path}" in result.fix
    os.chmod(path, 0o600)
    assert check_identities(folder).status == OK


def test_valid_private_identity_is_ok() -> None:
    folder = app_paths().identities
    ident = create_identity(folder / "node.pem")
    result = check_identities(folder)
    assert result.status == OK, result
    assert result.details["identities"][0]["peer_id"] == ident.peer_id
    assert ident.animal_name in result.summary


def test_invalid_identity_file_is_an_error() -> None:
    folder = app_paths().identities
    folder.mkdir(parents=True)
    bad = folder / "broken.pem"
    bad.write_bytes(b"not a key at all")
    os.chmod(bad, 0o600)
    result = check_identities(folder)
    assert result.status == ERROR
    assert "broken.pem" in result.summary
    assert "chmod" not in result.fix


def test_no_identity_is_a_warning() -> None:
    result = check_identities(app_paths().identities)
    assert result.status == WARNING
    assert result.fix == "create one with rlswarm identity create"


# --- ports ------------------------------------------------------------------------------------------


def test_port_in_use_is_a_warning_naming_the_process() -> None:
    with listening_socket() as port:
        result = check_ports("0.0.0.0", port)
    assert result.status == WARNING
    assert str(port) in result.summary
    busy = result.details["busy"][0]
    assert busy["port"] == port
    # psutil sees this very process holding the port.
    assert busy["process"]["pid"] == os.getpid()
    assert f"pid {os.getpid()}" in result.summary


def test_free_ports_are_ok_and_the_configured_port_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    with listening_socket() as port:
        monkeypatch.setenv("RLSWARM_DHT_PORT", str(port))
        results = run_checks(build_context(online=False))
        ports = by_name(results, "dht-ports")
    assert ports.status == WARNING
    assert ports.details["ports"] == [port, port + 1, port + 2]
    result = check_ports("127.0.0.1", closed_port(), count=1)
    assert result.status == OK, result


# --- chain RPC ---------------------------------------------------------------------------------------


def test_rpc_answering_eth_chain_id_is_ok() -> None:
    with http_server(JsonRpcNode) as url:
        result = check_rpc(url, timeout=3)
    assert result.status == OK, result
    assert result.details["chain_id"] == RPC_CHAIN_ID
    assert str(RPC_CHAIN_ID) in result.summary


def test_rpc_on_closed_port_is_an_error() -> None:
    result = check_rpc(f"http://127.0.0.1:{closed_port()}", timeout=3)
    assert result.status == ERROR
    assert "cannot reach" in result.summary


def test_rpc_that_is_not_json_rpc_is_an_error() -> None:
    with http_server(NotAnRpcNode) as url:
        result = check_rpc(url, timeout=3)
    assert result.status == ERROR
    assert "not a JSON-RPC answer" in result.summary


def test_rpc_url_from_env_and_key_in_url_is_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    with http_server(JsonRpcNode) as url:
        monkeypatch.setenv("RLSWARM_RPC_URL", f"{url}/v2/secretApiKey123")
        result = by_name(run_checks(build_context(online=False)), "chain-rpc")
    assert result.status == OK, result
    assert "secretApiKey123" not in json.dumps(result.to_dict())


def test_no_rpc_configured_is_ok() -> None:
    assert check_rpc(None).status == OK


# --- bootstrap peers ----------------------------------------------------------------------------------


def test_bootstrap_peer_listening_is_ok() -> None:
    with listening_socket() as port:
        result = check_bootstrap([f"/ip4/127.0.0.1/tcp/{port}/p2p/{PEER_ID}"], timeout=3)
    assert result.status == OK, result


def test_bootstrap_peer_on_closed_port_is_an_error() -> None:
    maddr = f"/ip4/127.0.0.1/tcp/{closed_port()}/p2p/{PEER_ID}"
    result = check_bootstrap([maddr], timeout=3)
    assert result.status == ERROR
    assert maddr in result.summary


def test_some_bootstrap_peers_down_is_a_warning() -> None:
    with listening_socket() as port:
        result = check_bootstrap(
            [f"/dns/localhost/tcp/{port}", f"/ip4/127.0.0.1/tcp/{closed_port()}/p2p/{PEER_ID}"], timeout=3
        )
    assert result.status == WARNING, result
    assert "1 of 2 unreachable" in result.summary


@pytest.mark.parametrize(
    "maddr",
    [
        "127.0.0.1:38331",
        "/ip4/300.1.1.1/tcp/1",
        "/ip4/127.0.0.1/udp/38331/quic",
        "/ip4/127.0.0.1/tcp/0",
        "/foo/x/tcp/1",
    ],
)
def test_malformed_bootstrap_multiaddr_is_an_error(maddr: str) -> None:
    with pytest.raises(ValueError):
        parse_multiaddr(maddr)
    result = check_bootstrap([maddr], timeout=3)
    assert result.status == ERROR
    assert "malformed" in result.summary


def test_multiaddr_forms() -> None:
    assert parse_multiaddr(f"/ip4/10.0.0.1/tcp/30002/p2p/{PEER_ID}") == TcpTarget("10.0.0.1", 30002)
    assert parse_multiaddr("/dns4/boot.example.org/tcp/38331") == TcpTarget("boot.example.org", 38331)
    assert parse_multiaddr("/ip6/::1/tcp/5") == TcpTarget("::1", 5)
    assert parse_multiaddr(f"/dnsaddr/bootstrap.example.org/p2p/{PEER_ID}") is None


def test_bootstrap_peers_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    with listening_socket() as port:
        monkeypatch.setenv("RLSWARM_INITIAL_PEERS", f"/ip4/127.0.0.1/tcp/{port}/p2p/{PEER_ID}")
        result = by_name(run_checks(build_context(online=False)), "bootstrap-peers")
    assert result.status == OK, result
    assert result.details["peers"][0]["reachable"] is True


# --- system -------------------------------------------------------------------------------------------


def test_python_and_packages() -> None:
    assert check_python().status == OK
    assert check_python((3, 9, 18)).status == ERROR
    packages = check_packages()
    assert packages.status == OK, packages
    missing = check_packages(("typer", "rlswarm-no-such-package"))
    assert missing.status == ERROR
    assert missing.fix.startswith("python -m pip install")
    assert "rlswarm-no-such-package" in missing.fix


def test_disk_thresholds_and_missing_data_dir(tmp_path: Path) -> None:
    not_yet = tmp_path / "a" / "b"
    ok = check_disk(not_yet, warn_gib=0, error_gib=0)
    assert ok.status == OK
    assert ok.details["checked"] == str(tmp_path)
    free = ok.details["free_gib"]
    assert check_disk(not_yet, warn_gib=free + 1000, error_gib=0).status == WARNING
    assert check_disk(not_yet, warn_gib=free + 2000, error_gib=free + 1000).status == ERROR


def test_accelerator_recommends_the_profile_for_this_machine() -> None:
    ctx = build_context(online=False)
    result = check_accelerator(ctx)
    hw = hardware.detect()
    expected = hardware.recommend(profiles.list_profiles(), hw)
    assert result.details["recommended_profile"] == (expected.name if expected else None)
    assert result.details["hardware"]["accelerator"] == hw.accelerator


def test_profile_for_missing_accelerator_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    absent = "mac-m4" if hardware.detect().accelerator != "mps" else "gpu-24gb"
    monkeypatch.setenv("RLSWARM_PROFILE", absent)
    result = check_accelerator(build_context(online=False))
    assert result.status == ERROR
    assert "does not have" in result.summary


@pytest.mark.slow
def test_probe_asks_torch() -> None:
    result = check_accelerator(build_context(online=False, probe=True))
    torch_info = result.details["torch"]
    assert torch_info["torch"]
    if hardware.detect().accelerator == "cpu" and not torch_info["cuda"]:
        assert result.status != ERROR


def test_broken_config_is_an_error() -> None:
    paths = app_paths().ensure()
    paths.config_file.write_text("dht_port: [not, a, port\n")
    result = check_config(build_context(online=False))
    assert result.status == ERROR
    assert "config file" in result.summary


# --- secrets ------------------------------------------------------------------------------------------


def test_no_keyring_backend_is_a_warning_with_three_choices(no_keyring_backend: None) -> None:
    result = check_keyring(build_context(online=False))
    assert result.status == WARNING
    assert "Secret Service" in result.fix
    assert "RLSWARM_HF_TOKEN" in result.fix
    assert "--insecure-storage" in result.fix


def test_secret_service_is_ok_and_holds_the_token(keyring_env: dict[str, str]) -> None:
    result = check_keyring(build_context(online=False))
    assert result.status == OK, result
    assert "SecretService" in result.details["backend"]
    SecretStore().set("hf_token", "hf_storedInKeyring0123456789")
    token = check_hf_token(build_context(online=False))
    assert token.status == OK
    assert token.details["source"].startswith("keyring")
    assert "hf_storedInKeyring0123456789" not in json.dumps(token.to_dict())


def test_opted_in_insecure_storage_names_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    update_user_config(insecure_storage=True)
    result = check_keyring(build_context(online=False))
    assert result.status == WARNING
    assert str(app_paths().insecure_secrets_file) in result.summary
    assert result.details["insecure_storage"] is True


def test_hf_token_missing_is_a_warning_and_offline_is_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = check_hf_token(build_context(online=False))
    assert missing.status == WARNING
    assert "rlswarm login hf" in missing.fix
    monkeypatch.setenv("RLSWARM_HF_TOKEN", "hf_neverSentAnywhere123")
    offline = check_hf_token(build_context(online=False))
    assert offline.status == OK
    assert "not checked" in offline.summary
    assert offline.details["source"] == "environment variable RLSWARM_HF_TOKEN"


@pytest.fixture(scope="module")
def hub_url() -> Iterator[str]:
    with http_server(FakeHub) as url:
        yield url


@pytest.mark.parametrize(
    ("token", "status", "words"),
    [
        (WRITE_TOKEN, OK, "write access"),
        (READ_TOKEN, WARNING, "cannot push"),
        (FINE_TOKEN, WARNING, "cannot push"),
        ("hf_revokedToken0123456789", ERROR, "rejected"),
    ],
)
def test_hf_token_is_validated_against_the_hub(
    hub_url: str, token: str, status: str, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh interpreter: huggingface_hub reads HF_HUB_OFFLINE once, at import, and the session is offline.
    monkeypatch.delenv("HF_HUB_OFFLINE")
    done = run_rlswarm("doctor", "--json", env={"HF_ENDPOINT": hub_url, "HF_TOKEN": token})
    assert token not in done.stdout + done.stderr
    data = json.loads(done.stdout)
    result = next(c for c in data["checks"] if c["name"] == "hf-token")
    assert result["status"] == status, result
    assert words in result["summary"]


# --- p2pd leftovers -----------------------------------------------------------------------------------


def _p2pd_binary() -> str:
    from importlib.util import find_spec

    spec = find_spec("hivemind")
    assert spec and spec.origin
    path = Path(spec.origin).parent / "hivemind_cli" / "p2pd"
    assert path.is_file()
    return str(path)


def _wait_gone(pid: int) -> None:
    with suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(10)


def test_orphaned_p2pd_is_a_warning_with_kill_command() -> None:
    sock = f"/tmp/hivemind-p2pd-doctor{uuid.uuid4().hex[:8]}.sock"
    # The shell exits at once, so the daemon is re-parented exactly as after a node crash.
    launched = subprocess.run(
        [
            "sh",
            "-c",
            f"'{_p2pd_binary()}' -listen /unix{sock} -hostAddrs /ip4/127.0.0.1/tcp/0 "
            ">/dev/null 2>&1 & echo $!",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    pid = int(launched.stdout.strip())
    try:
        deadline = time.monotonic() + 10
        while not Path(sock).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        result = check_p2pd()
        assert result.status == WARNING
        assert pid in [d["pid"] for d in result.details["stale_processes"]]
        assert result.fix.startswith("kill ") and str(pid) in result.fix.split(";")[0].split()
        # The daemon is alive and listening: its socket is not stale.
        assert sock not in result.details["stale_sockets"]
    finally:
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
    try:
        # Killed hard, the daemon leaves its socket file behind with nobody listening.
        after = check_p2pd()
        assert pid not in [d["pid"] for d in after.details["stale_processes"]]
        assert sock in after.details["stale_sockets"]
        assert after.fix.startswith("rm ") and sock in after.fix
    finally:
        Path(sock).unlink(missing_ok=True)


def test_p2pd_owned_by_a_live_python_process_is_not_stale() -> None:
    proc = subprocess.Popen(
        [
            _p2pd_binary(),
            "-listen",
            f"/unix/tmp/hivemind-p2pd-doctor{uuid.uuid4().hex[:8]}.sock",
            "-hostAddrs",
            "/ip4/127.0.0.1/tcp/0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.pid not in [d["pid"] for d in check_p2pd().details["stale_processes"]]
    finally:
        proc.kill()
        proc.wait(10)


def test_dead_socket_is_stale_and_live_one_is_not() -> None:
    dead = f"/tmp/hivemind-p2pclient-doctor{uuid.uuid4().hex[:8]}.sock"
    live = f"/tmp/hivemind-p2pclient-doctor{uuid.uuid4().hex[:8]}.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(dead)
    listener = socket.socket(socket.AF_UNIX)
    try:
        listener.bind(live)
        listener.listen(1)
        result = check_p2pd()
        assert dead in result.details["stale_sockets"]
        assert live not in result.details["stale_sockets"]
        assert result.status == WARNING
    finally:
        listener.close()
        Path(dead).unlink(missing_ok=True)
        Path(live).unlink(missing_ok=True)


# --- the runner and the command -----------------------------------------------------------------------


def test_a_crashing_check_becomes_an_error_result() -> None:
    def explodes(ctx: Any) -> CheckResult:
        raise RuntimeError("disk on fire")

    result = run_check("explodes", explodes, build_context(online=False))
    assert result == CheckResult(
        "explodes",
        ERROR,
        "the check itself failed (RuntimeError: disk on fire)",
        "rerun with --debug and report it if it persists",
        {"exception": "RuntimeError"},
    )


def test_results_are_ranked_error_warning_ok() -> None:
    results = [CheckResult("a", OK, ""), CheckResult("b", ERROR, ""), CheckResult("c", WARNING, "")]
    assert [r.status for r in rank(results)] == [ERROR, WARNING, OK]
    doc = report(results)
    assert (doc["ok"], doc["errors"], doc["warnings"]) == (False, 1, 1)
    assert [c["name"] for c in doc["checks"]] == ["b", "c", "a"]


def test_json_shape_and_exit_code_zero_without_errors(cli: Cli) -> None:
    done = cli("doctor", "--json", "--offline")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert set(data) == {"ok", "errors", "warnings", "checks"}
    assert data["ok"] is True and data["errors"] == 0
    assert data["warnings"] == sum(c["status"] == WARNING for c in data["checks"])
    names = {c["name"] for c in data["checks"]}
    assert {"python", "packages", "accelerator", "disk", "dht-ports", "keyring", "identities"} <= names
    assert {"hf-token", "chain-rpc", "bootstrap-peers", "p2pd", "config"} <= names
    for check in data["checks"]:
        assert set(check) == {"name", "status", "summary", "fix", "details"}
        assert check["status"] in {ERROR, WARNING, OK}
    order = {ERROR: 0, WARNING: 1, OK: 2}
    ranks = [order[c["status"]] for c in data["checks"]]
    assert ranks == sorted(ranks)


def test_exit_code_one_on_error_and_table_output(monkeypatch: pytest.MonkeyPatch, cli: Cli) -> None:
    path = create_identity(app_paths().identities / "node.pem").path
    os.chmod(path, 0o644)
    monkeypatch.setenv("RLSWARM_HF_TOKEN", "hf_mustNotBePrinted12345")
    done = cli("doctor", "--json", "--offline")
    assert done.exit_code == 1
    data = json.loads(done.stdout)
    assert data["ok"] is False and data["errors"] >= 1
    identities = next(c for c in data["checks"] if c["name"] == "identities")
    assert identities["status"] == ERROR
    assert identities["fix"] == f"chmod 600 {path}"
    assert "hf_mustNotBePrinted12345" not in done.stdout
    table = cli("doctor", "--offline")
    assert table.exit_code == 1
    assert "chmod 600" in " ".join(table.stdout.split())
    assert "✗" in table.stdout and "identities" in table.stdout


def test_doctor_does_not_import_the_heavy_stack() -> None:
    assert heavy_imports_of("doctor", "--offline", "--json") == []


def test_doctor_subprocess_exit_code_and_json() -> None:
    done = run_rlswarm("--json", "doctor", "--offline")
    data = json.loads(done.stdout)
    assert done.returncode == (0 if data["ok"] else 1)
    assert "Traceback" not in done.stderr


def test_a_starting_node_removes_only_old_dead_sockets() -> None:
    from rlswarm_core.doctor.p2pd import remove_stale_sockets

    folder = Path(tempfile.mkdtemp(prefix="rls-", dir="/tmp"))  # unix socket paths must stay short
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        paths = {name: folder / f"hivemind-p2pd-{name}.sock" for name in ("old", "new", "live")}
        for name in ("old", "new"):
            # bound and closed without unlinking: the file a daemon killed hard leaves behind
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
                dead.bind(str(paths[name]))
        listening.bind(str(paths["live"]))
        listening.listen(1)
        an_hour_ago = time.time() - 3600
        for name in ("old", "live"):
            os.utime(paths[name], (an_hour_ago, an_hour_ago))
        assert remove_stale_sockets((folder,), min_age_s=60) == [str(paths["old"])]
        # a fresh one may be a daemon between bind and listen; a listening one is in use
        assert not paths["old"].exists() and paths["new"].exists() and paths["live"].exists()
    finally:
        listening.close()
        shutil.rmtree(folder, ignore_errors=True)


def test_two_identities_with_one_peer_id_are_an_error() -> None:
    folder = app_paths().identities
    ident = create_identity(folder / "node.pem")
    copy = folder / "copy.pem"
    copy.write_bytes(ident.path.read_bytes())
    os.chmod(copy, 0o600)
    result = check_identities(folder)
    assert result.status == ERROR
    assert f"share the peer id {ident.peer_id}" in result.summary and "collide" in result.summary
    assert "copy" in result.summary and "node" in result.summary


def test_doctor_swarm_checks_the_chain_the_swarm_file_names(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "club.yaml"
    made = cli(
        "swarm", "create", str(path), "--name", "club", "--rpc-url", "http://127.0.0.1:9/rpc",
        "--chain-id", "31337", "--host", "127.0.0.1",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    # what `join --swarm` would use: the file's chain, not "no chain RPC configured (local swarm)"
    assert build_context(online=False, swarm=str(path)).rpc_url == "http://127.0.0.1:9/rpc"
    assert build_context(online=False).rpc_url is None
