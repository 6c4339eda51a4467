"""Fixtures for tests that run code in the sandbox (import them where needed)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.sandbox.helpers import live_sandbox_processes, sandbox_temp_folders


@pytest.fixture(scope="session")
def bubblewrap() -> None:
    """The real Linux sandbox: scripts/test.sh installs bubblewrap, so on Linux it must work."""
    if not sys.platform.startswith("linux"):
        pytest.skip("bubblewrap is Linux-only")
    from rlswarm_core.sandbox import bubblewrap_problem

    problem = bubblewrap_problem()
    assert problem is None, problem


@pytest.fixture
def nothing_left_behind() -> Iterator[None]:
    """Fails the test if it leaves a sandbox process or temporary folder behind."""
    before = set(sandbox_temp_folders())
    yield
    assert not live_sandbox_processes(), "sandbox processes left running"
    assert set(sandbox_temp_folders()) <= before, "sandbox temporary folders left behind"
