"""Per-rank (FSDP / veRL style) shards are consolidated into one model.safetensors and one optimizer.pt."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest

from rlswarm_core.hub.errors import HubPushError
from rlswarm_core.hub.push import RetryPolicy, hub_access, prepare_upload, push_plan, target_repo_id
from rlswarm_core.hub.selection import instance_checkpoints, select_checkpoint
from rlswarm_core.hub.shards import find_rank_shards
from rlswarm_core.training.checkpoints import CheckpointStore
from tests.hub.conftest import InstanceMaker, save_round
from tests.hub.fake_hub import WRITE_TOKEN, FakeHub

WORLD = 2


def _split(value: Any, rank: int) -> Any:
    """Rank ``rank``'s part of a state, the way FSDP shards it: dimension 0 for tensors, the rest whole."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.clone() if value.dim() == 0 else torch.chunk(value, WORLD, dim=0)[rank].clone()
    if isinstance(value, dict):
        return {k: _split(v, rank) for k, v in value.items()}
    if isinstance(value, list):
        return [_split(v, rank) for v in value]
    return value


@pytest.fixture(scope="module")
def trained_state(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real tiny model after one AdamW step: its weights, optimizer state and a probe's logits."""
    import torch
    from transformers import AutoModelForCausalLM

    from rlswarm_core.training.tiny_model import ensure_tiny_model

    folder = ensure_tiny_model(tmp_path_factory.mktemp("shard-model"))
    model = AutoModelForCausalLM.from_pretrained(str(folder))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    probe = torch.tensor([[5, 17, 99, 3, 250]])
    model(input_ids=probe, labels=probe).loss.backward()
    optimizer.step()
    with torch.no_grad():
        logits = model(input_ids=probe).logits
    return {
        "folder": folder,
        "weights": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "probe": probe,
        "logits": logits,
    }


def _sharded_round(
    store: CheckpointStore, state: dict[str, Any], round_: int, ranks: range = range(WORLD)
) -> Path:
    """A round folder as veRL writes it: rank shards, with config and tokenizer in huggingface/. It is
    assembled by hand, as an operator would, so it has no manifest and is checked by its structure."""
    import torch

    checkpoint = save_round(store, state["folder"], round_, reward=1.0, weights=False)
    meta = checkpoint.path / "huggingface"
    meta.mkdir()
    (checkpoint.path / "manifest.json").unlink()
    for item in list(checkpoint.path.iterdir()):
        if item.is_file() and item.name != "record.json":
            shutil.move(str(item), meta / item.name)
    for rank in ranks:
        torch.save(
            _split(state["weights"], rank), checkpoint.path / f"model_world_size_{WORLD}_rank_{rank}.pt"
        )
        torch.save(
            _split(state["optimizer"], rank), checkpoint.path / f"optim_world_size_{WORLD}_rank_{rank}.pt"
        )
    return checkpoint.path


def test_rank_shards_are_consolidated_and_pushed(
    fake_hub: FakeHub, make_instance: InstanceMaker, trained_state: dict[str, Any], tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load as load_safetensors
    from transformers import AutoModelForCausalLM

    store = make_instance("default")
    folder = _sharded_round(store, trained_state, 1)
    access = hub_access(token=WRITE_TOKEN)
    item = instance_checkpoints("default")
    checkpoint = select_checkpoint(item)
    repo_id = target_repo_id(access.user, item, checkpoint, None, None)
    with prepare_upload(item, checkpoint, repo_id, optimizer="full") as plan:
        notes = {f.path_in_repo: f.note for f in plan.files}
        result = push_plan(plan, access=access, repo_id=repo_id, retry=RetryPolicy(base_delay_s=0.01))
        workdir = plan.workdir()
    assert not workdir.exists()  # consolidated files are temporary
    assert notes["model.safetensors"] == notes["optimizer.pt"] == "consolidated from 2 rank shards"
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".pt")  # shards left untouched

    files = fake_hub.repo(result.repo_id).files
    assert not any("rank" in name for name in files)
    assert {"config.json", "generation_config.json", "tokenizer.json", "README.md"} <= set(files)

    weights = load_safetensors(files["model.safetensors"])
    assert set(weights) == set(trained_state["weights"])
    for name, tensor in trained_state["weights"].items():
        assert torch.equal(weights[name], tensor), name

    optimizer = torch.load(io.BytesIO(files["optimizer.pt"]), weights_only=True)
    original = trained_state["optimizer"]
    assert optimizer["param_groups"] == original["param_groups"]
    assert set(optimizer["state"]) == set(original["state"])
    for index, entry in original["state"].items():
        for key, value in entry.items():
            assert torch.equal(optimizer["state"][index][key], value), (index, key)

    # the pushed folder is a loadable model giving the trained model's outputs
    pushed = tmp_path / "pushed"
    pushed.mkdir()
    for name, data in files.items():
        (pushed / name).write_bytes(data)
    model = AutoModelForCausalLM.from_pretrained(str(pushed))
    with torch.no_grad():
        logits = model(input_ids=trained_state["probe"]).logits
    assert torch.allclose(logits, trained_state["logits"], atol=1e-6)


def test_missing_rank_is_a_clear_error(make_instance: InstanceMaker, trained_state: dict[str, Any]) -> None:
    store = make_instance("default")
    folder = _sharded_round(store, trained_state, 1, ranks=range(1))
    with pytest.raises(
        HubPushError, match=r"incomplete model shards for world size 2 \(missing ranks \[1\]\)"
    ):
        find_rank_shards(folder, "model")


def test_hugging_face_shards_are_uploaded_as_they_are(
    make_instance: InstanceMaker, trained_state: dict[str, Any]
) -> None:
    import torch
    from safetensors.torch import save as safetensors_bytes

    from rlswarm_core.hub.upload import build_upload_plan

    store = make_instance("default")
    shards = {
        "model-00001-of-00002.safetensors": safetensors_bytes({"a": torch.zeros(2)}),
        "model-00002-of-00002.safetensors": safetensors_bytes({"b": torch.ones(3)}),
        "model.safetensors.index.json": b"{}",
    }
    checkpoint = save_round(store, trained_state["folder"], 1, reward=1.0, weights=False, extra_files=shards)
    with build_upload_plan(checkpoint) as plan:
        assert set(shards) <= set(plan.names) and "model.safetensors" not in plan.names
    (checkpoint.path / "model.safetensors.index.json").unlink()
    with pytest.raises(HubPushError, match=r"model\.safetensors\.index\.json is missing"):
        build_upload_plan(checkpoint)  # the manifest notices first
    (checkpoint.path / "manifest.json").unlink()  # a folder assembled by hand: checked by its layout
    with pytest.raises(HubPushError, match=r"no model\.safetensors\.index\.json"):
        build_upload_plan(checkpoint)


def _save_dtensor_shards(weights: dict[str, Any], folder: Path) -> None:
    """FSDP2-style shards: DTensors on a 2-rank mesh, saved rank by rank through a fake process group."""
    import torch
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import DTensor, Replicate, Shard
    from torch.testing._internal.distributed.fake_pg import FakeStore

    for rank in range(WORLD):
        dist.init_process_group("fake", rank=rank, world_size=WORLD, store=FakeStore())
        try:
            mesh = init_device_mesh("cpu", (WORLD,))
            state = {}
            for name, full in weights.items():
                if full.dim() >= 2:
                    local = torch.chunk(full, WORLD, dim=1)[rank].clone()  # sharded on dim 1 on purpose
                    placement: Any = Shard(1)
                else:
                    local, placement = full.clone(), Replicate()
                state[name] = DTensor.from_local(
                    local, mesh, [placement], run_check=False, shape=full.shape, stride=full.stride()
                )
            torch.save(state, folder / f"model_world_size_{WORLD}_rank_{rank}.pt")
        finally:
            dist.destroy_process_group()


def test_dtensor_shards_are_consolidated(trained_state: dict[str, Any], tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from rlswarm_core.hub.shards import consolidate_model

    _save_dtensor_shards(trained_state["weights"], tmp_path)
    shards = find_rank_shards(tmp_path, "model")
    assert shards is not None and shards.world_size == WORLD
    merged = load_file(str(consolidate_model(shards, tmp_path / "out" / "model.safetensors")))
    assert set(merged) == set(trained_state["weights"])
    for name, tensor in trained_state["weights"].items():
        assert torch.equal(merged[name], tensor), name


def test_adapter_only_checkpoint_uploads_the_adapter(
    make_instance: InstanceMaker, trained_state: dict[str, Any]
) -> None:
    from rlswarm_core.hub.upload import build_upload_plan

    store = make_instance("default")
    adapter = {"adapter_config.json": b"{}", "adapter_model.safetensors": b"lora"}
    checkpoint = save_round(store, trained_state["folder"], 1, reward=1.0, weights=False, extra_files=adapter)
    with build_upload_plan(checkpoint) as plan:
        assert set(adapter) <= set(plan.names)
    (checkpoint.path / "adapter_model.safetensors").unlink()
    with pytest.raises(HubPushError, match=r"adapter_model\.safetensors is missing"):
        build_upload_plan(checkpoint)  # the manifest notices first
    (checkpoint.path / "manifest.json").unlink()  # a folder assembled by hand: checked by its layout
    with pytest.raises(HubPushError, match="holds no model weights"):
        build_upload_plan(checkpoint)
