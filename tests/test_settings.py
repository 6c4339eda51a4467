from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlswarm_core.errors import ConfigError
from rlswarm_core.settings.model import NodeSettings, resolve
from rlswarm_core.settings.resolve import resolve_node_settings, save_user_config
from rlswarm_core.system.paths import app_paths
from tests.helpers import Cli


def test_precedence_flag_beats_env_beats_instance_beats_config_beats_profile() -> None:
    layers = {
        "profile_values": {
            "batch_size": 8,
            "num_generations": 2,
            "dht_port": 40000,
            "threads": 2,
            "beta": 0.5,
        },
        "user_config": {"dht_port": 40001, "threads": 3, "beta": 0.25},
        "instance": {"dht_port": 40002, "threads": 4},
        "environ": {"RLSWARM_DHT_PORT": "40003"},
        "flags": {"dht_port": 40004},
    }
    resolved = resolve(profile_name="x", **layers)
    s = resolved.settings
    assert (s.dht_port, s.threads, s.beta, s.batch_size) == (40004, 4, 0.25, 8)
    assert resolved.sources["dht_port"] == "flag"
    assert resolved.sources["threads"] == "instance"
    assert resolved.sources["beta"] == "config"
    assert resolved.sources["batch_size"] == "profile:x"
    assert "learning_rate" not in resolved.sources  # built-in default

    without_flag = resolve(profile_name="x", **{**layers, "flags": {"dht_port": None}})
    assert without_flag.settings.dht_port == 40003 and without_flag.sources["dht_port"] == "env"


def test_env_lists_and_types_are_parsed() -> None:
    s = resolve(
        environ={
            "RLSWARM_INITIAL_PEERS": "/ip4/1.2.3.4/tcp/1/p2p/QmA, /ip4/5.6.7.8/tcp/2/p2p/QmB",
            "RLSWARM_LORA": "true",
        }
    ).settings
    assert s.initial_peers == ["/ip4/1.2.3.4/tcp/1/p2p/QmA", "/ip4/5.6.7.8/tcp/2/p2p/QmB"]
    assert s.lora is True


@pytest.mark.parametrize(
    ("layer", "values", "fragment"),
    [
        ("environ", {"RLSWARM_DHT_PORT": "not-a-port"}, "env: dht_port"),
        ("user_config", {"bogus_key": 1}, "unknown setting 'bogus_key' in config"),
        ("flags", {"batch_size": 3, "num_generations": 2}, "multiple of num_generations"),
    ],
)
def test_bad_values_are_one_clear_line(layer: str, values: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(**{layer: values})
    assert fragment in info.value.one_line()
    assert "\n" not in info.value.one_line()


def test_profile_value_overridden_only_by_typed_flag() -> None:
    resolved = resolve_node_settings({"profile": "local-tiny", "batch_size": None, "model": None})
    assert resolved.settings.model == "builtin:tiny-qwen2"
    assert resolved.settings.batch_size == 4
    resolved = resolve_node_settings({"profile": "local-tiny", "batch_size": 8})
    assert resolved.settings.batch_size == 8 and resolved.sources["batch_size"] == "flag"


def test_profile_chosen_from_config_then_env(monkeypatch: pytest.MonkeyPatch) -> None:
    save_user_config({"profile": "local-smollm", "dht_port": 39000})
    resolved = resolve_node_settings()
    assert resolved.settings.profile == "local-smollm"
    assert resolved.settings.dht_port == 39000
    monkeypatch.setenv("RLSWARM_PROFILE", "local-tiny")
    assert resolve_node_settings().settings.profile == "local-tiny"


def test_malformed_config_file_is_one_line(cli: Cli) -> None:
    paths = app_paths().ensure()
    paths.config_file.write_text("dht_port: [unclosed\n")
    result = cli("config", "show")
    assert result.exit_code == 1
    assert "is not valid YAML at line" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_config_show_and_set_cli(cli: Cli) -> None:
    assert cli("config", "set", "dht_port", "39999").exit_code == 0
    rows = json.loads(cli("config", "show", "--profile", "cpu", "--json").stdout)["settings"]
    by_name = {r["name"]: r for r in rows}
    assert by_name["dht_port"] == {"name": "dht_port", "value": 39999, "source": "config"}
    assert by_name["device"]["source"] == "profile:cpu"
    refused = cli("config", "set", "dht_port", "70000")
    assert refused.exit_code == 1 and "dht_port" in refused.stderr
    assert cli("config", "set", "nonsense", "1").exit_code == 1


def test_rlswarm_home_relocates_every_directory(rlswarm_home: Path) -> None:
    paths = app_paths()
    for folder in (paths.config, paths.data, paths.state, paths.logs):
        assert folder.is_relative_to(rlswarm_home)


def test_defaults_are_valid() -> None:
    assert NodeSettings().dht_port == 38331
