"""Hardware profiles: data files in ``profiles/`` that preset a node's settings for a kind of machine.

A profile is YAML with a ``name``, a ``description``, a ``match`` block used by hardware detection to
recommend it, the ``settings`` it presets (any :class:`NodeSettings` field), and optional ``variants``
keyed by ``min_memory_gb`` whose settings apply on machines with at least that much memory, so that
one profile (``mac-m4``) scales across 16, 24 and 32 GB machines. ``families`` holds settings that
apply only when the node trains that task family (a coder model for ``code`` on a GPU profile); they
sit just above the profile's own settings, so anything the user sets still wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rlswarm_core.errors import ConfigError
from rlswarm_core.settings.model import FIELDS, NodeSettings, load_yaml_mapping
from rlswarm_core.system.resources import data_dir


class ProfileMatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accelerator: str = Field(pattern="^(cpu|cuda|mps|none)$")
    min_memory_gb: float = 0
    max_memory_gb: float | None = None
    chip: str | None = None
    priority: int = 0


class ProfileVariant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_memory_gb: float
    settings: dict[str, Any]


class ProfileFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str
    match: ProfileMatch | None = None
    settings: dict[str, Any]
    variants: list[ProfileVariant] = Field(default_factory=list)
    families: dict[str, dict[str, Any]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    path: Path
    settings: dict[str, Any]
    match: ProfileMatch | None = None
    variants: tuple[ProfileVariant, ...] = field(default_factory=tuple)
    families: dict[str, dict[str, Any]] = field(default_factory=dict)

    def values_for(self, memory_gb: float | None = None) -> dict[str, Any]:
        """Settings for a machine with ``memory_gb`` of memory: base values plus every variant it reaches."""
        values = dict(self.settings)
        if memory_gb is not None:
            for variant in sorted(self.variants, key=lambda v: v.min_memory_gb):
                if memory_gb >= variant.min_memory_gb:
                    values.update(variant.settings)
        values["profile"] = self.name
        return values


def profiles_dir() -> Path:
    return data_dir("profiles")


def _check_settings(values: dict[str, Any], where: str) -> None:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting {unknown[0]!r}", "see 'rlswarm config show' for valid names"
        )


def load_profile_file(path: Path) -> Profile:
    where = f"profile {path.name}"
    raw = load_yaml_mapping(path, "profile")
    if not raw:
        raise ConfigError(f"{where} is empty", "a profile needs name, description and settings")
    try:
        parsed = ProfileFile(**raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        raise ConfigError(f"{where}: {loc}: {first['msg']}", "fix the profile file") from None
    if parsed.name != path.stem:
        raise ConfigError(f"{where}: name {parsed.name!r} does not match the file name {path.stem!r}")
    _check_settings(parsed.settings, where)
    for variant in parsed.variants:
        _check_settings(variant.settings, where)
    for family, values in parsed.families.items():
        _check_settings(values, f"{where} (family {family})")
    profile = Profile(
        name=parsed.name,
        description=parsed.description,
        path=path,
        settings=parsed.settings,
        match=parsed.match,
        variants=tuple(parsed.variants),
        families=parsed.families,
    )
    # Validate every variant combination against the full settings model so a bad value fails at load.
    checkpoints = [None] + [v.min_memory_gb for v in parsed.variants]
    combinations = [(memory, None) for memory in checkpoints]
    combinations += [(memory, family) for memory in checkpoints for family in parsed.families]
    for memory, family in combinations:
        values = profile.values_for(memory)
        if family is not None:
            values = {**values, "task_family": family, **parsed.families[family]}
        try:
            NodeSettings(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first.get("loc", ())) or "settings"
            suffix = f" (variant for {memory:g} GB)" if memory is not None else ""
            suffix += f" (family {family})" if family is not None else ""
            raise ConfigError(f"{where}{suffix}: {loc}: {first['msg']}", "fix the profile file") from None
    return profile


def _search_dirs(user_dir: Path | None) -> list[Path]:
    """The operator's profiles folder first (``user_dir``, by default the config dir's), then the shipped."""
    if user_dir is None:
        from rlswarm_core.system.paths import app_paths

        user_dir = app_paths().user_profiles
    return [Path(user_dir), profiles_dir()]


def list_profiles(user_dir: Path | None = None) -> list[Profile]:
    """Every profile; a user's own profile of the same name shadows the shipped one."""
    seen: dict[str, Profile] = {}
    for folder in _search_dirs(user_dir):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            if path.stem not in seen:
                seen[path.stem] = load_profile_file(path)
    return sorted(seen.values(), key=lambda p: p.name)


def profile_names(user_dir: Path | None = None) -> list[str]:
    names = set()
    for folder in _search_dirs(user_dir):
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.yaml"))
    return sorted(names)


def get_profile(name: str, user_dir: Path | None = None) -> Profile:
    for folder in _search_dirs(user_dir):
        path = folder / f"{name}.yaml"
        if path.is_file():
            return load_profile_file(path)
    known = ", ".join(profile_names(user_dir)) or "none"
    raise ConfigError(f"unknown profile {name!r}", f"choose one of: {known}")
