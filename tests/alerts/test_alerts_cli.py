"""``rlswarm alerts``: channels added with their secrets in a real keyring, listed without them, tested
against a loopback server, removed with their secrets; bad input answered in one line."""

from __future__ import annotations

import json
import stat

import pytest

from rlswarm_core.secrets.store import SERVICE, alert_channel_key
from rlswarm_core.system.paths import app_paths
from tests.alerts.sink import sink
from tests.helpers import Cli

NTFY_TOKEN = "tk_ntfy_access_token_1234"


def keyring_value(key: str) -> str | None:
    from keyring.backends.SecretService import Keyring

    return Keyring().get_password(SERVICE, key)


def test_add_list_test_and_remove_channels(keyring_env: dict[str, str], cli: Cli) -> None:
    with sink() as server:
        hook_url = f"{server.url}/hook/T0KEN-in-path"
        added = cli("alerts", "add", "webhook", "hook", "--json", input=hook_url + "\n")
        assert added.exit_code == 0, added.stderr
        data = json.loads(added.stdout)
        assert data["added"]["target"] == f"{server.url}/…" and data["secret"].startswith("keyring")
        assert keyring_value(alert_channel_key("hook")) == hook_url
        added = cli("alerts", "add", "ntfy", "phone", "--topic", "rigs", "--server", server.url, "--token",
                    input=NTFY_TOKEN + "\n")  # fmt: skip
        assert added.exit_code == 0, added.stderr

        config = app_paths().config / "alerts.yaml"
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert "T0KEN" not in config.read_text() and NTFY_TOKEN not in config.read_text()
        listed = cli("alerts", "list", "--json")
        assert listed.exit_code == 0 and "T0KEN" not in listed.stdout and NTFY_TOKEN not in listed.stdout
        assert [c["name"] for c in json.loads(listed.stdout)["channels"]] == ["hook", "phone"]

        tested = cli("alerts", "test")
        assert tested.exit_code == 0, tested.stderr
        assert tested.stdout.splitlines() == ["hook: delivered", "phone: delivered"]
        (hook,) = server.matching("/hook/T0KEN-in-path")
        assert hook.json()["status"] == "test" and hook.json()["title"] == "rlswarm test alert"
        (push,) = server.matching("/rigs")
        assert (
            push.headers["Authorization"] == f"Bearer {NTFY_TOKEN}"
            and push.headers["Title"] == "rlswarm test alert"
        )
        assert "alerts from this machine reach this channel" in push.body.decode()

        server.fail_next = 1
        failed = cli("alerts", "test", "hook")
        assert failed.exit_code == 1 and failed.stdout.strip() == "hook: alert channel 'hook': HTTP 500"

    for name in ("hook", "phone"):
        removed = cli("alerts", "remove", name)
        assert removed.exit_code == 0, removed.stderr
        assert keyring_value(alert_channel_key(name)) is None
    assert "no channels" in cli("alerts", "list").stdout


def test_bad_input_is_one_line(keyring_env: dict[str, str], cli: Cli) -> None:
    done = cli("alerts", "add", "webhook", "Bad Name", input="https://example.invalid/x\n")
    assert done.exit_code == 1 and "invalid channel name 'Bad Name'" in done.stderr
    done = cli("alerts", "add", "webhook", "hook", input="ftp://example.invalid/x\n")
    assert done.exit_code == 1 and "the webhook URL must be an http:// or https:// URL" in done.stderr
    done = cli("alerts", "add", "telegram", "tg", "--chat-id", "1", input="\n")
    assert done.exit_code == 1 and "no Telegram bot token given" in done.stderr
    assert cli("alerts", "add", "webhook", "hook", input="http://127.0.0.1:9/x\n").exit_code == 0
    again = cli("alerts", "add", "webhook", "hook", input="http://127.0.0.1:9/y\n")
    assert again.exit_code == 2 and "a channel named 'hook' exists" in again.stderr
    done = cli("alerts", "rules", "--set", "stall_rounds=-1")
    assert done.exit_code == 2 and "stall_rounds" in done.stderr
    done = cli("alerts", "rules", "--set", "nonsense=1")
    assert done.exit_code == 2 and "KEY one of" in done.stderr
    done = cli("alerts", "rules", "--set", "stall_rounds=5", "--json")
    assert json.loads(done.stdout)["rules"]["stall_rounds"] == 5
    assert "Traceback" not in done.stderr
    assert cli("alerts", "remove", "hook").exit_code == 0


def test_without_a_keyring_the_secret_is_refused(no_keyring_backend: None, cli: Cli) -> None:
    done = cli("alerts", "add", "webhook", "hook", input="https://example.invalid/x\n")
    assert done.exit_code == 1
    assert "cannot store the secret of alert channel 'hook'" in done.stderr
    assert "RLSWARM_ALERT_HOOK_SECRET" in done.stderr
    assert "--insecure-storage" not in done.stderr  # an option alerts add does not have
    assert not (app_paths().config / "alerts.yaml").exists()


def test_without_a_keyring_the_channel_variable_is_the_way(
    no_keyring_backend: None, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    monkeypatch.setenv("RLSWARM_ALERT_HOOK_SECRET", "https://example.invalid/x")
    done = cli("alerts", "add", "webhook", "hook", input="https://example.invalid/x\n")
    assert done.exit_code == 0, done.stderr
    assert "secret in the environment (RLSWARM_ALERT_HOOK_SECRET)" in done.stdout
    done = cli("alerts", "add", "ntfy", "phone", "--topic", "t1")
    assert done.exit_code == 0, done.stderr
    assert "; no secret" in done.stdout and "secret in" not in done.stdout


@pytest.mark.parametrize("args", [["alerts", "list"], ["alerts", "rules"]])
def test_alert_commands_stay_light(args: list[str]) -> None:
    from tests.helpers import heavy_imports_of

    assert heavy_imports_of(*args) == []
