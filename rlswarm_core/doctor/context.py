"""Everything the checks read about this installation, gathered once before they run."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rlswarm_core.errors import RlswarmError
from rlswarm_core.settings.model import NodeSettings
from rlswarm_core.system.paths import AppPaths, app_paths

HUB_TIMEOUT_S = 5.0
NET_TIMEOUT_S = 3.0


@dataclass
class DoctorContext:
    paths: AppPaths
    environ: Mapping[str, str]
    settings: NodeSettings
    settings_source: dict[str, str] = field(default_factory=dict)
    settings_error: RlswarmError | None = None
    raw_config: dict[str, Any] = field(default_factory=dict)
    online: bool = True
    probe: bool = False
    rpc_url: str | None = None
    hub_timeout: float = HUB_TIMEOUT_S
    net_timeout: float = NET_TIMEOUT_S
    # the swarm file (path or URL) the node joins with `join --swarm`, when the doctor is given one
    swarm: str | None = None


def _raw_config(paths: AppPaths) -> dict[str, Any]:
    """config.yaml as written, including keys the settings model does not know."""
    from rlswarm_core.settings.model import load_yaml_mapping

    try:
        return load_yaml_mapping(paths.config_file, "config file")
    except RlswarmError:
        return {}


def configured_rpc_url(explicit: str | None, settings: NodeSettings) -> str | None:
    """The chain RPC endpoint ``join`` would use: the argument, else the ``rpc_url`` setting (flag >
    ``RLSWARM_RPC_URL`` > instance > config.yaml > profile), else the network's own; None for a local
    swarm."""
    if explicit and explicit.strip():
        return explicit.strip()
    if settings.rpc_url:
        return settings.rpc_url
    if settings.network == "local":
        return None
    from rlswarm_core.chain.networks import network_of

    try:
        return network_of(settings).rpc_url
    except RlswarmError:
        return None


def _swarm_layer(source: str | None) -> dict[str, Any] | None:
    """The settings a swarm file gives its nodes, so the checks (chain RPC above all) see what
    ``join --swarm`` would; None when there is no file or it cannot be read (the swarm check says why)."""
    if not source:
        return None
    from rlswarm_core.hosting.swarmfile import read_swarm_source, settings_layer

    try:
        return settings_layer(read_swarm_source(source))
    except RlswarmError:
        return None


def build_context(
    *,
    paths: AppPaths | None = None,
    environ: Mapping[str, str] | None = None,
    online: bool = True,
    probe: bool = False,
    rpc_url: str | None = None,
    swarm: str | None = None,
) -> DoctorContext:
    """Resolve the node's settings; a broken config is recorded (and reported) instead of raised."""
    from rlswarm_core.settings.resolve import resolve_node_settings

    env = dict(os.environ if environ is None else environ)
    paths = paths or app_paths(env)
    raw = _raw_config(paths)
    error: RlswarmError | None = None
    sources: dict[str, str] = {}
    try:
        resolved = resolve_node_settings(environ=env, paths=paths, swarm=_swarm_layer(swarm))
        settings = resolved.settings
        sources = resolved.sources
    except RlswarmError as exc:
        error = exc
        settings = NodeSettings()
    except Exception as exc:
        # The doctor must report a broken setup, not die of it: checks then run on the defaults.
        error = RlswarmError(
            f"cannot resolve the node settings ({type(exc).__name__}: {exc})", "rerun with --debug"
        )
        settings = NodeSettings()
    return DoctorContext(
        paths=paths,
        environ=env,
        settings=settings,
        settings_source=sources,
        settings_error=error,
        raw_config=raw,
        online=online,
        probe=probe,
        rpc_url=configured_rpc_url(rpc_url, settings),
        swarm=swarm,
    )
