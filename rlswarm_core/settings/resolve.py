"""The user's config file and the resolution of a node's settings from every layer.

``config.yaml`` in the config directory holds settings (any :class:`NodeSettings` field) plus a few
non-secret account values under their own keys (``proxy_url``, ``hf_user``, ``insecure_storage``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlswarm_core.errors import ConfigError
from rlswarm_core.settings.model import ENV_PREFIX, FIELDS, ResolvedSettings, load_yaml_mapping, resolve
from rlswarm_core.system.paths import AppPaths, app_paths

# Keys in config.yaml that are not node settings.
ACCOUNT_KEYS = ("proxy_url", "hf_user", "insecure_storage", "wallet_address")


def load_user_config(paths: AppPaths | None = None) -> dict[str, Any]:
    paths = paths or app_paths()
    data = load_yaml_mapping(paths.config_file, "config file")
    unknown = sorted(set(data) - set(FIELDS) - set(ACCOUNT_KEYS))
    if unknown:
        raise ConfigError(
            f"config file {paths.config_file}: unknown key {unknown[0]!r}",
            f"remove it with 'rlswarm config unset {unknown[0]}', or edit {paths.config_file}",
        )
    return data


def save_user_config(data: Mapping[str, Any], paths: AppPaths | None = None) -> Path:
    """Write config.yaml atomically (0600: it may name accounts, never secrets)."""
    import yaml

    from rlswarm_core.system.files import write_private

    paths = (paths or app_paths()).ensure()
    target = paths.config_file
    write_private(target, yaml.safe_dump(dict(data), sort_keys=True))
    return target


def update_user_config(paths: AppPaths | None = None, **changes: Any) -> dict[str, Any]:
    data = load_user_config(paths)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    save_user_config(data, paths)
    return data


def set_user_setting(key: str, value: str, paths: AppPaths | None = None) -> Any:
    """Store a default for setting ``key`` in config.yaml, validated (and typed) before it is written.

    ``value`` is text as typed on a command line; lists are comma-separated. Returns the stored value.
    """
    from rlswarm_core.settings.model import LIST_FIELDS
    from rlswarm_core.settings.profiles import get_profile

    if key not in FIELDS or key == "env":
        raise ConfigError(f"unknown setting {key!r}", "run 'rlswarm config show' to list the valid names")
    parsed: Any = [v.strip() for v in value.split(",") if v.strip()] if key in LIST_FIELDS else value
    data = load_user_config(paths)
    settings = resolve(user_config={**node_settings_part(data), key: parsed}).settings
    if key == "profile":
        get_profile(value)
    data[key] = parsed if key in LIST_FIELDS else getattr(settings, key)
    save_user_config(data, paths)
    return data[key]


def unset_user_config(key: str, paths: AppPaths | None = None) -> bool:
    """Remove ``key`` from config.yaml, even one it should not hold (the way out of that error)."""
    paths = paths or app_paths()
    data = load_yaml_mapping(paths.config_file, "config file")
    if key not in data:
        return False
    del data[key]
    save_user_config(data, paths)
    return True


def node_settings_part(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in FIELDS}


def resolve_node_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    instance: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    paths: AppPaths | None = None,
    memory_gb: float | None = None,
    detect_hardware: bool = True,
    swarm: Mapping[str, Any] | None = None,
) -> ResolvedSettings:
    """Pick the profile (flag > env > instance > config > hardware recommendation) and merge all layers."""
    from rlswarm_core.settings import profiles
    from rlswarm_core.system import hardware

    env = os.environ if environ is None else environ
    paths = paths or app_paths(dict(env))
    user = node_settings_part(load_user_config(paths))
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    instance = dict(instance or {})
    profile_name = (
        flags.get("profile")
        or env.get(ENV_PREFIX + "PROFILE")
        or instance.get("profile")
        or user.get("profile")
    )
    hw = None
    if detect_hardware and (profile_name is None or memory_gb is None):
        hw = hardware.detect()
    user_profiles = paths.user_profiles
    if profile_name is None:
        assert hw is not None
        recommended = hardware.recommend(profiles.list_profiles(user_profiles), hw)
        profile_name = recommended.name if recommended else "cpu"
    profile = profiles.get_profile(profile_name, user_profiles)
    if memory_gb is None and hw is not None:
        memory_gb = hw.accelerator_memory_gb
    return resolve(
        flags=flags,
        environ=env,
        instance=instance,
        user_config=user,
        profile_values=profile.values_for(memory_gb),
        profile_name=profile.name,
        family_values=profile.families,
        swarm=swarm,
    )
