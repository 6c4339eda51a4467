"""Test-wide setup: every test gets its own RLSWARM_HOME, and no test inherits the developer's secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
