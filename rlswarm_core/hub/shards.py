"""Per-rank checkpoint shards (FSDP / veRL style) gathered into the single files the Hub expects.

Accepted layouts in a checkpoint folder:

- ``model.safetensors``: uploaded as it is.
- Hugging Face shards, ``model-0000X-of-0000N.safetensors`` with ``model.safetensors.index.json``:
  uploaded as they are; transformers and the Hub read them as one model.
- Per-rank shards as veRL's FSDP trainer writes them, ``model_world_size_N_rank_R.pt`` for every
  R in 0..N-1 (and optionally ``optim_world_size_N_rank_R.pt``): each file is a ``torch.save``'d
  state dict holding that rank's part. They are merged into ``model.safetensors`` (and
  ``optimizer.pt``). Config and tokenizer files sit next to the shards or in a ``huggingface/``
  subfolder, as veRL writes them.

Merge rules for each entry of a per-rank state dict:

- a ``DTensor`` (FSDP2) on a one-dimensional device mesh: ``Shard(d)`` parts are concatenated along
  ``d`` and checked against the DTensor's global shape; ``Replicate`` takes rank 0's copy;
- a plain tensor with at least one dimension: FSDP shards along dimension 0, so the ranks' parts are
  concatenated along dimension 0;
- a zero-dimensional tensor (an optimizer's ``step``) or any other value: rank 0's copy, since every
  rank holds the same one.

Everything is loaded into CPU memory at once: consolidation needs about the model's size in RAM
(twice that with the optimizer state).
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlswarm_core.hub.errors import HubPushError

RANK_SHARD = re.compile(r"(model|optim)_world_size_(\d+)_rank_(\d+)\.pt")
HF_SHARD = re.compile(r"model-\d{5}-of-\d{5}\.safetensors")
HF_INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
MERGED_OPTIMIZER = "optimizer.pt"
HF_SUBFOLDER = "huggingface"


@dataclass(frozen=True)
class RankShards:
    kind: str  # "model" | "optim"
    world_size: int
    files: tuple[Path, ...]  # rank order

    @property
    def size(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def find_rank_shards(folder: Path, kind: str) -> RankShards | None:
    """The complete set of ``kind`` rank shards in ``folder``, or None when there are none."""
    by_world: dict[int, dict[int, Path]] = {}
    for path in folder.iterdir() if folder.is_dir() else []:
        match = RANK_SHARD.fullmatch(path.name)
        if match and match.group(1) == kind:
            by_world.setdefault(int(match.group(2)), {})[int(match.group(3))] = path
    if not by_world:
        return None
    if len(by_world) > 1:
        sizes = ", ".join(str(n) for n in sorted(by_world))
        raise HubPushError(
            f"{folder} mixes {kind} shards from several world sizes ({sizes})",
            "keep only the shards of one training run in a checkpoint folder",
        )
    world, ranks = next(iter(by_world.items()))
    missing = [r for r in range(world) if r not in ranks]
    extra = [r for r in ranks if r >= world]
    if missing or extra or world < 1:
        what = f"missing ranks {missing}" if missing else f"unexpected ranks {extra}"
        raise HubPushError(
            f"{folder}: incomplete {kind} shards for world size {world} ({what})",
            "copy every rank's shard file into the checkpoint folder",
        )
    return RankShards(kind, world, tuple(ranks[r] for r in range(world)))


def _load(path: Path) -> Any:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # DTensor shards are not plain tensors; these files come from the operator's own trainer.
        return torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError) as exc:
        raise HubPushError(f"cannot read shard {path}: {exc}", "the file is damaged or incomplete") from None


def _is_dtensor(value: Any) -> bool:
    return hasattr(value, "_local_tensor") and hasattr(value, "placements")


def _merge_dtensors(parts: list[Any], where: str) -> Any:
    import torch

    placements = parts[0].placements
    if len(placements) != 1:
        raise HubPushError(
            f"{where} is sharded over a {len(placements)}-dimensional device mesh",
            "only one-dimensional (plain FSDP) meshes can be consolidated",
        )
    placement = placements[0]
    locals_ = [p._local_tensor for p in parts]
    if placement.is_replicate():
        merged = locals_[0]
    elif placement.is_shard():
        merged = torch.cat(locals_, dim=placement.dim)
    else:
        raise HubPushError(
            f"{where} has an unsupported placement {placement}", "save a full state dict instead"
        )
    if tuple(merged.shape) != tuple(parts[0].shape):
        raise HubPushError(
            f"{where}: merged shape {tuple(merged.shape)} differs from the recorded {tuple(parts[0].shape)}",
            "the shards do not belong together",
        )
    return merged


def _merge(parts: list[Any], where: str) -> Any:
    import torch

    first = parts[0]
    if _is_dtensor(first):
        return _merge_dtensors(parts, where)
    if isinstance(first, torch.Tensor):
        if first.dim() == 0:
            return first
        shapes = {tuple(p.shape[1:]) for p in parts}
        if len(shapes) != 1:
            raise HubPushError(
                f"{where}: the ranks' parts have different shapes", "the shards do not belong together"
            )
        return torch.cat(list(parts), dim=0)
    if isinstance(first, dict):
        keys = list(first)
        if any(set(p) != set(keys) for p in parts[1:]):
            raise HubPushError(
                f"{where}: the ranks hold different entries", "the shards do not belong together"
            )
        return {k: _merge([p[k] for p in parts], f"{where}.{k}") for k in keys}
    if isinstance(first, (list, tuple)):
        if any(len(p) != len(first) for p in parts[1:]):
            raise HubPushError(
                f"{where}: the ranks hold lists of different lengths", "the shards do not belong together"
            )
        merged = [_merge([p[i] for p in parts], f"{where}[{i}]") for i in range(len(first))]
        return type(first)(merged) if isinstance(first, tuple) else merged
    return first


def merge_rank_states(shards: RankShards) -> Any:
    parts = [_load(path) for path in shards.files]
    return _merge(parts, shards.kind)


def consolidate_model(shards: RankShards, target: Path) -> Path:
    """Merge per-rank model shards into one ``model.safetensors`` at ``target``."""
    import torch
    from safetensors.torch import save_file

    state = merge_rank_states(shards)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise HubPushError(
            f"{shards.files[0]} is not a model state dict (name -> tensor)", "check the shard files"
        )
    seen: set[int] = set()
    tensors: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        tensor = tensor.detach().contiguous()
        # safetensors refuses tensors that share memory (tied embeddings kept from rank 0)
        if tensor.data_ptr() in seen:
            tensor = tensor.clone()
        seen.add(tensor.data_ptr())
        tensors[name] = tensor
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(target), metadata={"format": "pt"})
    return target


def consolidate_optimizer(shards: RankShards, target: Path) -> Path:
    """Merge per-rank optimizer state dicts into one ``optimizer.pt`` at ``target``."""
    import torch

    state = merge_rank_states(shards)
    if not isinstance(state, dict) or "state" not in state:
        raise HubPushError(f"{shards.files[0]} is not an optimizer state dict", "check the shard files")
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, target)
    return target
