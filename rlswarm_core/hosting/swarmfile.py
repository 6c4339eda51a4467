"""The swarm file: everything a node needs to join a community swarm, in one versioned document.

A swarm file is TOML (``.toml``) or YAML (any other suffix). Schema version 1::

    version = 1
    name = "gsm8k-community"
    bootnodes = []               # bootnode multiaddrs nodes start from (a swarm with a chain also
                                 # publishes them on the contract; one without lists them here)
    coordinator_peer_id = ""     # the peer id nodes trust for the round/stage clock and leaderboard
    [task]                       # the task family and its parameters (NodeSettings values)
    family = "gsm8k"
    settings = { steps_per_stage = 2, questions_per_round = 8 }
    [model]
    name = "Gensyn/Qwen2.5-0.5B-Instruct"
    allowed = []                 # other models a node may bring; empty: only ``name``
    [stages]
    count = 3                    # stages per round (the contract's stageCount must agree)
    min_peers = 1                # the stage manager waits for this many submissions
    grace_s = 30.0               # ... then this long for the other live peers
    max_stage_s = 600.0          # ... and advances on this schedule at the latest
    [chain]                      # omit for a DHT-only swarm (the first bootnode then keeps the clock)
    chain_id = 31337
    rpc_url = "http://127.0.0.1:8545"
    contract = "0x..."           # written by `rlswarm swarm deploy`
    code_hash = "0x..."          # keccak of the coordinator implementation's code, checked by nodes
    stage_manager = "0x..."      # accounts granted the roles at deploy (default: the deployer)
    bootnode_manager = "0x..."
    [serve]
    host = "0.0.0.0"
    ports = [38331]              # one bootnode per port
    announce = []                # public multiaddrs, e.g. /ip4/203.0.113.5/tcp/38331
    [hub]
    repo_pattern = "{name}-{peer}" # Hub repository naming: {name} the swarm, {peer} the node's animal name
    org = ""

Nodes take the task, model and chain values as a settings layer between the profile and the user
config (see :func:`settings_layer`).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rlswarm_core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, published as tomli
    import tomli as tomllib

SCHEMA_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
# settings a swarm file may not set for its nodes: where a node listens and who it is stay the node's own
_NODE_OWN = frozenset(
    {"profile", "dht_port", "host", "announce_maddrs", "env", "metrics_port", "device", "threads", "gpus"}
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskSection(_Strict):
    family: str = "gsm8k"
    settings: dict[str, Any] = Field(default_factory=dict)


class ModelSection(_Strict):
    name: str = "Gensyn/Qwen2.5-0.5B-Instruct"
    allowed: list[str] = Field(default_factory=list)


class StagesSection(_Strict):
    count: int = Field(3, ge=1, le=64)
    min_peers: int = Field(1, ge=1)
    grace_s: float = Field(30.0, gt=0)
    max_stage_s: float = Field(600.0, gt=0)


class ChainSection(_Strict):
    chain_id: int = Field(..., ge=1)
    rpc_url: str
    contract: str | None = None
    code_hash: str | None = None
    stage_manager: str | None = None
    bootnode_manager: str | None = None

    @field_validator("rpc_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^(https?|wss?)://\S+$", value):
            raise ValueError("must be an http(s):// or ws(s):// URL")
        return value

    @field_validator("contract", "stage_manager", "bootnode_manager")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and not _ADDRESS.match(value):
            raise ValueError("must be an address: 0x and 40 hex digits")
        return value

    @field_validator("code_hash")
    @classmethod
    def _hash(cls, value: str | None) -> str | None:
        if value is not None and not _HASH.match(value):
            raise ValueError("must be 0x and 64 hex digits")
        return value


class ServeSection(_Strict):
    host: str = "0.0.0.0"
    ports: list[int] = Field(default_factory=lambda: [38331])
    announce: list[str] = Field(default_factory=list)


class HubSection(_Strict):
    repo_pattern: str = "{name}-{peer}"
    org: str | None = None


class SwarmFile(_Strict):
    version: int = SCHEMA_VERSION
    name: str
    task: TaskSection = Field(default_factory=TaskSection)
    model: ModelSection = Field(default_factory=ModelSection)
    stages: StagesSection = Field(default_factory=StagesSection)
    chain: ChainSection | None = None
    serve: ServeSection = Field(default_factory=ServeSection)
    bootnodes: list[str] = Field(default_factory=list)
    coordinator_peer_id: str | None = None
    hub: HubSection = Field(default_factory=HubSection)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use letters, digits, '.', '_' or '-' (at most 64)")
        return value

    @model_validator(mode="after")
    def _version_and_settings(self) -> SwarmFile:
        if self.version != SCHEMA_VERSION:
            raise ValueError(
                f"schema version {self.version} is not supported (this rlswarm reads {SCHEMA_VERSION})"
            )
        own = sorted(set(self.task.settings) & _NODE_OWN)
        if own:
            raise ValueError(f"task.settings may not set {own[0]!r}: it is each node's own choice")
        return self

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def parse_swarm_file(text: str, where: str, *, toml: bool) -> SwarmFile:
    import yaml

    try:
        data = tomllib.loads(text) if toml else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        kind = "TOML" if toml else "YAML"
        raise ConfigError(f"swarm file {where} is not valid {kind} ({exc})".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise ConfigError(f"swarm file {where} must be a mapping (see `rlswarm swarm create --help`)")
    try:
        return SwarmFile(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or "file"
        msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise ConfigError(f"swarm file {where}: {loc}: {msg}", "fix that value in the file") from None


def load_swarm_file(path: Path) -> SwarmFile:
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"swarm file {path} does not exist", "create one with `rlswarm swarm create`"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read swarm file {path}: {exc.strerror}") from None
    return parse_swarm_file(text, str(path), toml=path.suffix == ".toml")


def save_swarm_file(swarm: SwarmFile, path: Path) -> Path:
    """Write the file atomically (it holds no secrets, so others may read it: it is meant to be shared)."""
    import os
    import tempfile

    import yaml

    path = Path(path).expanduser()
    if path.suffix == ".toml":
        import tomlkit

        text = tomlkit.dumps(swarm.dump())
    else:
        text = f"# rlswarm swarm file, schema version {SCHEMA_VERSION}\n" + yaml.safe_dump(
            swarm.dump(), sort_keys=False
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def settings_layer(swarm: SwarmFile) -> dict[str, Any]:
    """The node settings a swarm file gives its nodes (the layer between the profile and the config)."""
    values: dict[str, Any] = dict(swarm.task.settings)
    values["task_family"] = swarm.task.family
    values["model"] = swarm.model.name
    if swarm.chain is not None:
        values["network"] = "swarm"
        values["rpc_url"] = swarm.chain.rpc_url
        values["chain_id"] = swarm.chain.chain_id
        if swarm.chain.contract:
            values["contract"] = swarm.chain.contract
    else:
        values["network"] = "local"
    if swarm.bootnodes:
        values["initial_peers"] = list(swarm.bootnodes)
    if swarm.coordinator_peer_id:
        values["coordinator_peer_id"] = swarm.coordinator_peer_id
    if swarm.hub.org:
        values["hub_org"] = swarm.hub.org
    return values


def read_swarm_source(source: str) -> SwarmFile:
    """A swarm file from a path or an ``https://`` URL (plain ``http://`` only for loopback hosts)."""
    if not source.startswith(("https://", "http://")):
        return load_swarm_file(Path(source))
    from urllib.parse import urlparse

    import httpx

    url = urlparse(source)
    if url.scheme == "http" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"swarm file URL {source} is not https", "use an https:// URL or a local file")
    try:
        response = httpx.get(source, timeout=15.0, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"cannot fetch the swarm file {source} ({type(exc).__name__})",
            "check the URL, or download the file and pass its path",
        ) from None
    return parse_swarm_file(response.text, source, toml=url.path.endswith(".toml"))
