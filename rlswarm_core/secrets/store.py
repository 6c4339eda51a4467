"""Secrets (tokens and keys) in the OS keyring, overridden by environment variables.

Lookup order for each secret: its environment variables, then the keyring (service ``rlswarm``),
then the opt-in plain file. Writes go to the keyring; the 0600 file is used only when no secure
backend exists *and* the operator opted in, so secrets never land in plain text silently.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from rlswarm_core.errors import SecretStoreError, whole_line
from rlswarm_core.secrets.redact import redact, register_secret
from rlswarm_core.system.files import write_private
from rlswarm_core.system.paths import AppPaths, app_paths

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "rlswarm"
BACKEND_ENV = "PYTHON_KEYRING_BACKEND"

Origin = Literal["env", "keyring", "file"]
T = TypeVar("T")


@dataclass(frozen=True)
class SecretSpec:
    key: str
    label: str
    env_vars: tuple[str, ...]


SECRETS: dict[str, SecretSpec] = {
    spec.key: spec
    for spec in (
        SecretSpec("hf_token", "Hugging Face token", ("RLSWARM_HF_TOKEN", "HF_TOKEN")),
        SecretSpec("proxy_org_id", "proxy org id", ("RLSWARM_PROXY_ORG_ID",)),
        SecretSpec("proxy_api_key", "proxy API key", ("RLSWARM_PROXY_API_KEY",)),
        SecretSpec("wallet_private_key", "wallet private key", ("RLSWARM_WALLET_PRIVATE_KEY",)),
    )
}

# Secrets named at run time: one per alert channel (a bot token, a webhook URL, an access token).
ALERT_CHANNEL_PREFIX = "alert_channel."


def alert_channel_key(name: str) -> str:
    return ALERT_CHANNEL_PREFIX + name


def _is_known(key: str) -> bool:
    return key in SECRETS or (key.startswith(ALERT_CHANNEL_PREFIX) and len(key) > len(ALERT_CHANNEL_PREFIX))


# Backends that do not protect a secret: keyring's placeholders, and keyrings.alt, whose file
# backends are either plain text or prompt for a master password that a headless node cannot answer.
_REFUSED_MODULES = (
    "keyring.backends.fail",
    "keyring.backends.chainer",
    "keyring.backends.null",
    "keyrings.alt",
)


@dataclass(frozen=True)
class SecretValue:
    key: str
    value: str | None = None
    origin: Origin | None = None
    source: str | None = None  # env var name, keyring backend name, or file path

    @property
    def is_set(self) -> bool:
        return bool(self.value)

    def where(self) -> str:
        if self.origin == "env":
            return f"environment variable {self.source}"
        if self.origin == "keyring":
            return f"keyring ({self.source})"
        if self.origin == "file":
            return f"insecure file {self.source}"
        return "not set"


def register_environment_secrets(environ: Mapping[str, str] | None = None) -> None:
    """Register every secret set in the environment for redaction, whether or not it is ever read."""
    env = os.environ if environ is None else environ
    for spec in SECRETS.values():
        for var in spec.env_vars:
            register_secret((env.get(var) or "").strip())


def spec_for(key: str) -> SecretSpec:
    if key in SECRETS:
        return SECRETS[key]
    if _is_known(key):
        name = key[len(ALERT_CHANNEL_PREFIX) :]
        env = "RLSWARM_ALERT_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper() + "_SECRET"
        return SecretSpec(key, f"secret of alert channel {name!r}", (env,))
    raise SecretStoreError(f"unknown secret {key!r}", f"use one of {', '.join(SECRETS)}")


def is_secure_backend(cls: type) -> bool:
    module = cls.__module__
    if module.startswith(_REFUSED_MODULES) or "plaintext" in cls.__name__.lower():
        return False
    try:
        return float(cls.priority) > 0  # type: ignore[attr-defined]
    except Exception:
        return False


def select_backend(environ: Mapping[str, str]) -> tuple[KeyringBackend | None, str]:
    """The best secure keyring backend right now, or None and why not.

    keyring caches its own choice for the life of the process; availability changes (a Secret
    Service started or stopped), so viability is evaluated afresh on every call.
    """
    import keyring.backend
    import keyring.core

    name = environ.get(BACKEND_ENV)
    if name:
        try:
            ring = keyring.core.load_keyring(name)
        except Exception as exc:
            return None, f"{BACKEND_ENV}={name} is not usable here ({type(exc).__name__})"
        if not is_secure_backend(type(ring)):
            return None, f"{BACKEND_ENV}={name} does not store secrets securely"
        return ring, ""
    keyring.backend.get_all_keyring()  # imports the backend modules and plugins (once per process)
    candidates = [
        cls for cls in keyring.backend.KeyringBackend.get_viable_backends() if is_secure_backend(cls)
    ]
    if not candidates:
        return None, "no secure keyring is running"
    best = max(candidates, key=lambda cls: float(cls.priority))  # type: ignore[attr-defined]
    return best(), ""


class SecretStore:
    """Reads and writes the secrets of :data:`SECRETS`; every value it touches is registered for redaction."""

    def __init__(self, paths: AppPaths | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.paths = paths or app_paths(dict(self.environ))

    @cached_property
    def _selection(self) -> tuple[KeyringBackend | None, str]:
        return select_backend(self.environ)

    @property
    def backend(self) -> KeyringBackend | None:
        return self._selection[0]

    @property
    def backend_name(self) -> str | None:
        ring = self.backend
        return str(type(ring).name) if ring is not None else None

    @property
    def file_path(self) -> Path:
        return self.paths.insecure_secrets_file

    def insecure_opted_in(self) -> bool:
        from rlswarm_core.settings.resolve import load_user_config

        return bool(load_user_config(self.paths).get("insecure_storage"))

    def no_backend_error(self, key: str | None = None) -> SecretStoreError:
        """Why secrets cannot be stored here (one short line), and the three ways out."""
        if key is None:
            what, env = "no usable keyring backend", "the RLSWARM_* secret variables"
        else:
            spec = spec_for(key)
            what, env = f"cannot store the {spec.label}", spec.env_vars[0]
        return SecretStoreError(
            f"{what}: {self._selection[1]}",
            f"start gnome-keyring or another Secret Service, set {env}, "
            "or rerun login with --insecure-storage",
        )

    def no_backend_message(self, key: str | None = None) -> str:
        return self.no_backend_error(key).one_line()

    def get(self, key: str) -> SecretValue:
        spec = spec_for(key)
        for var in spec.env_vars:
            value = (self.environ.get(var) or "").strip()
            if value:
                register_secret(value)
                return SecretValue(key, value, "env", var)
        ring = self.backend
        if ring is not None:
            value = self._keyring(spec, "read", lambda: ring.get_password(SERVICE, key))
            if value:
                register_secret(value)
                return SecretValue(key, value, "keyring", self.backend_name)
        value = self._read_file().get(key)
        if value:
            register_secret(value)
            return SecretValue(key, value, "file", str(self.file_path))
        return SecretValue(key)

    def check_writable(self, key: str, insecure_storage: bool = False) -> None:
        """Fail before asking for a secret that could not be stored."""
        if self.backend is None and not (insecure_storage or self.insecure_opted_in()):
            raise self.no_backend_error(key)

    def set(self, key: str, value: str, *, insecure_storage: bool = False) -> SecretValue:
        spec = spec_for(key)
        if not value:
            raise SecretStoreError(f"refusing to store an empty {spec.label}")
        register_secret(value)
        ring = self.backend
        if ring is not None:
            self._keyring(spec, "store", lambda: ring.set_password(SERVICE, key, value))
            self._drop_from_file(key)  # a stale plain-text copy must not outlive the move to the keyring
            return SecretValue(key, value, "keyring", self.backend_name)
        if not (insecure_storage or self.insecure_opted_in()):
            raise self.no_backend_error(key)
        if insecure_storage and not self.insecure_opted_in():
            from rlswarm_core.settings.resolve import update_user_config

            update_user_config(self.paths, insecure_storage=True)
        data = self._read_file()
        data[key] = value
        self._write_file(data)
        return SecretValue(key, value, "file", str(self.file_path))

    def delete(self, key: str) -> list[str]:
        """Remove the secret from the keyring and the file; returns where it was removed from."""
        spec = spec_for(key)
        removed: list[str] = []
        ring = self.backend
        if (
            ring is not None
            and self._keyring(spec, "read", lambda: ring.get_password(SERVICE, key)) is not None
        ):
            self._keyring(spec, "delete", lambda: ring.delete_password(SERVICE, key))
            removed.append(f"keyring ({self.backend_name})")
        if self._drop_from_file(key):
            removed.append(f"insecure file {self.file_path}")
        return removed

    def _keyring(self, spec: SecretSpec, action: str, call: Callable[[], T]) -> T:
        from keyring.errors import KeyringLocked

        try:
            return call()
        except KeyringLocked:
            raise SecretStoreError(
                f"cannot {action} the {spec.label}: the keyring ({self.backend_name}) is locked",
                "unlock it (log in to the desktop session, or run 'gnome-keyring-daemon --unlock') and retry",
            ) from None
        except Exception as exc:
            detail = whole_line(redact(str(exc)))
            raise SecretStoreError(
                f"keyring backend {self.backend_name} failed to {action} the {spec.label}: "
                f"{type(exc).__name__}{': ' + detail if detail else ''}",
                f"check that the Secret Service is running and unlocked, or set {spec.env_vars[0]}",
            ) from None

    def _read_file(self) -> dict[str, str]:
        path = self.file_path
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            return {}
        if mode & 0o077:
            raise SecretStoreError(
                f"{path} is readable by other users (mode {oct(mode & 0o777)})", f"chmod 600 {path}"
            )
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SecretStoreError(
                f"cannot read {path}: {type(exc).__name__}", "delete the file and log in again"
            ) from None
        if not isinstance(data, dict):
            raise SecretStoreError(f"{path} is not a JSON object", "delete the file and log in again")
        values = {k: v for k, v in data.items() if _is_known(k) and isinstance(v, str) and v}
        for value in values.values():
            register_secret(value)
        return values

    def _write_file(self, data: Mapping[str, str]) -> None:
        self.paths.ensure()
        write_private(self.file_path, json.dumps(dict(data), indent=2, sort_keys=True))

    def _drop_from_file(self, key: str) -> bool:
        data = self._read_file()
        if key not in data:
            return False
        del data[key]
        if data:
            self._write_file(data)
        else:
            self.file_path.unlink(missing_ok=True)
        return True
