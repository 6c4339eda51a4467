from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rlswarm_cli.completion_gen import SHELLS, render, script_path
from rlswarm_core import __version__
from tests.helpers import REPO, Cli, command_leaves, heavy_imports_of, run_rlswarm


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["login", "status"],
        ["profiles", "list"],
        ["doctor", "--offline", "--json"],
        ["identity", "--help"],
        ["--json", "--version"],
        ["instances", "list"],
        ["config", "show"],
        ["logout", "--json"],
        ["completion", "bash"],
        ["swarm", "status", "/nonexistent/swarm.yaml"],
    ],
    ids=lambda a: " ".join(a),
)
def test_light_commands_import_no_heavy_library(args: list[str]) -> None:
    assert heavy_imports_of(*args) == []


def test_version_honours_json() -> None:
    result = run_rlswarm("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"rlswarm {__version__}"
    as_json = run_rlswarm("--json", "--version")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == {
        "name": "rlswarm",
        "version": __version__,
    }
    assert run_rlswarm("--version", "--json").stdout == as_json.stdout  # order does not matter


def test_errors_are_one_line_without_traceback_unless_debug(tmp_path: Path) -> None:
    missing = tmp_path / "absent.pem"
    plain = run_rlswarm("identity", "show", "--path", str(missing))
    assert plain.returncode == 1
    assert plain.stderr.strip().splitlines() == [
        f"error: identity file {missing} does not exist (create one with 'rlswarm identity create')"
    ]
    debug = run_rlswarm("--debug", "identity", "show", "--path", str(missing))
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_no_color_output_has_no_escape_codes() -> None:
    result = run_rlswarm("profiles", "list", env={"NO_COLOR": "1", "FORCE_COLOR": "1"})
    assert result.returncode == 0 and "\x1b[" not in result.stdout


def test_global_json_flag_applies_to_commands(cli: Cli) -> None:
    result = cli("--json", "identity", "name", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")
    assert '"animal_name": "thorny fishy meerkat"' in result.stdout


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_scripts_in_sync_with_cli(shell: str, cli: Cli) -> None:
    committed = script_path(REPO / "completions", shell).read_text(encoding="utf-8")
    assert committed == render(shell), (
        f"completions/ is stale for {shell}: run 'python -m rlswarm_cli.completion_gen'"
    )
    assert cli("completion", shell).stdout == committed
    assert json.loads(cli("--json", "completion", shell).stdout)["script"] == committed


def _bash_complete(words: list[str]) -> list[str]:
    script = script_path(REPO / "completions", "bash")
    line = " ".join(words)
    cmd = (
        f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _rlswarm; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, check=True)
    return done.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_completes_commands_and_options() -> None:
    assert set(_bash_complete(["rlswarm", "pro"])) == {"profiles"}
    assert set(_bash_complete(["rlswarm", "--json", "identity", "c"])) == {"create"}
    assert "--json" in _bash_complete(["rlswarm", "doctor", "--"])
    assert set(_bash_complete(["rlswarm", "completion", ""])) >= {"bash", "zsh", "fish"}


def test_every_command_has_json() -> None:
    missing = [" ".join(path) for path, flags in command_leaves() if "--json" not in flags]
    assert not missing, f"commands without --json: {missing}"


HELP_ORDER = [
    "join", "instances", "rewards", "doctor", "dashboard", "alerts", "push-hub", "login", "logout",
    "identity", "profiles", "config", "swarm", "devnet", "completion",
]  # fmt: skip


def _help_rows(text: str) -> dict[str, str]:
    """Command name -> its description (continuation lines joined) from the Commands section of --help."""
    rows: dict[str, str] = {}
    current = None
    for line in text.split("Commands:", 1)[1].splitlines():
        if line.startswith("  ") and not line.startswith("   ") and line.split():
            current, _, rest = line.strip().partition(" ")
            rows[current] = rest.strip()
        elif current and line.strip():
            rows[current] += " " + line.strip()
    return rows


@pytest.mark.parametrize("columns", ["80", "160"])
def test_help_orders_commands_by_use_and_never_cuts_descriptions(columns: str) -> None:
    from rlswarm_cli.main import COMMANDS

    result = run_rlswarm("--help", env={"COLUMNS": columns})
    assert result.returncode == 0
    rows = _help_rows(result.stdout)
    assert list(rows) == HELP_ORDER
    for spec in COMMANDS:
        assert rows[spec.name] == spec.help, "the description is printed whole (wrapped, not cut)"
    if columns == "160":  # wide enough: one line each
        assert all(len(line) <= 160 for line in result.stdout.splitlines())
        assert result.stdout.count("\n") == result.stdout.split("Commands:")[0].count("\n") + 1 + len(
            HELP_ORDER
        )


def test_help_imports_no_command_module() -> None:
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['rlswarm', '--help']\n"
        "try:\n"
        "    runpy.run_module('rlswarm_cli.main', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = [m for m in sys.modules if m.startswith('rlswarm_cli.commands')]\n"
        "sys.stderr.write('LOADED=' + ','.join(loaded))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "Commands:" in done.stdout
    assert done.stderr.strip().endswith("LOADED="), done.stderr


def test_the_help_table_matches_each_command_own_help() -> None:
    from rlswarm_cli.app import load_command
    from rlswarm_cli.main import COMMANDS

    for spec in COMMANDS:
        assert load_command(spec).get_short_help_str(limit=sys.maxsize) == spec.help, spec.name


def test_sub_command_help_is_not_cut(cli: Cli) -> None:
    rows = _help_rows(cli("instances", "--help", env={"COLUMNS": "80"}).stdout)
    plan = "Show how many instances of a profile this machine can hold and what each one would get."
    assert rows["plan"] == plan
    assert list(rows) == ["plan", "add", "list", "start", "stop", "restart", "logs", "remove"]
    assert not any(text.endswith("...") for text in rows.values())


def test_missing_command_is_a_usage_error(cli: Cli) -> None:
    result = cli("--json")
    assert result.exit_code == 2 and "Missing command" in result.stderr
