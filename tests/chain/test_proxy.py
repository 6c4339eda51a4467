"""Proxy mode end to end: the real httpx client against the devnet proxy server over loopback HTTP."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable, Iterator

import httpx
import pytest

from rlswarm_core.chain.errors import ChainUnavailable, ContractRevert, PeerIdTaken
from rlswarm_core.chain.proxy import ProxyClient, ProxyError
from rlswarm_core.chain.proxy_server import ProxyServer
from rlswarm_core.chain.reader import CoordinatorReader
from rlswarm_core.chain.wallet import WalletClient
from tests.chain.helpers import move_to_stage, new_peer

NewWallet = Callable[[], WalletClient]


@pytest.fixture
def org_id() -> str:
    return "org-" + secrets.token_hex(8)


@pytest.fixture
def server(new_wallet: NewWallet, org_id: str) -> Iterator[ProxyServer]:
    with ProxyServer(new_wallet(), org_id) as running:
        yield running


@pytest.fixture
def client(server: ProxyServer, org_id: str, reader: CoordinatorReader) -> Iterator[ProxyClient]:
    with ProxyClient(server.base_url, org_id, reader=reader, retries=1, backoff_s=0.01) as proxy:
        yield proxy


def test_register_through_the_proxy(
    client: ProxyClient, server: ProxyServer, reader: CoordinatorReader, new_wallet: NewWallet
) -> None:
    peer = new_peer()
    first = client.register_peer(peer)
    assert not first.already_registered and first.tx_hash
    assert first.account == server.wallet.address == reader.owner(peer)
    again = client.register_peer(peer)
    assert again.already_registered

    someone_else = new_wallet()
    taken = new_peer()
    someone_else.register_peer(taken)
    with pytest.raises(PeerIdTaken) as exc:
        client.register_peer(taken)
    assert someone_else.address in str(exc.value)


def test_rewards_votes_and_reverts_through_the_proxy(
    client: ProxyClient, reader: CoordinatorReader, stage_manager: WalletClient
) -> None:
    voter, winner = new_peer(), new_peer()
    client.register_peer(voter)
    rnd, stage = move_to_stage(stage_manager, 1)

    assert client.submit_reward(rnd, stage, 11, voter).tx_hash
    assert reader.total_rewards([voter]) == [11]
    with pytest.raises(ContractRevert) as dup:
        client.submit_reward(rnd, stage, 11, voter)
    assert dup.value.name == "RewardAlreadySubmitted"
    with pytest.raises(ContractRevert) as future:
        client.submit_reward(rnd, stage + 1, 1, voter)
    assert future.value.name == "InvalidStageNumber"
    with pytest.raises(ContractRevert) as not_ours:
        client.submit_reward(rnd, 0, 1, new_peer())
    assert not_ours.value.name == "InvalidVoterPeerId"

    client.submit_winners(rnd, [winner], voter)
    assert reader.voter_votes(rnd, voter) == [winner]
    assert reader.total_wins(winner) == 1
    with pytest.raises(ContractRevert) as twice:
        client.submit_winners(rnd, [winner], voter)
    assert twice.value.name == "WinnerAlreadyVoted"
    with pytest.raises(ContractRevert) as bad_vote:
        client.submit_winners(rnd + 5, [winner], voter)
    assert bad_vote.value.name == "InvalidRoundNumber"
    assert "\n" not in str(bad_vote.value)


def test_unknown_org_and_bad_requests_are_one_line(server: ProxyServer, reader: CoordinatorReader) -> None:
    with ProxyClient(server.base_url, "not-the-org", retries=0) as stranger, pytest.raises(ProxyError) as exc:
        stranger.register_peer(new_peer())
    assert "HTTP 401" in str(exc.value) and "log in again" in str(exc.value)

    response = httpx.post(server.base_url + "/submit-reward", content=b"{not json")
    assert response.status_code == 400 and response.json()["error"] == "BadRequest"
    lost = ProxyClient(server.base_url + "/nowhere", "x" * 8, retries=0)
    with lost, pytest.raises(ProxyError, match=r"HTTP 404.*check --proxy-url"):
        lost.submit_winners(0, ["QmX"], "QmY")


def test_unreachable_proxy_is_a_transport_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ProxyClient(f"http://127.0.0.1:{port}", "org-123456", retries=2, backoff_s=0.01)
    with client, pytest.raises(ChainUnavailable, match="after 3 attempts"):
        client.submit_reward(0, 0, 1, "QmPeer")


def test_the_devnet_default_org_id_is_not_masked_but_a_real_one_is() -> None:
    from rlswarm_core.secrets.redact import redact

    # `rlswarm devnet proxy` accepts the public org id "devnet" by default: masking it would turn
    # "--network devnet" into "--network ***" in every line the process prints afterwards
    with ProxyClient("http://127.0.0.1:9", "devnet"):
        pass
    assert redact("rlswarm join --network devnet") == "rlswarm join --network devnet"
    with ProxyClient("http://127.0.0.1:9", "org-4242-private"):
        pass
    assert redact("org id org-4242-private") == "org id ***"
