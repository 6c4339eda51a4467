"""Pushing checkpoints with the real huggingface_hub client to the local fake Hub."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlswarm_core.hub.errors import HubPushError
from rlswarm_core.hub.model_card import read_front_matter
from rlswarm_core.hub.push import (
    RetryPolicy,
    hub_access,
    node_settings_for,
    prepare_upload,
    push_plan,
    target_repo_id,
)
from rlswarm_core.hub.selection import instance_checkpoints, select_checkpoint
from rlswarm_core.identity.names import animal_name, animal_slug
from tests.hub.conftest import InstanceMaker, save_round
from tests.hub.fake_hub import OTHER_WRITE_TOKEN, READ_TOKEN, WRITE_TOKEN, FakeHub

FAST = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.05)


def _push(best_only: bool = False, round_: int | None = None, **kwargs: object):
    access = hub_access(token=str(kwargs.pop("token", WRITE_TOKEN)))
    item = instance_checkpoints("default")
    checkpoint = select_checkpoint(item, best_only=best_only, round_=round_)
    repo_id = target_repo_id(
        access.user, item, checkpoint, kwargs.pop("repo_id", None), kwargs.pop("org", None)
    )
    settings = node_settings_for("default", checkpoint.record.profile)
    optimizer = str(kwargs.pop("optimizer", "none"))
    with prepare_upload(item, checkpoint, repo_id, optimizer=optimizer, settings=settings) as plan:
        return push_plan(plan, access=access, repo_id=repo_id, retry=FAST, **kwargs)


def test_push_latest_uploads_model_files_and_card(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    store = make_instance("default")
    save_round(store, tiny_model_dir, 1, reward=0.5, wins=1)
    save_round(store, tiny_model_dir, 2, reward=1.5, wins=0)
    peer_id = store.root.name

    result = _push()

    repo_id = f"alice/Qwen2.5-0.5B-Instruct-rlswarm-{animal_slug(peer_id)}"
    assert result.repo_id == repo_id and result.created and result.round == 2
    repo = fake_hub.repo(repo_id)
    assert len(repo.commits) == 1
    assert repo.commits[0]["summary"] == f"rl-swarm: round 2, agent {animal_name(peer_id)}"
    expected = {p.name for p in tiny_model_dir.iterdir() if p.is_file() and p.name[0] != "."} | {"README.md"}
    assert set(repo.files) == expected
    assert "config.json" in repo.files and "model.safetensors" in repo.files
    assert "record.json" not in repo.files and "optimizer.pt" not in repo.files
    for name in expected - {"README.md"}:
        assert repo.files[name] == (store.get(2).path / name).read_bytes(), name

    card = repo.files["README.md"].decode()
    meta = read_front_matter(card)
    assert meta["base_model"] == "Gensyn/Qwen2.5-0.5B-Instruct"
    assert meta["library_name"] == "transformers"
    assert meta["tags"] == ["rl-swarm", "grpo", "gensyn", f"I am {animal_name(peer_id)}"]
    assert "license" not in meta  # the base model's card is not on this machine
    assert "| Task family | gsm8k |" in card
    assert "| Checkpoint round | 2 |" in card
    assert "| Rounds trained | 2 (rounds 1–2) |" in card
    learning_rate = node_settings_for("default", "cpu")["learning_rate"]  # type: ignore[index]
    assert "From the node settings at push time." in card and f"| learning_rate | {learning_rate} |" in card
    assert "| Round reward | 1.5 |" in card
    assert "| Wins | 0 |" in card
    assert "| 1 | 0.5 | 1 | 20 |" in card and "| 2 | 1.5 | 0 | 40 |" in card
    assert "cpu (" in card  # hardware profile with its description


def test_best_only_picks_highest_reward_then_wins(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    store = make_instance("default")
    save_round(store, tiny_model_dir, 1, reward=2.0, wins=0)
    save_round(store, tiny_model_dir, 2, reward=2.0, wins=3)  # ties on reward, more wins
    save_round(store, tiny_model_dir, 3, reward=1.0, wins=9)
    save_round(store, tiny_model_dir, 4, reward=0.5, wins=0)

    result = _push(best_only=True)

    assert result.round == 2
    repo = fake_hub.repo(result.repo_id)
    assert repo.commits[0]["summary"].startswith("rl-swarm: round 2,")
    card = repo.files["README.md"].decode()
    assert "| Checkpoint round | 2 |" in card and "| Wins | 3 |" in card
    history = card.split("## Rewards by round")[1].split("##")[0]
    rounds = [line.split("|")[1].strip() for line in history.splitlines() if line.startswith("| ")]
    assert rounds == ["Round", "1", "2"]  # the card tells this checkpoint's story, not later rounds


def test_round_option_pushes_that_round(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    store = make_instance("default")
    for r in (1, 2, 3):
        save_round(
            store,
            tiny_model_dir,
            r,
            reward=float(r),
            extra_files={"generation_config.json": b'{"r": %d}' % r},
        )

    result = _push(round_=1, message="first round")

    repo = fake_hub.repo(result.repo_id)
    assert result.round == 1
    assert repo.commits[0]["summary"] == "first round"
    assert repo.files["generation_config.json"] == b'{"r": 1}'
    assert "| Checkpoint round | 1 |" in repo.files["README.md"].decode()

    with pytest.raises(HubPushError, match=r"no checkpoint for round 7 .*rounds on disk: 1, 2, 3"):
        _push(round_=7)


def test_interrupted_commit_is_retried(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    fake_hub.state.fail("commit", "drop", times=2)
    retries: list[dict[str, object]] = []

    result = _push(progress=lambda stage, info: retries.append(dict(info)) if stage == "retry" else None)

    assert result.attempts == 3
    assert fake_hub.state.count("commit") == 3
    assert len(fake_hub.state.commits) == 1  # the two cut uploads left nothing behind
    assert [r["attempt"] for r in retries] == [1, 2]
    assert "network failure" in str(retries[0]["error"])
    assert "model.safetensors" in fake_hub.repo(result.repo_id).files


def test_upload_gives_up_after_the_last_retry(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    fake_hub.state.fail("commit", 503, times=5)
    with pytest.raises(HubPushError, match=r"HTTP 503 .*gave up after 3 attempts") as info:
        _push()
    assert info.value.transient
    assert fake_hub.state.count("commit") == 3 and fake_hub.state.commits == []


def test_read_only_token_is_refused_before_any_upload(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    with pytest.raises(HubPushError, match="the token of bob is read-only") as info:
        _push(token=READ_TOKEN)
    assert "\n" not in info.value.one_line() and READ_TOKEN not in info.value.one_line()
    assert fake_hub.state.count("whoami") == 1
    assert fake_hub.state.count("create") == 0 and fake_hub.state.count("preupload") == 0
    assert fake_hub.state.commits == []


def test_rejected_token_is_one_line(fake_hub: FakeHub) -> None:
    from rlswarm_core.errors import RlswarmError

    with pytest.raises(RlswarmError, match="rejected the token") as info:
        hub_access(token="hf_notAKnownToken000000000")
    assert "hf_notAKnownToken" not in info.value.one_line()


def test_no_token(fake_hub: FakeHub, no_keyring_backend: None) -> None:
    with pytest.raises(HubPushError, match="no Hugging Face token is set") as info:
        hub_access()
    assert "rlswarm login hf" in info.value.one_line()
    assert fake_hub.state.requests == []


def test_existing_repo_is_updated(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    fake_hub.state.add_repo("alice/my-model", "alice", {"notes.txt": b"kept"})

    result = _push(repo_id="my-model")

    assert result.repo_id == "alice/my-model" and not result.created
    repo = fake_hub.repo("alice/my-model")
    assert repo.files["notes.txt"] == b"kept" and "model.safetensors" in repo.files

    again = _push(repo_id="alice/my-model", message="again")
    # nothing changed: the client skips every file (the preupload answer names their blobs), no new commit
    assert not again.created and len(repo.commits) == 1 and again.commit == repo.sha
    assert fake_hub.state.count("info") == 1


def test_repo_owned_by_someone_else(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    fake_hub.state.add_repo("mallory/taken", "mallory", {"x.txt": b"mine"})
    with pytest.raises(HubPushError, match=r"mallory/taken is taken .*HTTP 403") as info:
        _push(repo_id="mallory/taken")
    assert not info.value.transient
    assert fake_hub.state.commits == [] and fake_hub.repo("mallory/taken").files == {"x.txt": b"mine"}

    # the owner may push there (the repository exists: 409 on create, then the commit)
    result = _push(repo_id="mallory/taken", token=OTHER_WRITE_TOKEN)
    assert not result.created and "README.md" in fake_hub.repo("mallory/taken").files


def test_org_namespace(fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path) -> None:
    store = make_instance("default")
    save_round(store, tiny_model_dir, 1, reward=1.0)
    result = _push(org="swarm-lab", private=True)
    assert result.repo_id == f"swarm-lab/Qwen2.5-0.5B-Instruct-rlswarm-{animal_slug(store.root.name)}"
    assert fake_hub.repo(result.repo_id).private
    with pytest.raises(HubPushError, match="namespace 'other-org'"):
        _push(org="other-org")


@pytest.mark.parametrize(
    "bad", ["alice/bad--name", "alice/-dash", "a/b/c", "alice/" + "x" * 97, "alice/n.git"]
)
def test_invalid_repo_id_is_refused_locally(
    bad: str, fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    save_round(make_instance("default"), tiny_model_dir, 1, reward=1.0)
    with pytest.raises(HubPushError, match="invalid repository id"):
        _push(repo_id=bad)
    assert fake_hub.state.count("create") == 0


def test_unreachable_hub_is_a_network_error(
    make_instance: InstanceMaker, fake_hub: FakeHub, closed_port_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url)
    with pytest.raises(
        HubPushError, match=r"cannot check the Hugging Face token at http://127.0.0.1"
    ) as info:
        hub_access(token=WRITE_TOKEN)
    assert info.value.transient


def test_optimizer_full_uploads_optimizer_state(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    store = make_instance("default")
    save_round(store, tiny_model_dir, 1, reward=1.0)
    with pytest.raises(HubPushError, match="has no optimizer state"):
        _push(optimizer="full")
    save_round(store, tiny_model_dir, 2, reward=1.0, optimizer=b"optimizer-bytes")
    result = _push(optimizer="full")
    assert fake_hub.repo(result.repo_id).files["optimizer.pt"] == b"optimizer-bytes"


def test_license_comes_from_a_local_base_model_card(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path, tmp_path: Path
) -> None:
    base = tmp_path / "my-base"
    base.mkdir()
    (base / "README.md").write_text("---\nlicense: mit\nlanguage: en\n---\n# base\n")
    store = make_instance("default")
    save_round(store, tiny_model_dir, 1, reward=1.0)
    store.update_record(1, model=str(base))

    result = _push()

    assert result.repo_id.startswith("alice/my-base-rlswarm-")
    meta = read_front_matter(fake_hub.repo(result.repo_id).files["README.md"].decode())
    assert meta["license"] == "mit"
    assert "base_model" not in meta  # a local folder is not a Hub repository


def test_license_from_the_hugging_face_cache(tmp_path: Path) -> None:
    from rlswarm_core.hub.model_card import base_model_license

    snapshot = tmp_path / "models--Gensyn--Qwen2.5-0.5B-Instruct" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "README.md").write_text("---\nlicense: apache-2.0\n---\n")
    (tmp_path / "models--Gensyn--Qwen2.5-0.5B-Instruct" / "refs").mkdir()
    (tmp_path / "models--Gensyn--Qwen2.5-0.5B-Instruct" / "refs" / "main").write_text("a" * 40)
    assert base_model_license("Gensyn/Qwen2.5-0.5B-Instruct", cache_dir=tmp_path) == "apache-2.0"
    assert base_model_license("Gensyn/Other", cache_dir=tmp_path) is None
    assert base_model_license("builtin:tiny-qwen2", cache_dir=tmp_path) is None


def test_offline_mode_is_named(make_instance: InstanceMaker) -> None:
    # the suite runs with HF_HUB_OFFLINE=1, as an operator might
    with pytest.raises(HubPushError, match=r"offline mode is on .*unset HF_HUB_OFFLINE to push") as info:
        hub_access(token=WRITE_TOKEN)
    assert not info.value.transient


def test_recorded_hyperparameters_win(
    fake_hub: FakeHub, make_instance: InstanceMaker, tiny_model_dir: Path
) -> None:
    store = make_instance("default")
    save_round(store, tiny_model_dir, 1, reward=1.0)
    store.update_record(1, extra={"hyperparameters": {"learning_rate": 0.125, "num_generations": 8}})
    result = _push()
    card = fake_hub.repo(result.repo_id).files["README.md"].decode()
    assert "From the checkpoint record." in card
    assert "| learning_rate | 0.125 |" in card and "| num_generations | 8 |" in card
