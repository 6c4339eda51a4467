"""Sending one alert to one channel: a JSON webhook, a Telegram bot, or an ntfy topic.

A failure is one line naming the channel and what went wrong (HTTP status, or the kind of transport
error), never the URL: a webhook URL or a bot token in a log would hand the channel to whoever reads it.
"""

from __future__ import annotations

import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from rlswarm_core.alerts.config import NTFY_SERVER, TELEGRAM_API, Channel
from rlswarm_core.errors import RlswarmError
from rlswarm_core.secrets.redact import redact

TIMEOUT_S = 10.0
_ICONS = {"firing": "🔴", "resolved": "✅", "test": "🔔"}


class DeliveryError(RlswarmError):
    """An alert could not be delivered to a channel."""


@dataclass(frozen=True)
class Notice:
    """One alert message: a condition starting (firing), clearing (resolved), or a test."""

    rule: str
    status: str  # "firing" | "resolved" | "test"
    instance: str
    title: str
    detail: str
    at: float = field(default_factory=time.time)
    host: str = field(default_factory=socket.gethostname)

    def text(self) -> str:
        return f"{_ICONS.get(self.status, '')} {self.title}\n{self.detail}\n({self.host})".strip()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "source": "rlswarm"}


def channel_secret(channel: Channel) -> str | None:
    from rlswarm_core.secrets.store import SecretStore, alert_channel_key

    return SecretStore().get(alert_channel_key(channel.name)).value


def _post(channel: Channel, url: str, **kwargs: Any) -> Any:
    import httpx

    try:
        response = httpx.post(url, timeout=TIMEOUT_S, follow_redirects=False, **kwargs)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"alert channel {channel.name!r}: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise DeliveryError(f"alert channel {channel.name!r}: HTTP {response.status_code}")
    return response


def send(channel: Channel, notice: Notice, secret: str | None = None) -> None:
    """Deliver ``notice``; the channel's secret is read from the secret store unless given."""
    secret = secret if secret is not None else channel_secret(channel)
    if channel.has_secret and channel.kind != "ntfy" and not secret:
        raise DeliveryError(
            f"alert channel {channel.name!r} has no secret in the keyring",
            f"add it again with 'rlswarm alerts add {channel.kind} {channel.name}'",
        )
    if channel.kind == "webhook":
        _post(channel, str(secret), json=notice.to_dict())
    elif channel.kind == "telegram":
        base = (channel.api_base or TELEGRAM_API).rstrip("/")
        body = {"chat_id": channel.chat_id, "text": notice.text(), "disable_web_page_preview": True}
        response = _post(channel, f"{base}/bot{secret}/sendMessage", json=body)
        try:
            ok = bool(response.json().get("ok"))
        except (ValueError, AttributeError):
            ok = False
        if not ok:
            raise DeliveryError(f"alert channel {channel.name!r}: Telegram did not accept the message")
    elif channel.kind == "ntfy":
        base = (channel.server or NTFY_SERVER).rstrip("/")
        headers = {
            "Title": notice.title.encode("ascii", "replace").decode(),
            "Tags": {"firing": "rotating_light", "resolved": "white_check_mark"}.get(notice.status, "bell"),
            "Priority": "high" if notice.status == "firing" else "default",
        }
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        _post(channel, f"{base}/{channel.topic}", content=redact(notice.text()).encode(), headers=headers)
    else:  # pragma: no cover - the config model admits only the kinds above
        raise DeliveryError(f"alert channel {channel.name!r}: unknown kind {channel.kind!r}")
