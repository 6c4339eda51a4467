"""What the Hugging Face libraries may send from a training process.

trl's trainers report each trainer start to the Hub (``HEAD /api/telemetry/...``) unless telemetry is
off, and the Hub client may ask the Hub about a model it could read from disk. A node therefore turns
telemetry off, and, when its model is local (a ``builtin:`` model or a folder) and it pushes nothing to
the Hub, turns the Hub client offline: a local swarm then makes no network request besides its loopback
DHT.

The variables go into this process's environment only, before the Hub client is imported (it reads them
once, at import); nothing is written to the operator's config. A variable the operator set is kept as
it is, so ``HF_HUB_DISABLE_TELEMETRY=0`` or ``HF_HUB_OFFLINE=0`` still opts back in.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from rlswarm_core.errors import RlswarmError

TELEMETRY_ENV = "HF_HUB_DISABLE_TELEMETRY"
OFFLINE_ENV = "HF_HUB_OFFLINE"


def model_is_local(spec: str) -> bool:
    """True when loading ``spec`` needs nothing from the Hub: a built-in model, or a folder whose LoRA base
    (if any) is itself a folder."""
    from rlswarm_core.training.models import ADAPTER_CONFIG, parse_model_spec

    try:
        parsed = parse_model_spec(spec)
    except RlswarmError:
        return False
    if parsed.kind == "builtin":
        return True
    if parsed.kind != "path":
        return False
    adapter = Path(parsed.name) / ADAPTER_CONFIG
    if not adapter.is_file():
        return True
    try:
        base = json.loads(adapter.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(base, str) and Path(base).expanduser().is_dir()


def hub_environment(settings: Any) -> dict[str, str]:
    """The variables a node with ``settings`` runs under (see the module docstring)."""
    env = {TELEMETRY_ENV: "1"}
    if model_is_local(settings.model) and not getattr(settings, "push_every_rounds", None):
        env[OFFLINE_ENV] = "1"
    return env


def apply_hub_environment(settings: Any, environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set :func:`hub_environment` in ``environ`` (this process's by default) where the operator has not;
    returns what was set."""
    target = os.environ if environ is None else environ
    applied = {}
    for key, value in hub_environment(settings).items():
        if key not in target:
            target[key] = value
            applied[key] = value
    return applied
