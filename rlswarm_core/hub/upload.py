"""The upload plan for one checkpoint: which files go to the repository, from where, and how big.

Files are uploaded straight from the checkpoint folder; only consolidated shards are written to a
temporary folder, which the plan removes when it is closed. A checkpoint is verified first (its manifest,
or its structure when it predates manifests, see :mod:`rlswarm_core.training.integrity`): a damaged one is
refused with the file at fault named, so a truncated model never reaches the Hub.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rlswarm_core.hub import shards
from rlswarm_core.hub.errors import HubPushError
from rlswarm_core.training.checkpoints import OPTIMIZER_FILE, Checkpoint, CheckpointStore
from rlswarm_core.training.integrity import verify_folder

OptimizerMode = Literal["none", "full"]
OPTIMIZER_MODES: tuple[str, ...] = ("none", "full")
CARD_FILE = "README.md"
CONFIG_FILES = ("config.json", "generation_config.json")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "chat_template.jinja",
    "chat_template.json",
)
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


@dataclass(frozen=True)
class UploadFile:
    path_in_repo: str
    size: int
    source: Path | None = None
    content: bytes | None = None
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path_in_repo, "size": self.size, "note": self.note}


@dataclass
class UploadPlan:
    checkpoint: Checkpoint
    files: list[UploadFile] = field(default_factory=list)
    _workdir: Path | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.path_in_repo for f in self.files)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def add_text(self, path_in_repo: str, text: str) -> None:
        data = text.encode("utf-8")
        self.files = [f for f in self.files if f.path_in_repo != path_in_repo]
        self.files.append(UploadFile(path_in_repo, len(data), content=data, note="generated"))

    def workdir(self) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="rlswarm-push-"))
        return self._workdir

    def close(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> UploadPlan:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _from_disk(path: Path, note: str = "") -> UploadFile:
    return UploadFile(path.name, path.stat().st_size, source=path, note=note)


def _first(folders: list[Path], name: str) -> Path | None:
    return next((f / name for f in folders if (f / name).is_file()), None)


def _weights(plan: UploadPlan, folder: Path) -> list[UploadFile]:
    single = folder / shards.SINGLE
    if single.is_file():
        return [_from_disk(single)]
    hf_parts = sorted(p for p in folder.iterdir() if shards.HF_SHARD.fullmatch(p.name))
    if hf_parts:
        index = folder / shards.HF_INDEX
        if not index.is_file():
            raise HubPushError(
                f"{folder} has sharded weights but no {shards.HF_INDEX}",
                "copy the index file written with the shards into the folder",
            )
        return [_from_disk(index), *(_from_disk(p) for p in hf_parts)]
    ranks = shards.find_rank_shards(folder, "model")
    if ranks is not None:
        merged = shards.consolidate_model(ranks, plan.workdir() / shards.SINGLE)
        return [_from_disk(merged, f"consolidated from {ranks.world_size} rank shards")]
    adapter = [folder / n for n in ADAPTER_FILES if (folder / n).is_file()]
    if len(adapter) == len(ADAPTER_FILES):
        return [_from_disk(p) for p in adapter]
    raise HubPushError(
        f"checkpoint round {plan.checkpoint.round} in {folder} holds no model weights",
        "expected model.safetensors, Hugging Face shards or model_world_size_N_rank_R.pt files",
    )


def _optimizer(plan: UploadPlan, folder: Path) -> UploadFile:
    single = folder / OPTIMIZER_FILE
    if single.is_file():
        return _from_disk(single)
    ranks = shards.find_rank_shards(folder, "optim")
    if ranks is not None:
        merged = shards.consolidate_optimizer(ranks, plan.workdir() / shards.MERGED_OPTIMIZER)
        return _from_disk(merged, f"consolidated from {ranks.world_size} rank shards")
    raise HubPushError(
        f"checkpoint round {plan.checkpoint.round} has no optimizer state to upload",
        "push with --optimizer none, or train with the optimizer saved in checkpoints",
    )


def _intact_hint(damaged: Checkpoint) -> str:
    """Which other rounds could be pushed instead (by a size check against their manifests)."""
    others = [
        str(c.round)
        for c in CheckpointStore(damaged.path.parent).list()
        if c.path != damaged.path and verify_folder(c.path, full=False).ok
    ]
    if not others:
        return "no other checkpoint is intact; let the node save a new round, then push again"
    return f"rounds whose files are all there: {', '.join(others)}; push one with --round N"


def build_upload_plan(checkpoint: Checkpoint, optimizer: str = "none") -> UploadPlan:
    """Config, weights (consolidated when sharded per rank), tokenizer and, with ``full``, the optimizer."""
    if optimizer not in OPTIMIZER_MODES:
        raise HubPushError(
            f"unknown optimizer mode {optimizer!r}", "use --optimizer none or --optimizer full"
        )
    folder = checkpoint.path
    if not folder.is_dir():
        raise HubPushError(f"checkpoint folder {folder} is gone", "it was pruned; pick another round")
    verdict = verify_folder(folder)
    if not verdict.ok:
        raise HubPushError(
            f"refusing to push the damaged checkpoint of round {checkpoint.round}: {verdict.problem}",
            _intact_hint(checkpoint),
        )
    # veRL keeps config and tokenizer in a huggingface/ subfolder next to the rank shards
    meta_folders = [folder, folder / shards.HF_SUBFOLDER]
    plan = UploadPlan(checkpoint)
    try:
        config = _first(meta_folders, "config.json")
        if config is None:
            raise HubPushError(
                f"checkpoint round {checkpoint.round} in {folder} has no config.json",
                "the checkpoint is incomplete; push another round",
            )
        for name in CONFIG_FILES:
            found = _first(meta_folders, name)
            if found is not None:
                plan.files.append(_from_disk(found))
        plan.files += _weights(plan, folder)
        for name in TOKENIZER_FILES:
            found = _first(meta_folders, name)
            if found is not None:
                plan.files.append(_from_disk(found))
        if optimizer == "full":
            plan.files.append(_optimizer(plan, folder))
    except BaseException:
        plan.close()
        raise
    return plan
