"""Pushing several instances at once (rlswarm_core.hub.batch), without the CLI, against the fake Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rlswarm_core.hub import batch
from rlswarm_core.hub.errors import HubPushError
from rlswarm_core.hub.push import hub_access
from tests.hub.conftest import InstanceMaker, save_round
from tests.hub.fake_hub import WRITE_TOKEN, FakeHub


@pytest.fixture
def access(fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("RLSWARM_HF_TOKEN", WRITE_TOKEN)
    return hub_access()


def test_one_failure_does_not_stop_the_others(
    fake_hub: FakeHub, access: Any, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    save_round(make_instance("second"), tiny_model_dir, 2, reward=1.0)
    fake_hub.state.fail("create", 403, times=1)
    chosen = batch.choose(instance="default", all_instances=True, best_only=False, round_=None, repo_id=None)
    reported: list[str] = []
    stages: list[str] = []

    def progress_for(item: Any, checkpoint: Any) -> Any:
        import contextlib

        return contextlib.nullcontext(lambda stage, info: stages.append(stage))

    result = batch.push_all(
        chosen, access, batch.Target(), progress_for=progress_for, on_failure=reported.append
    )
    assert [item.instance for item, _ in result.pushed] == ["second"]
    assert len(result.failures) == 1 and result.failures[0].startswith(
        "default: cannot create the repository"
    )
    assert reported == [f"instance {result.failures[0]}"]
    assert stages[-4:] == ["prepared", "create", "upload", "done"]
    with pytest.raises(HubPushError, match="1 of 2 pushes failed"):
        batch.raise_if_failed(result, len(chosen))
    assert result.to_dict()["pushes"][0]["round"] == 2


def test_a_single_push_fails_as_itself(
    fake_hub: FakeHub, access: Any, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    fake_hub.state.fail("create", 403, times=1)
    chosen = batch.choose(instance="default", all_instances=False, best_only=False, round_=None, repo_id=None)
    with pytest.raises(HubPushError, match="cannot create the repository"):
        batch.push_all(chosen, access, batch.Target())


def test_dry_run_names_the_placeholder_only_when_the_account_is_unknown(
    make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    chosen = batch.choose(instance="default", all_instances=False, best_only=True, round_=None, repo_id=None)
    plans = batch.dry_run(chosen, batch.Target())
    assert plans.placeholder and plans.pushes[0]["repo_id"].startswith(f"{batch.PLACEHOLDER_USER}/")
    assert not batch.dry_run(chosen, batch.Target(org="lab")).placeholder
    assert set(plans.to_dict()) == {"dry_run", "pushes"}
    with pytest.raises(HubPushError, match="--repo-id names one repository"):
        batch.choose(instance="default", all_instances=True, best_only=False, round_=None, repo_id="a/b")
