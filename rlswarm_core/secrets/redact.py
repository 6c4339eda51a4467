"""A process-wide list of secret values that must never reach output, logs or exception text.

Anything that loads a secret registers it here; the CLI's output object and the log handlers pass
every line through :func:`redact`, so a secret echoed back by a third-party library is masked too.
"""

from __future__ import annotations

import threading

_MIN_LEN = 6
_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    if value and len(value) >= _MIN_LEN:
        with _lock:
            _secrets.add(value)
            if value.startswith("0x"):
                _secrets.add(value[2:])


def redact(text: str) -> str:
    if not _secrets or not text:
        return text
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def mask(value: str | None) -> str:
    """A hint of which secret is stored without revealing it: ``hf_…c3d``."""
    if not value:
        return ""
    if len(value) <= 8:
        return "***"
    return f"{value[:3]}…{value[-3:]}"
