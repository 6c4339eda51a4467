"""The secret store against a real gnome-keyring, and on a machine without any keyring backend."""

from __future__ import annotations

import json
import stat

import pytest
import yaml

from rlswarm_core.errors import SecretStoreError
from rlswarm_core.secrets.store import SERVICE, SecretStore
from rlswarm_core.system.paths import app_paths

TOKEN = "hf_roundTripToken0123456789"


def test_round_trip_through_gnome_keyring(keyring_env: dict[str, str]) -> None:
    store = SecretStore()
    assert store.backend_name == "SecretService Keyring"
    assert not store.get("hf_token").is_set

    stored = store.set("hf_token", TOKEN)
    assert stored.origin == "keyring"

    # Read back through a fresh store and straight from the Secret Service.
    found = SecretStore().get("hf_token")
    assert (found.value, found.origin, found.source) == (TOKEN, "keyring", "SecretService Keyring")
    from keyring.backends.SecretService import Keyring

    assert Keyring().get_password(SERVICE, "hf_token") == TOKEN

    assert store.delete("hf_token") == ["keyring (SecretService Keyring)"]
    assert not SecretStore().get("hf_token").is_set
    assert store.delete("hf_token") == []
    assert not app_paths().insecure_secrets_file.exists()


def test_environment_overrides_keyring(keyring_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    SecretStore().set("hf_token", TOKEN)
    monkeypatch.setenv("HF_TOKEN", "hf_fromHfTokenVariable")
    found = SecretStore().get("hf_token")
    assert (found.value, found.origin, found.source) == ("hf_fromHfTokenVariable", "env", "HF_TOKEN")
    monkeypatch.setenv("RLSWARM_HF_TOKEN", "hf_fromRlswarmVariable")
    assert SecretStore().get("hf_token").source == "RLSWARM_HF_TOKEN"
    monkeypatch.setenv("RLSWARM_WALLET_PRIVATE_KEY", "0x" + "ab" * 32)
    assert SecretStore().get("wallet_private_key").origin == "env"


def test_backend_is_chosen_per_store(
    secret_service: dict[str, str], monkeypatch: pytest.MonkeyPatch, no_keyring_backend: None
) -> None:
    assert SecretStore().backend is None
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service["DBUS_SESSION_BUS_ADDRESS"])
    assert SecretStore().backend_name == "SecretService Keyring"


def test_no_backend_reads_env_and_refuses_to_write(
    no_keyring_backend: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SecretStore()
    assert store.backend is None
    assert not store.get("hf_token").is_set
    with pytest.raises(SecretStoreError) as caught:
        store.set("hf_token", TOKEN)
    message = str(caught.value)
    assert "\n" not in message
    assert "Secret Service" in message and "gnome-keyring" in message
    assert "RLSWARM_HF_TOKEN" in message
    assert "--insecure-storage" in message
    assert TOKEN not in message
    assert not store.file_path.exists()

    monkeypatch.setenv("RLSWARM_HF_TOKEN", TOKEN)
    assert SecretStore().get("hf_token").value == TOKEN


def test_insecure_file_is_opt_in_and_0600(no_keyring_backend: None) -> None:
    store = SecretStore()
    stored = store.set("proxy_api_key", "api-key-secret-value", insecure_storage=True)
    assert stored.origin == "file"
    path = store.file_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"proxy_api_key": "api-key-secret-value"}
    assert yaml.safe_load(app_paths().config_file.read_text())["insecure_storage"] is True

    # The opt-in is remembered: later writes need no flag.
    SecretStore().set("proxy_org_id", "org-id-value-123")
    found = SecretStore().get("proxy_org_id")
    assert (found.value, found.origin, found.source) == ("org-id-value-123", "file", str(path))

    assert SecretStore().delete("proxy_api_key") == [f"insecure file {path}"]
    assert SecretStore().delete("proxy_org_id") == [f"insecure file {path}"]
    assert not path.exists()


def test_loose_file_permissions_are_refused(no_keyring_backend: None) -> None:
    store = SecretStore()
    store.set("hf_token", TOKEN, insecure_storage=True)
    store.file_path.chmod(0o644)
    with pytest.raises(SecretStoreError, match="chmod 600"):
        SecretStore().get("hf_token")


def test_refused_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"):
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", name)
        store = SecretStore()
        assert store.backend is None
        assert f"PYTHON_KEYRING_BACKEND={name}" in store.no_backend_message()


def test_explicit_backend_is_honoured(keyring_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.SecretService.Keyring")
    assert SecretStore().backend_name == "SecretService Keyring"


def test_keyring_failure_is_one_line(keyring_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    store = SecretStore()
    assert store.backend is not None
    # The session bus goes away after the backend was chosen.
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/rlswarm-bus")
    with pytest.raises(SecretStoreError) as caught:
        store.set("hf_token", TOKEN)
    message = str(caught.value)
    assert message.startswith("keyring backend SecretService Keyring failed to store the Hugging Face token")
    assert "\n" not in message and TOKEN not in message
