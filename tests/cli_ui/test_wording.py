"""What operators read: human-formatted values, advice that works, markers that survive a narrow terminal."""

from __future__ import annotations

import json

import pytest

from rlswarm_core.errors import describe_exception, whole_line
from rlswarm_core.system.paths import app_paths
from tests.helpers import Cli


def test_config_show_prints_values_as_an_operator_writes_them(cli: Cli) -> None:
    text = cli("config", "show", "--profile", "cpu").stdout
    assert "None" not in text and "{'" not in text and "['" not in text
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[1:] if line.strip()}
    assert rows["env"][0] == "TOKENIZERS_PARALLELISM=false"
    assert rows["threads"][0] == "-" and rows["lora"][0] == "false"
    data = json.loads(cli("config", "show", "--profile", "cpu", "--json").stdout)
    assert {r["name"]: r["value"] for r in data["settings"]}["threads"] is None  # JSON keeps the real values


def test_an_unknown_config_key_gets_advice_that_works(cli: Cli) -> None:
    config = app_paths().config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("bogus: 1\ndht_port: 39001\n")
    failed = cli("config", "show")
    assert failed.exit_code == 1
    line = failed.stderr.strip()
    assert "\n" not in line and "unknown key 'bogus'" in line
    assert "rlswarm config unset bogus" in line and str(config) in line
    assert cli("config", "unset", "bogus").exit_code == 0  # the advice works, on the file as it is
    shown = json.loads(cli("config", "show", "--json").stdout)["settings"]
    assert {r["name"]: r["value"] for r in shown}["dht_port"] == 39001  # and nothing else was lost
    assert "was not set" in cli("config", "unset", "bogus").stderr


def test_config_set_and_unset_report_in_json(cli: Cli) -> None:
    assert json.loads(
        cli("--json", "config", "set", "initial_peers", "/ip4/1.2.3.4/tcp/1,/ip4/5.6.7.8/tcp/2").stdout
    ) == {
        "set": "initial_peers",
        "value": ["/ip4/1.2.3.4/tcp/1", "/ip4/5.6.7.8/tcp/2"],
    }
    human = cli("config", "set", "hub_private", "yes")
    assert human.stderr.strip() == "hub_private = true"
    assert json.loads(cli("config", "unset", "hub_private", "--json").stdout) == {
        "unset": "hub_private",
        "removed": True,
    }


def test_profiles_list_keeps_its_marker_on_a_narrow_terminal(cli: Cli) -> None:
    text = cli("profiles", "list", env={"COLUMNS": "80"}).stdout
    assert all(len(line) <= 80 for line in text.splitlines())
    marked = [line for line in text.splitlines() if line.startswith("*")]
    recommended = json.loads(cli("profiles", "list", "--json").stdout)["recommended"]
    assert len(marked) == 2 and marked[0].split()[1] == recommended  # the row and its footnote
    assert marked[1].startswith("* recommended for this machine")


def test_instances_plan_is_for_the_profile_asked_for(cli: Cli) -> None:
    text = cli("instances", "plan", "--profile", "local-tiny").stdout
    assert text.startswith("profile local-tiny:")
    assert json.loads(cli("instances", "plan", "-p", "gpu-24gb", "--json").stdout)["profile"] == "gpu-24gb"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 200, "short"),
        ("two\nlines  of   text", 200, "two lines of text"),
        (
            "call failed (HTTP 500: internal server error while handling the request)",
            40,
            "call failed (HTTP 500: internal server…)",
        ),
        ('rejected: {"error": [1, 2, 3, 4, 5, 6, 7]} and more', 30, 'rejected: {"error": [1, 2…]}'),
        ("x" * 50, 20, "x" * 19 + "…"),
    ],
)
def test_error_text_is_one_whole_line(text: str, limit: int, expected: str) -> None:
    cut = whole_line(text, limit)
    assert cut == expected
    assert len(cut) <= limit + 3  # at most the brackets it closes
    assert cut.count("(") == cut.count(")") and cut.count("[") == cut.count("]")


def test_an_exception_is_described_on_one_redacted_line() -> None:
    from rlswarm_core.secrets.redact import register_secret

    register_secret("sk_plantedSecret123")
    text = describe_exception(ValueError("bad key sk_plantedSecret123\n  at line 2 " + "word " * 100))
    assert text.startswith("ValueError: bad key *** at line 2 word") and text.endswith("…")
    assert "\n" not in text and "sk_planted" not in text
