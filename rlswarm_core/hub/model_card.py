"""The ``README.md`` pushed with a checkpoint: Hub metadata in YAML front matter and a training summary.

The license is copied from the base model's own card when one is on disk (a local model folder, or
the Hugging Face cache); nothing is downloaded to find it, and it is left out when unknown.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rlswarm_core.training.checkpoints import CheckpointRecord

TAGS = ("rl-swarm", "grpo", "gensyn")
MAX_HISTORY_ROWS = 20
_HUB_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class CardInfo:
    repo_id: str
    animal_name: str
    record: CheckpointRecord
    history: tuple[CheckpointRecord, ...] = ()
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    hyperparameters_source: str = "checkpoint record"
    hardware: str = ""
    license: str | None = None
    files: tuple[str, ...] = ()


def read_front_matter(text: str) -> dict[str, Any]:
    """The YAML metadata block at the top of a model card, or an empty dict."""
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        return {}
    try:
        data = yaml.safe_load(text[3:end])
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def base_model_license(
    model: str, extra_folders: Iterable[Path] = (), cache_dir: Path | None = None
) -> str | None:
    """The base model's license from a card already on this machine, else None (never a download)."""
    candidates = [Path(f) / "README.md" for f in extra_folders]
    spec = model.strip()
    local = Path(spec).expanduser()
    if spec and local.is_dir():
        candidates.append(local / "README.md")
    elif _HUB_REPO.fullmatch(spec):
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(spec, "README.md", cache_dir=str(cache_dir) if cache_dir else None)
        if isinstance(cached, str):
            candidates.append(Path(cached))
    for card in candidates:
        try:
            meta = read_front_matter(card.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        value = meta.get("license")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def card_metadata(info: CardInfo) -> dict[str, Any]:
    model = info.record.model
    meta: dict[str, Any] = {}
    if _HUB_REPO.fullmatch(model):
        # the Hub links base_model to a repository, so a local path or built-in name is left out
        meta["base_model"] = model
    meta["library_name"] = "transformers"
    if info.license:
        meta["license"] = info.license
    meta["pipeline_tag"] = "text-generation"
    meta["tags"] = [*TAGS, f"I am {info.animal_name}"]
    return meta


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def pass_at_1(record: CheckpointRecord) -> float | None:
    """The round's share of replies that passed every test (code family), when the record has it."""
    value = record.extra.get("pass_at_1") if isinstance(record.extra, Mapping) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"


def _rounds_text(rounds: list[int]) -> str:
    if len(rounds) == 1:
        return f"1 (round {rounds[0]})"
    return f"{len(rounds)} (rounds {rounds[0]}–{rounds[-1]})"


def _summary_rows(info: CardInfo) -> list[tuple[str, str]]:
    record = info.record
    rounds = sorted({r.round for r in info.history} | {record.round})
    stage = ", ".join(f"stage {k}: {_fmt(v)}" for k, v in sorted(record.stage_rewards.items())) or "n/a"
    rows = [
        ("Agent", f"{info.animal_name} (peer id `{record.peer_id}`)"),
        ("Base model", f"`{record.model}`" if record.model else "unknown"),
        ("Task family", record.task_family or "unknown"),
        ("Checkpoint round", str(record.round)),
        ("Rounds trained", _rounds_text(rounds)),
        ("Training steps", str(record.steps)),
        ("Round reward", _fmt(record.reward)),
        ("Stage rewards", stage),
        *([("pass@1 (round)", _percent(pass_at_1(record)))] if pass_at_1(record) is not None else []),
        ("Wins", str(record.wins)),
        ("Hardware profile", info.hardware or record.profile or "unknown"),
        ("Saved", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(record.created))),
    ]
    return rows


def _table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_model_card(info: CardInfo) -> str:
    meta = yaml.safe_dump(card_metadata(info), sort_keys=False, allow_unicode=True).strip()
    record = info.record
    name = info.repo_id.split("/")[-1]
    parts = [
        f"---\n{meta}\n---",
        f"# {name}",
        (
            f"A checkpoint of `{record.model or 'an unknown base model'}` trained with GRPO in an RL Swarm "
            f"by the agent **{info.animal_name}**. This is round {record.round}: the model learns from its "
            "own answers and from the answers its peers share in the swarm."
        ),
        "## Training summary",
        _table(("Field", "Value"), _summary_rows(info)),
    ]
    history = sorted(info.history, key=lambda r: r.round)[-MAX_HISTORY_ROWS:]
    if history:
        with_pass = any(pass_at_1(r) is not None for r in history)
        header = ("Round", "Reward", "Wins", "Steps", *(("pass@1",) if with_pass else ()))
        parts += [
            "## Rewards by round",
            _table(
                header,
                (
                    (str(r.round), _fmt(r.reward), str(r.wins), str(r.steps))
                    + ((_percent(pass_at_1(r)),) if with_pass else ())
                    for r in history
                ),
            ),
        ]
    if info.hyperparameters:
        parts += [
            "## Hyperparameters",
            f"From the {info.hyperparameters_source}.",
            _table(("Name", "Value"), ((k, str(v)) for k, v in sorted(info.hyperparameters.items()))),
        ]
    if info.files:
        parts += ["## Files", "\n".join(f"- `{f}`" for f in info.files)]
    parts += [
        "## Usage",
        "```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        f'model = AutoModelForCausalLM.from_pretrained("{info.repo_id}")\n'
        f'tokenizer = AutoTokenizer.from_pretrained("{info.repo_id}")\n```',
    ]
    return "\n\n".join(parts) + "\n"
