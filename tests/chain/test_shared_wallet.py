"""Two peers on one account (two instances sharing a wallet): the contract pays one reward per account and
stage, and the queue reports the second peer's refused reward as a failure with its reason, while a
peer's own earlier submission still counts as delivered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rlswarm_core.chain.errors import AccountAlreadySubmitted
from rlswarm_core.chain.queue import SubmissionQueue
from rlswarm_core.chain.reader import CoordinatorReader
from rlswarm_core.chain.wallet import WalletClient
from tests.chain.helpers import move_to_stage, new_peer


def test_the_second_peer_of_an_account_fails_with_the_reason(
    tmp_path: Path,
    reader: CoordinatorReader,
    stage_manager: WalletClient,
    new_wallet: Callable[[], WalletClient],
) -> None:
    shared = new_wallet()
    first, second = new_peer(), new_peer()
    shared.register_peer(first)
    shared.register_peer(second)
    rnd, stage = move_to_stage(stage_manager, 1)
    # one queue per peer, as each node has its own
    q1 = SubmissionQueue(tmp_path / "q1", shared, reader)
    q2 = SubmissionQueue(tmp_path / "q2", shared, reader)

    assert q1.submit_reward(rnd, stage, 5, first) == "sent"
    with pytest.raises(AccountAlreadySubmitted) as refused:
        q2.submit_reward(rnd, stage, 8, second)
    line = refused.value.one_line()
    assert refused.value.reason == "account_already_submitted"
    assert shared.address in line and first in line and "own wallet" in line
    # the node that did submit, asked again (a restart that retrains the stage), is told "already"
    assert q1.submit_reward(rnd, stage, 5, first) == "already"
    assert reader.total_rewards([first, second]) == [5, 0]
    assert q2.pending() == []
