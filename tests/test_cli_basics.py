from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rlswarm_cli.completion_gen import SHELLS, render, script_path
from rlswarm_core import __version__
from tests.helpers import REPO, cli, heavy_imports_of, run_rlswarm


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["login", "status"],
        ["profiles", "list"],
        ["doctor", "--offline", "--json"],
        ["identity", "--help"],
    ],
    ids=lambda a: " ".join(a),
)
def test_light_commands_import_no_heavy_library(args: list[str]) -> None:
    assert heavy_imports_of(*args) == []


def test_version() -> None:
    result = run_rlswarm("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"rlswarm {__version__}"


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


def test_global_json_flag_applies_to_commands() -> None:
    result = cli("--json", "identity", "name", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")
    assert '"animal_name": "thorny fishy meerkat"' in result.stdout


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_scripts_in_sync_with_cli(shell: str) -> None:
    committed = script_path(REPO / "completions", shell).read_text(encoding="utf-8")
    assert committed == render(shell), (
        f"completions/ is stale for {shell}: run 'python -m rlswarm_cli.completion_gen'"
    )
    assert cli("completion", shell).stdout == committed


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


def test_every_command_that_shows_data_has_json() -> None:
    import typer

    from rlswarm_cli.completion_gen import build_tree
    from rlswarm_cli.main import app

    root = build_tree(typer.main.get_command(app))
    # these print a script, a log stream, or only a confirmation line
    exempt = {("completion",), ("config", "set"), ("config", "unset"), ("logout",), ("instances", "logs")}
    stack = [root]
    missing = []
    while stack:
        node = stack.pop()
        stack.extend(node.subcommands.values())
        is_leaf = bool(node.path) and not node.subcommands and node.path not in exempt
        shows_data = node.path[:1] != ("login",) or node.path == ("login", "status")
        if is_leaf and shows_data and "--json" not in {flag for flag, _ in node.options}:
            missing.append(" ".join(node.path))
    assert not missing, f"commands without --json: {missing}"


def test_help_lists_every_group() -> None:
    result = run_rlswarm("--help", env={"COLUMNS": "120"})
    for name in ("login", "logout", "doctor", "profiles", "identity", "config", "completion"):
        assert name in result.stdout
    assert os.environ.get("RLSWARM_HOME")
