"""The wallet key never reaches logs, output or exception text, whatever goes wrong."""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Callable

import pytest

from rlswarm_core.chain.devnet import DevnetInfo
from rlswarm_core.chain.errors import ChainError
from rlswarm_core.chain.proxy_server import ProxyServer
from rlswarm_core.chain.reader import CoordinatorReader
from rlswarm_core.chain.wallet import WalletClient, load_account
from rlswarm_core.errors import RlswarmError
from tests.chain.helpers import fund, new_peer


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_private_key_never_appears_in_logs_output_or_errors(
    devnet: DevnetInfo,
    reader: CoordinatorReader,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    import httpx
    from eth_account import Account

    key_hex = Account.create().key.hex().removeprefix("0x")
    key = "0x" + key_hex
    caplog.set_level(logging.DEBUG)  # web3, urllib3, httpx and our own loggers, all at their most verbose
    texts: list[str] = []

    def capture(action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as exc:
            assert isinstance(exc, RlswarmError), f"raw {type(exc).__name__} escaped: {exc}"
            texts.extend([str(exc), repr(exc), "".join(traceback.format_exception(exc))])
        else:
            pytest.fail("the action was expected to fail")

    wallet = WalletClient(reader, key)
    texts.append(repr(wallet))
    fund(reader, wallet.address)
    peer = new_peer()
    wallet.register_peer(peer)
    rnd, stage = reader.round_and_stage()
    wallet.submit_reward(rnd, stage, 1, peer)
    capture(lambda: wallet.submit_reward(rnd, stage, 1, peer))  # revert
    capture(lambda: wallet.submit_reward(rnd + 9, 0, 1, peer))  # revert
    capture(
        lambda: WalletClient(CoordinatorReader(devnet.rpc_url, devnet.contract, 1), key).register_peer(peer)
    )
    down = CoordinatorReader(f"http://127.0.0.1:{_closed_port()}", devnet.contract, devnet.chain_id)
    capture(lambda: WalletClient(down, key).submit_reward(0, 0, 1, peer))  # transport
    capture(lambda: WalletClient(reader, key, gas_cap=1).register_peer(new_peer()))  # gas cap
    capture(lambda: load_account(key_hex[:-2] + "zz"))  # malformed key
    capture(lambda: load_account(key + "00"))  # wrong length
    broke = Account.create().key.hex()
    capture(lambda: WalletClient(reader, broke).register_peer(new_peer()))  # unfunded account

    with ProxyServer(WalletClient(reader, key), "org-hygiene") as server:
        bodies = [
            httpx.post(f"{server.base_url}/submit-reward", json=payload).text
            for payload in (
                {
                    "orgId": "org-hygiene",
                    "roundNumber": rnd,
                    "stageNumber": stage,
                    "reward": 1,
                    "peerId": peer,
                },
                {"orgId": "org-hygiene", "roundNumber": "x"},
                {"orgId": "wrong"},
            )
        ]
    texts.extend(bodies)

    out, err = capfd.readouterr()
    everything = "\n".join([*texts, caplog.text, out, err]).lower()
    assert len(texts) > 10 and caplog.records
    assert key_hex.lower() not in everything
    assert broke.removeprefix("0x").lower() not in everything


def test_errors_are_single_readable_lines(devnet: DevnetInfo) -> None:
    down = CoordinatorReader(f"http://127.0.0.1:{_closed_port()}", devnet.contract, devnet.chain_id)
    with pytest.raises(ChainError) as exc:
        down.current_round()
    line = str(exc.value)
    assert "\n" not in line and "cannot reach the chain RPC endpoint" in line
