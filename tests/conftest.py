"""Test-wide setup: every test gets its own RLSWARM_HOME, and no test inherits the developer's secrets.

At the end of the session, a run that left a process (p2pd, anvil, a python child) or a dead hivemind
socket behind fails, with the leftovers named (see :mod:`tests.leaks`); they are then removed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import Result

from tests import leaks
from tests.helpers import Cli

pytest_plugins = ["tests.fixtures_keyring", "tests.fixtures_chain", "tests.fixtures_disk"]

_SECRET_VARS = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "RLSWARM_HF_TOKEN",
    "RLSWARM_PROXY_ORG_ID",
    "RLSWARM_PROXY_API_KEY",
    "RLSWARM_WALLET_PRIVATE_KEY",
)


@pytest.fixture(autouse=True)
def rlswarm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "rlswarm-home"
    monkeypatch.setenv("RLSWARM_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("RLSWARM_") and name != "RLSWARM_HOME":
            monkeypatch.delenv(name, raising=False)
    for name in _SECRET_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture
def cli(rlswarm_home: Path) -> Cli:
    """``cli(*args, input=None, env=None)`` runs the real ``rlswarm`` app (:data:`rlswarm_cli.main.app`)
    in-process with this test's RLSWARM_HOME; the result keeps stdout and stderr apart."""
    from typer.testing import CliRunner

    from rlswarm_cli.main import app

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(app, list(args), input=input, env=env, catch_exceptions=False)

    return invoke


# the session's watcher of leftovers (see tests/leaks.py)
_watch: leaks.Watch | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--leak-grace",
        type=float,
        default=15.0,
        help="seconds a process or socket left by the tests may take to go away before the run fails",
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    global _watch
    _watch = leaks.Watch()


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    watch = _watch
    if watch is not None:
        watch.current_test = nodeid


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    watch = _watch
    if watch is None:
        return
    found = leaks.find_leftovers(watch, grace_s=session.config.getoption("--leak-grace"))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if found.unclear and reporter is not None:
        reporter.write_sep("-", "dead hivemind sockets that another session on this machine may have left")
        for path in found.unclear:
            reporter.write_line(str(path))
    if not found:
        return
    if reporter is not None:
        reporter.write_sep("=", "left behind by the tests (now removed)", red=True, bold=True)
        for line in found.describe():
            reporter.write_line(line)
    leaks.clean_up(found)
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
