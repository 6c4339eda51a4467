"""Fixtures for the chain tests: the shared devnet, readers and fresh funded wallets."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rlswarm_core.chain.devnet import STAGE_MANAGER_INDEX, DevnetInfo, dev_key
from rlswarm_core.chain.reader import CoordinatorReader
from rlswarm_core.chain.wallet import WalletClient
from rlswarm_core.secrets.redact import register_secret
from tests.chain.helpers import fund
from tests.fixtures_chain import devnet  # noqa: F401  (the session devnet, shared with other suites)


@pytest.fixture
def reader(devnet: DevnetInfo) -> CoordinatorReader:  # noqa: F811
    return CoordinatorReader(devnet.rpc_url, devnet.contract, devnet.chain_id)


@pytest.fixture
def stage_manager(reader: CoordinatorReader) -> WalletClient:
    return WalletClient(reader, dev_key(STAGE_MANAGER_INDEX))


@pytest.fixture
def new_wallet(reader: CoordinatorReader) -> Callable[[], WalletClient]:
    """A fresh funded account per call, so that tests sharing the chain never share an account."""
    from eth_account import Account

    def make() -> WalletClient:
        key = "0x" + Account.create().key.hex().removeprefix("0x")
        register_secret(key)
        wallet = WalletClient(reader, key)
        fund(reader, wallet.address)
        return wallet

    return make
