"""Default repository names and the Hub's naming rules, checked before anything is sent."""

from __future__ import annotations

import pytest

from rlswarm_core.hub.errors import HubPushError
from rlswarm_core.hub.repo_ids import MAX_NAME, base_model_name, resolve_repo_id, validate_repo_id

PEER = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"  # "thorny fishy meerkat"


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("Gensyn/Qwen2.5-0.5B-Instruct", "Qwen2.5-0.5B-Instruct"),
        ("builtin:tiny-qwen2", "tiny-qwen2"),
        ("/models/My Model v2/", "My-Model-v2"),
        ("", "model"),
    ],
)
def test_base_model_name(model: str, name: str) -> None:
    assert base_model_name(model) == name


def test_default_repo_id_uses_the_animal_name() -> None:
    repo_id = resolve_repo_id(user="alice", model="Gensyn/Qwen2.5-0.5B-Instruct", peer_id=PEER)
    assert repo_id == "alice/Qwen2.5-0.5B-Instruct-rlswarm-thorny_fishy_meerkat"
    assert resolve_repo_id(user="alice", model="m", peer_id=PEER, org="lab").startswith("lab/m-rlswarm-")
    assert resolve_repo_id(user="alice", model="m", peer_id=PEER, repo_id="mine") == "alice/mine"
    assert resolve_repo_id(user=None, model="m", peer_id=PEER, repo_id="bob/x") == "bob/x"


def test_long_base_names_are_cut_to_the_limit() -> None:
    repo_id = resolve_repo_id(user="alice", model="org/" + "x" * 200, peer_id=PEER)
    name = repo_id.split("/")[1]
    assert len(name) <= MAX_NAME and name.endswith("-rlswarm-thorny_fishy_meerkat")


def test_no_namespace_known() -> None:
    with pytest.raises(HubPushError, match="cannot tell which account"):
        resolve_repo_id(user=None, model="m", peer_id=PEER)


@pytest.mark.parametrize("good", ["alice/model", "a/b", "alice/Qwen2.5-0.5B_x"])
def test_valid_ids(good: str) -> None:
    assert validate_repo_id(good) == good
