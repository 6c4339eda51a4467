"""The SwarmCoordinator ABI (package data) and the compiled local artifact."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from rlswarm_core.errors import RlswarmError

ABI_FILE = "SwarmCoordinator.abi.json"
ARTIFACT_FILE = "SwarmCoordinator.json"
# An installed wheel carries the artifact under _artifacts/; a source checkout has it under contracts/.
_REPO_ARTIFACT = Path(__file__).resolve().parents[2] / "contracts" / "artifacts" / ARTIFACT_FILE


@lru_cache(maxsize=1)
def coordinator_abi() -> list[dict[str, Any]]:
    text = resources.files("rlswarm_core.chain").joinpath(ABI_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def abi_errors() -> dict[str, list[str]]:
    """Custom error name -> its argument types, as declared in the ABI."""
    return {
        entry["name"]: [arg["type"] for arg in entry.get("inputs", [])]
        for entry in coordinator_abi()
        if entry["type"] == "error"
    }


def artifact_path() -> Path:
    packaged = resources.files("rlswarm_core.chain").joinpath("_artifacts", ARTIFACT_FILE)
    if packaged.is_file():
        return Path(str(packaged))
    return _REPO_ARTIFACT


@lru_cache(maxsize=1)
def contract_artifact() -> dict[str, Any]:
    """The compiled contracts (``SwarmCoordinator`` and ``SwarmCoordinatorProxy``): abi and bytecode."""
    path = artifact_path()
    try:
        return json.loads(path.read_text(encoding="utf-8"))["contracts"]
    except (OSError, ValueError, KeyError) as exc:
        raise RlswarmError(
            f"the compiled SwarmCoordinator artifact is missing or unreadable at {path}",
            "run `npm ci && npm run build:contracts` in the source checkout",
        ) from exc
