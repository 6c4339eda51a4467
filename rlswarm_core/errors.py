"""The one exception type the CLI turns into a single readable line."""

from __future__ import annotations

import re


class RlswarmError(Exception):
    """An error an operator can act on: what is wrong, and how to fix it.

    ``message`` says what went wrong; ``hint`` (optional) says what to do about it. Neither may
    contain a secret: callers pass only names, paths and public values.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def __str__(self) -> str:
        return self.one_line()


class ConfigError(RlswarmError):
    """A malformed or unknown profile, setting or config file."""


class IdentityError(RlswarmError):
    """A missing, unreadable or invalid identity file."""


class SecretStoreError(RlswarmError):
    """No usable keyring backend, or a failure talking to it."""


_CLOSERS = {"(": ")", "[": "]", "{": "}"}
DEFAULT_LIMIT = 200


def whole_line(text: str, limit: int = DEFAULT_LIMIT) -> str:
    """``text`` as one readable line for an error message, never cut mid-word or inside brackets.

    Whitespace (newlines included) collapses to single spaces. Text longer than ``limit`` ends at the
    last word boundary before it, with "…", and any bracket it left open is closed, so the message that
    wraps it ("... (HTTP 500: ...)") still reads as a whole sentence.
    """
    line = " ".join(str(text).split())
    if len(line) <= limit:
        return line
    cut = line[: max(limit - 1, 1)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    cut = cut.rstrip(" ,;:-") + "…"
    stack: list[str] = []
    for ch in cut:
        if ch in _CLOSERS:
            stack.append(_CLOSERS[ch])
        elif stack and ch == stack[-1]:
            stack.pop()
    return cut + "".join(reversed(stack))


_ERRNO_REASON = re.compile(r"\[Errno -?\d+\] ([^'\"()\[\]]+)")


def describe_exception(exc: BaseException, limit: int = DEFAULT_LIMIT) -> str:
    """``Type: message`` of a third-party exception, redacted and made one whole line. When the text
    carries the operating system's reason (``[Errno 111] Connection refused`` inside a page of urllib3
    wrapping), that reason is the message."""
    from rlswarm_core.secrets.redact import redact

    raw = redact(str(exc))
    reason = _ERRNO_REASON.search(raw)
    text = reason.group(1).strip() if reason else whole_line(raw, limit)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
