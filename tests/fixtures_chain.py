"""A real anvil chain with the SwarmCoordinator deployed, started once per test session.

Any test can ask for ``devnet`` (a :class:`DevnetInfo`: RPC URL, contract, chain id, dev accounts);
the stage manager's key is ``dev_key(STAGE_MANAGER_INDEX)``. Teardown stops anvil and checks it is gone.
"""

from __future__ import annotations

from collections.abc import Iterator

import psutil
import pytest

from rlswarm_core.chain.devnet import Devnet, DevnetInfo


@pytest.fixture(scope="session")
def devnet() -> Iterator[DevnetInfo]:
    chain = Devnet()
    info = chain.start()
    pid = chain.anvil.pid
    yield info
    chain.stop()
    assert pid is not None and not _alive(pid), "anvil outlived the test session"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
