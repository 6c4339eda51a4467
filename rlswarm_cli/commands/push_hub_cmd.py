"""``rlswarm push-hub``: publish a node's checkpoint (latest, best or one round) to the Hugging Face Hub."""

from __future__ import annotations

from contextlib import contextmanager
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rlswarm_cli.app import output
from rlswarm_cli.options import EndpointOpt, InstanceOpt, JsonOpt

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rlswarm_cli.output import Output
    from rlswarm_core.hub.batch import BatchResult, DryRun


class OptimizerChoice(str, Enum):
    none = "none"
    full = "full"


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def push_hub(
    ctx: typer.Context,
    repo_id: Annotated[
        str | None,
        typer.Option(
            "--repo-id",
            help="Target repository, NAMESPACE/NAME or NAME (default: USER/BASEMODEL-rlswarm-ANIMAL).",
        ),
    ] = None,
    org: Annotated[str | None, typer.Option("--org", help="Push under this organisation.")] = None,
    private: Annotated[bool, typer.Option("--private", help="Create the repository as private.")] = False,
    best_only: Annotated[
        bool,
        typer.Option(
            "--best-only", help="Push the best checkpoint (highest reward, then wins, then later round)."
        ),
    ] = False,
    all_instances: Annotated[
        bool, typer.Option("--all-instances", help="Push every instance that has checkpoints.")
    ] = False,
    instance: InstanceOpt = "default",
    round_: Annotated[
        int | None, typer.Option("--round", min=0, help="Push this round's checkpoint.")
    ] = None,
    optimizer: Annotated[
        OptimizerChoice,
        typer.Option("--optimizer", help="Also upload the optimizer state (full) or not (none)."),
    ] = OptimizerChoice.none,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the files and sizes that would be pushed; no network.")
    ] = False,
    message: Annotated[
        str | None,
        typer.Option("--message", "-m", help="Commit message (default: 'rl-swarm: round R, agent NAME')."),
    ] = None,
    endpoint: EndpointOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Push a checkpoint (the latest, the best, or one round) to the Hugging Face Hub with a model card."""
    from rlswarm_core.hub import batch

    out = output(ctx, json_out)
    target = batch.Target(repo_id, org, private, optimizer.value, message)
    chosen = batch.choose(
        instance=instance, all_instances=all_instances, best_only=best_only, round_=round_, repo_id=repo_id
    )
    if dry_run:
        plans = batch.dry_run(chosen, target)
        out.emit(plans.to_dict(), lambda: _dry_run_view(out, plans))
        return

    from rlswarm_core.hub.push import hub_access

    access = hub_access(endpoint)  # refuses a missing or read-only token before anything is uploaded
    result = batch.push_all(
        chosen, access, target, progress_for=lambda _, cp: _progress(out, cp.round), on_failure=out.warn
    )
    if result.pushed or out.json_mode:
        out.emit(result.to_dict(), _pushed_lines(result))
    batch.raise_if_failed(result, len(chosen))


def _pushed_lines(result: BatchResult) -> str:
    return "\n".join(
        f"pushed round {pushed.round} of {item.instance} to {pushed.url} "
        f"({len(pushed.files)} files, {_size(pushed.bytes)}, commit {pushed.commit[:7]})"
        + ("" if pushed.created else "; updated the existing repository")
        for item, pushed in result.pushed
    )


@contextmanager
def _progress(out: Output, round_: int) -> Iterator[Any]:
    """A progress bar for one push, fed by the push's stage callbacks."""
    with out.progress(f"round {round_}: preparing files", total=3) as bar:

        def on_stage(stage: str, info: Any) -> None:
            if stage == "prepared":
                bar.update(advance=1)
            elif stage == "create":
                bar.update(description=f"round {round_}: creating {info['repo_id']}")
            elif stage == "upload":
                files = f"{info['files']} files ({_size(info['bytes'])})"
                bar.update(advance=1, description=f"round {round_}: uploading {files}")
            elif stage == "retry":
                bar.update(description=f"round {round_}: retry in {info['wait_s']:.0f} s ({info['error']})")
            elif stage == "done":
                bar.update(advance=1, description=f"round {round_}: pushed to {info['repo_id']}")

        yield on_stage


def _dry_run_view(out: Output, plans: DryRun) -> Any:
    from rlswarm_cli.output import Col
    from rlswarm_core.hub.batch import PLACEHOLDER_USER

    parts: list[Any] = []
    for push in plans.pushes:
        parts.append(f"would push round {push['round']} of {push['instance']} to {push['repo_id']}")
        rows = [[f["path"], _size(int(f["size"])), f["note"]] for f in push["files"]]
        rows.append(["total", _size(push["bytes"]), ""])
        parts.append(out.table(["file", Col("size", justify="right"), Col("note", wrap=True)], rows))
    if plans.placeholder:
        parts.append(f"({PLACEHOLDER_USER} stands for the account of the token used to push)")
    return out.group(*parts)
