"""Alert channels and rule thresholds: ``<config>/alerts.yaml``; each channel's secret lives in the keyring.

The file holds nothing secret: a webhook's URL, a Telegram bot token and an ntfy access token are stored
under ``alert_channel.NAME`` in the secret store (or given as ``RLSWARM_ALERT_NAME_SECRET``); the file
keeps only what is safe to show (a chat id, a server, a topic, a webhook's host).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rlswarm_core.errors import ConfigError
from rlswarm_core.system.paths import app_paths

ALERTS_FILE = "alerts.yaml"
KINDS = ("webhook", "telegram", "ntfy")
TELEGRAM_API = "https://api.telegram.org"
NTFY_SERVER = "https://ntfy.sh"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

Kind = Literal["webhook", "telegram", "ntfy"]


class Channel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Kind
    # what may be shown: a webhook's scheme and host, a Telegram chat id, an ntfy server and topic
    target: str = ""
    chat_id: str | None = None
    api_base: str | None = None
    server: str | None = None
    topic: str | None = None
    # whether the channel needs a secret (webhook URL, bot token) or has an optional one (ntfy token)
    has_secret: bool = True


class Rules(BaseModel):
    """Thresholds of the alert rules; 0 (or false) turns a rule off."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    interval_s: float = Field(15.0, ge=0.2, le=3600)
    node_down: bool = True
    restart_loop_count: int = Field(3, ge=0, le=1000)
    restart_loop_window_s: float = Field(900.0, gt=0)
    stall_rounds: int = Field(3, ge=0, le=10_000)
    chain_failures: int = Field(3, ge=0, le=10)
    memory: bool = True
    # the node's whole resident memory (with its DHT process and p2pd) may not exceed this; None: each
    # instance's own model budget plus the runtime overhead the planner sized it with
    memory_limit_gb: float | None = Field(None, gt=0)
    disk_min_free_percent: float = Field(5.0, ge=0, lt=100)


class AlertsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[Channel] = Field(default_factory=list)
    rules: Rules = Field(default_factory=Rules)

    def channel(self, name: str) -> Channel:
        for channel in self.channels:
            if channel.name == name:
                return channel
        known = ", ".join(c.name for c in self.channels) or "none"
        raise ConfigError(f"no alert channel named {name!r} (channels: {known})", "see 'rlswarm alerts list'")


def config_path() -> Path:
    return app_paths().config / ALERTS_FILE


def check_channel_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise ConfigError(
            f"invalid channel name {name!r}",
            "use up to 40 lowercase letters, digits, '-' and '_', starting with a letter or digit",
        )
    return name


def check_http_url(url: str, what: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"{what} must be an http:// or https:// URL", "give the full address, with its scheme"
        )
    return url.strip().rstrip("/")


def shown_url(url: str) -> str:
    """Only the scheme and host of a URL whose path may hold a token (Slack, Discord, ...)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


def load_config() -> AlertsConfig:
    from rlswarm_core.settings.model import load_yaml_mapping

    path = config_path()
    data = load_yaml_mapping(path, "alerts file")
    try:
        return AlertsConfig(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or "alerts"
        raise ConfigError(
            f"alerts file {path}: {loc}: {first.get('msg', 'invalid value')}", "fix it or delete the file"
        ) from None
    except TypeError:
        raise ConfigError(f"alerts file {path} is malformed", "fix it or delete the file") from None


def save_config(config: AlertsConfig) -> Path:
    import yaml

    paths = app_paths().ensure()
    path = paths.config / ALERTS_FILE
    fd, tmp = tempfile.mkstemp(prefix=".alerts.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            data: dict[str, Any] = config.model_dump(mode="json", exclude_none=True)
            yaml.safe_dump(data, handle, sort_keys=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def config_mtime() -> float | None:
    try:
        return config_path().stat().st_mtime
    except OSError:
        return None
