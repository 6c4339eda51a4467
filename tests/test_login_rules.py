"""The rules behind ``rlswarm login``/``logout``, exercised without the CLI (rlswarm_core.secrets.login)."""

from __future__ import annotations

import pytest

from rlswarm_core.secrets import login
from rlswarm_core.secrets.login import LoginError
from rlswarm_core.secrets.store import SecretStore
from rlswarm_core.settings.resolve import load_user_config, update_user_config
from tests.test_login import READ_TOKEN, WALLET_ADDRESS, WALLET_KEY, hub_online, hub_url  # noqa: F401


def test_wallet_address_is_derived_from_the_key_alone() -> None:
    assert login.wallet_address(WALLET_KEY) == (WALLET_ADDRESS, WALLET_KEY)
    assert login.wallet_address(" " + WALLET_KEY[2:].upper() + "\n") == (WALLET_ADDRESS, WALLET_KEY)
    with pytest.raises(LoginError, match="32 bytes of hex"):
        login.wallet_address("0x1234")
    with pytest.raises(LoginError, match="not a valid secp256k1 key"):
        login.wallet_address("0x" + "0" * 64)


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://proxy.example.org/", "https://proxy.example.org"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("http://localhost:3000/", "http://localhost:3000"),
        ("http://proxy.example.org", None),  # the API key would cross the network in clear text
        ("ftp://proxy.example.org", None),
        ("https://", None),
        ("https://a b.example", None),
    ],
)
def test_proxy_urls_must_be_https_beyond_loopback(url: str, accepted: str | None) -> None:
    store = SecretStore()
    if accepted is None:
        with pytest.raises(LoginError):
            login.proxy_base_url(url, store)
    else:
        assert login.proxy_base_url(url, store) == accepted


def test_the_stored_proxy_url_is_the_default() -> None:
    store = SecretStore()
    with pytest.raises(LoginError, match="no proxy URL given"):
        login.proxy_base_url(None, store)
    update_user_config(store.paths, proxy_url="https://stored.example")
    assert login.proxy_base_url(None, store) == "https://stored.example"


def test_empty_input_is_refused_and_values_are_registered_for_redaction() -> None:
    from rlswarm_core.secrets.redact import redact

    with pytest.raises(LoginError, match="no proxy API key given"):
        login.require_value("  \n", "proxy API key", "pipe it on stdin")
    assert login.require_value(" pk_value_123456 \n", "proxy API key", "") == "pk_value_123456"
    assert redact("key pk_value_123456") == "key ***"


def test_a_read_only_token_is_refused_before_anything_is_stored(
    hub_online: None,  # noqa: F811
    hub_url: str,  # noqa: F811
    no_keyring_backend: None,
) -> None:
    store = SecretStore()
    with pytest.raises(LoginError, match="read-only"):
        login.store_hf_token(store, READ_TOKEN, endpoint=hub_url, insecure_storage=True)
    with pytest.raises(LoginError, match="whitespace"):
        login.store_hf_token(store, "hf_two words", endpoint=hub_url, insecure_storage=True)
    assert not store.get("hf_token").is_set and not store.file_path.exists()
    allowed = login.store_hf_token(
        store, READ_TOKEN, endpoint=hub_url, allow_read_only=True, insecure_storage=True
    )
    assert allowed.summary.startswith("Hugging Face token as bob (read-only) stored in insecure file")
    levels = [(n.level, n.text.split(":")[0]) for n in allowed.notes]
    assert ("warning", "the token of bob is read-only") in levels
    assert load_user_config()["hf_user"] == "bob"


def test_logout_removes_secrets_and_what_was_derived_from_them(no_keyring_backend: None) -> None:
    store = SecretStore()
    login.store_wallet_key(store, WALLET_KEY, insecure_storage=True)
    assert load_user_config()["wallet_address"] == WALLET_ADDRESS
    done = login.logout(store, "wallet")
    assert done.data["removed"]["wallet_private_key"] == [f"insecure file {store.file_path}"]
    assert "wallet_address" not in load_user_config()
    assert login.logout(store, "all").summary == "nothing was stored"
