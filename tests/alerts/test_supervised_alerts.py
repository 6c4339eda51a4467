"""A supervised node killed with SIGKILL: its supervisor reports it down, then up again, exactly once each,
to a webhook and a Telegram bot (both a loopback server), with the secrets kept in a real keyring."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from rlswarm_core.instances import supervisor
from rlswarm_core.instances.state import liveness
from rlswarm_core.node.journal import read_journal
from rlswarm_core.system.paths import app_paths
from tests.alerts.sink import Sink, sink
from tests.helpers import Cli
from tests.instances.ports import free_port_block

pytestmark = pytest.mark.slow
BOT_TOKEN = "424242:AAF-test-bot-token-value"


def node_up_since(name: str, since: float) -> bool:
    journal = app_paths().instances / name / "events.jsonl"
    live = liveness(name)
    started = [e for e in read_journal(journal, limit=400) if e["kind"] == "NodeStarted" and e["at"] >= since]
    return live.child_alive and bool(started)


def wait(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    log = (
        (app_paths().logs / "node-1.log").read_text()[-3000:]
        if (app_paths().logs / "node-1.log").exists()
        else ""
    )
    raise AssertionError(f"{what} within {timeout:.0f} s; log: {log}")


def hook_messages(server: Sink, rule: str) -> list[str]:
    return [b["status"] for b in (r.json() for r in server.matching("/hook/")) if b["rule"] == rule]


def telegram_texts(server: Sink) -> list[str]:
    return [r.json()["text"] for r in server.matching(f"/bot{BOT_TOKEN}/sendMessage")]


def test_killed_node_is_reported_down_then_resolved_exactly_once(
    keyring_env: dict[str, str], cli: Cli
) -> None:
    with sink() as server:
        added = cli("alerts", "add", "webhook", "hook", input=f"{server.url}/hook/x9\n")
        assert added.exit_code == 0, added.stderr
        added = cli("alerts", "add", "telegram", "tg", "--chat-id", "4242", "--api-base", server.url,
                    input=f"{BOT_TOKEN}\n")  # fmt: skip
        assert added.exit_code == 0, added.stderr
        assert "keyring" in added.stdout
        rules = ["interval_s=0.3", "stall_rounds=0", "chain_failures=0", "disk_min_free_percent=0",
                 "memory_limit_gb=0.001"]  # fmt: skip
        set_rules = cli("alerts", "rules", *[a for r in rules for a in ("--set", r)])
        assert set_rules.exit_code == 0, set_rules.stderr
        listed = cli("alerts", "list", "--json")
        assert BOT_TOKEN not in listed.stdout and "x9" not in listed.stdout

        port = free_port_block(1)
        assert (
            cli(
                "instances", "add", "--profile", "local-tiny", "--host", "127.0.0.1", "--port", str(port)
            ).exit_code
            == 0
        )
        started_at = time.time()
        try:
            started = cli("instances", "start")
            assert started.exit_code == 0, started.stderr
            wait(lambda: node_up_since("node-1", started_at), 120, "the node did not start")
            # a tiny budget: the memory rule fires once, and a crash does not read as "back within budget"
            server.wait_for(lambda s: hook_messages(s, "memory") == ["firing"], 30, "no memory alert")

            victim = liveness("node-1").child.pid  # type: ignore[union-attr]
            killed_at = time.time()
            os.kill(victim, signal.SIGKILL)
            server.wait_for(lambda s: "firing" in hook_messages(s, "node_down"), 30, "no down message")
            wait(lambda: node_up_since("node-1", killed_at), 120, "the node did not come back")
            server.wait_for(
                lambda s: (
                    hook_messages(s, "node_down") == ["firing", "resolved"]
                    and sum("up again" in t for t in telegram_texts(s)) == 1
                ),
                30,
                "no resolved message on both channels",
            )
        finally:
            supervisor.stop_many(["node-1"], timeout_s=20)

        assert hook_messages(server, "node_down") == ["firing", "resolved"]
        assert hook_messages(server, "memory") == ["firing"]
        assert hook_messages(server, "restart_loop") == []
        texts = telegram_texts(server)
        assert sum("node-1 is down" in t for t in texts) == 1, texts
        assert sum("node-1 is up again" in t for t in texts) == 1, texts
        assert len(texts) == len(server.matching("/bot")) == 3  # down, up again, memory
        assert {r.json()["chat_id"] for r in server.matching("/bot")} == {"4242"}
        bodies = [json.loads(r.body) for r in server.matching("/hook/")]
        down = next(b for b in bodies if (b["rule"], b["status"]) == ("node_down", "firing"))
        assert "exit code -9" in down["detail"]

    # the secrets stayed in the keyring: not in the config, the delivery state or the instance's log
    for path in (app_paths().config / "alerts.yaml", app_paths().state / "alerts" / "state.json",
                 app_paths().logs / "node-1.log"):  # fmt: skip
        text = path.read_text()
        assert BOT_TOKEN not in text and "/hook/x9" not in text, path
    for name in ("tg", "hook"):
        removed = cli("alerts", "remove", name)
        assert removed.exit_code == 0, removed.stderr
    tested = cli("alerts", "test", "tg")
    assert tested.exit_code == 1 and "no alert channel named 'tg'" in tested.stderr
