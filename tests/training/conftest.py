from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def models_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache per test session, so the SmolLM2 conversion (~30 s) happens once."""
    return tmp_path_factory.mktemp("models")
