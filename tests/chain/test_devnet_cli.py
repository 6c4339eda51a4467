"""`rlswarm devnet up` and `rlswarm devnet proxy` as real processes, stopped with Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from rlswarm_core.chain.networks import resolve_network
from rlswarm_core.chain.proxy import ProxyClient
from rlswarm_core.chain.reader import CoordinatorReader

pytestmark = pytest.mark.slow


def _as_in_a_terminal() -> None:
    """The command runs as if in the foreground of a terminal, where Ctrl-C reaches it: a suite started
    with SIGINT ignored (a shell's background job) would otherwise pass the ignore on through exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(*args: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlswarm_cli.main", "devnet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        preexec_fn=_as_in_a_terminal,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def _read_json(lines: queue.Queue[str], timeout_s: float = 60) -> dict[str, Any]:
    text, deadline = "", time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            text += lines.get(timeout=0.2)
        except queue.Empty:
            continue
        start = text.find("{")
        if start >= 0:
            try:
                return json.loads(text[start:])
            except ValueError:
                pass
    raise AssertionError(f"no JSON from the command within {timeout_s}s: {text!r}")


def _kill_tree(proc: subprocess.Popen[str] | None) -> None:
    """SIGKILL the command and whatever it started (anvil), so a failed test leaves nothing behind."""
    if proc is None or proc.poll() is not None:
        return
    try:
        family = [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]
    except psutil.NoSuchProcess:
        family = []
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(family, timeout=10)
    proc.wait()


def _interrupt(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=20)
    finally:
        _kill_tree(proc)


def test_devnet_up_and_proxy_run_until_interrupted(rlswarm_home: Path) -> None:
    up, up_lines = _start("up", "--port", "0", "--json")
    proxy = None
    try:
        info = _read_json(up_lines)
        assert info["rpc_url"].startswith("http://127.0.0.1:") and info["contract"].startswith("0x")
        network = resolve_network("devnet").require_chain()
        assert (network.rpc_url, network.contract) == (info["rpc_url"], info["contract"])
        reader = CoordinatorReader(info["rpc_url"], info["contract"], info["chain_id"])
        assert reader.has_role("STAGE_MANAGER_ROLE", info["stage_manager"])

        proxy, proxy_lines = _start("proxy", "--port", "0", "--json")
        served = _read_json(proxy_lines)
        with ProxyClient(served["url"], "devnet", reader=reader) as client:
            registered = client.register_peer("QmDevnetCliPeer")
        assert registered.account == served["account"] == reader.owner("QmDevnetCliPeer")

        assert _interrupt(proxy) == 0
        assert _interrupt(up) == 0
        assert (
            not psutil.pid_exists(info["anvil_pid"]) or psutil.Process(info["anvil_pid"]).status() == "zombie"
        )
        assert not (rlswarm_home / "state" / "devnet.json").exists()
    finally:
        for proc in (proxy, up):
            _kill_tree(proc)


def test_devnet_proxy_without_a_devnet_says_how_to_start_one() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rlswarm_cli.main", "devnet", "proxy", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: network 'devnet' has no RPC URL (start one with `rlswarm devnet up`)"
    ]


def test_chain_modules_import_no_heavy_libraries() -> None:
    modules = [
        "rlswarm_cli.commands.devnet_cmd",
        *(
            f"rlswarm_core.chain.{m}"
            for m in (
                "abi",
                "anvil_binary",
                "base",
                "clock",
                "devnet",
                "errors",
                "networks",
                "proxy",
                "proxy_server",
                "queue",
            )
        ),
        "rlswarm_core.chain.reader",
        "rlswarm_core.chain.wallet",
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in ('web3', 'eth_account', 'torch', 'hivemind') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def test_devnet_up_stopped_by_sigterm_takes_anvil_with_it(rlswarm_home: Path) -> None:
    up, lines = _start("up", "--port", "0", "--json")
    try:
        info = _read_json(lines)
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=20) == 0
        anvil_pid = info["anvil_pid"]
        assert not psutil.pid_exists(anvil_pid) or psutil.Process(anvil_pid).status() == "zombie"
        assert not (rlswarm_home / "state" / "devnet.json").exists()
    finally:
        _kill_tree(up)
