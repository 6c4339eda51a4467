"""Setting values (and other plain data) written the way an operator types them."""

from __future__ import annotations

from typing import Any


def human_value(value: Any) -> str:
    """A setting's value as an operator writes it: ``-`` for unset, lists comma-separated (as ``config set``
    takes them), mappings as ``KEY=VALUE``, booleans as in YAML; never a Python repr."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ", ".join(f"{k}={human_value(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(human_value(v) for v in value) or "-"
    return str(value)
