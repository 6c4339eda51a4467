"""``rlswarm push-hub``: publish a node's checkpoint (latest, best or one round) to the Hugging Face Hub."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rlswarm_cli.app import output
from rlswarm_cli.options import JsonOpt

if TYPE_CHECKING:
    from rich.console import Console

    from rlswarm_cli.output import Output
    from rlswarm_core.hub.push import HubAccess, PushResult
    from rlswarm_core.hub.selection import InstanceCheckpoints
    from rlswarm_core.training.checkpoints import Checkpoint

PLACEHOLDER_USER = "YOUR-HF-USER"


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
    instance: Annotated[
        str, typer.Option("--instance", help="Instance whose checkpoints to push.")
    ] = "default",
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
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="Hub URL (default: HF_ENDPOINT, else huggingface.co).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Push a checkpoint (the latest, the best, or one round) to the Hugging Face Hub with a model card."""
    from rlswarm_core.hub.errors import HubPushError
    from rlswarm_core.hub.selection import all_instances as find_instances
    from rlswarm_core.hub.selection import instance_checkpoints, select_checkpoint

    out = output(ctx, json_out)
    if all_instances and repo_id:
        raise HubPushError(
            "--repo-id names one repository, but --all-instances pushes several",
            "drop --repo-id: each instance gets its own default name",
        )
    items = find_instances() if all_instances else [instance_checkpoints(instance)]
    chosen = [(item, select_checkpoint(item, best_only=best_only, round_=round_)) for item in items]
    if dry_run:
        _dry_run(out, chosen, repo_id, org, optimizer.value)
        return

    from rlswarm_core.hub.push import hub_access

    access = hub_access(endpoint)  # refuses a missing or read-only token before anything is uploaded
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    lines: list[str] = []
    for item, checkpoint in chosen:
        try:
            result = _push_one(out, access, item, checkpoint, repo_id, org, private, optimizer.value, message)
        except HubPushError as exc:
            if len(chosen) == 1:
                raise
            failures.append(f"{item.instance}: {exc.one_line()}")
            out.warn(f"instance {item.instance}: {exc.one_line()}")
            continue
        results.append({"instance": item.instance, "peer_id": item.peer_id, **result.to_dict()})
        lines.append(
            f"pushed round {result.round} of {item.instance} to {result.url} "
            f"({len(result.files)} files, {_size(result.bytes)}, commit {result.commit[:7]})"
            + ("" if result.created else "; updated the existing repository")
        )
    if results or out.json_mode:
        out.emit(
            {"dry_run": False, "pushes": results, "failed": failures}, lambda console: _lines(console, lines)
        )
    if failures:
        raise HubPushError(f"{len(failures)} of {len(chosen)} pushes failed", failures[0])


def _lines(console: Console, lines: list[str]) -> None:
    from rlswarm_core.secrets.redact import redact

    for line in lines:
        # soft wrap: a repository URL must stay whole to be clicked or copied
        console.print(redact(line), markup=False, soft_wrap=True)


def _push_one(
    out: Output,
    access: HubAccess,
    item: InstanceCheckpoints,
    checkpoint: Checkpoint,
    repo_id: str | None,
    org: str | None,
    private: bool,
    optimizer: str,
    message: str | None,
) -> PushResult:
    from rlswarm_core.hub.push import node_settings_for, prepare_upload, push_plan, target_repo_id

    target = target_repo_id(access.user, item, checkpoint, repo_id, org)
    with _progress(out) as bar:
        task = bar.add_task(f"round {checkpoint.round}: preparing files", total=3)
        settings = node_settings_for(item.instance, checkpoint.record.profile)
        with prepare_upload(item, checkpoint, target, optimizer=optimizer, settings=settings) as plan:
            bar.update(task, advance=1)

            def on_progress(stage: str, info: Any) -> None:
                if stage == "create":
                    bar.update(task, description=f"round {checkpoint.round}: creating {target}")
                elif stage == "upload":
                    bar.update(
                        task,
                        advance=1,
                        description=f"round {checkpoint.round}: uploading {info['files']} files "
                        f"({_size(info['bytes'])})",
                    )
                elif stage == "retry":
                    bar.update(
                        task,
                        description=f"round {checkpoint.round}: retry in {info['wait_s']:.0f} s "
                        f"({info['error']})",
                    )
                elif stage == "done":
                    bar.update(task, advance=1, description=f"round {checkpoint.round}: pushed to {target}")

            return push_plan(
                plan, access=access, repo_id=target, private=private, message=message, progress=on_progress
            )


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def add_task(self, *_: Any, **__: Any) -> int:
        return 0

    def update(self, *_: Any, **__: Any) -> None:
        return None


def _progress(out: Output) -> Any:
    if out.json_mode or out.quiet:
        return _NoProgress()
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=out.err_console,
        transient=True,
    )


def _dry_run(
    out: Output,
    chosen: list[tuple[InstanceCheckpoints, Checkpoint]],
    repo_id: str | None,
    org: str | None,
    optimizer: str,
) -> None:
    from rlswarm_core.hub.push import node_settings_for, prepare_upload, target_repo_id
    from rlswarm_core.settings.resolve import load_user_config

    user = load_user_config().get("hf_user") or None
    pushes: list[dict[str, Any]] = []
    for item, checkpoint in chosen:
        target = target_repo_id(user or PLACEHOLDER_USER, item, checkpoint, repo_id, org)
        settings = node_settings_for(item.instance, checkpoint.record.profile)
        with prepare_upload(item, checkpoint, target, optimizer=optimizer, settings=settings) as plan:
            pushes.append(
                {
                    "instance": item.instance,
                    "peer_id": item.peer_id,
                    "round": checkpoint.round,
                    "repo_id": target,
                    "files": [f.to_dict() for f in plan.files],
                    "bytes": plan.total_bytes,
                }
            )

    def human(console: Console) -> None:
        from rich.table import Table

        for push in pushes:
            _lines(console, [f"would push round {push['round']} of {push['instance']} to {push['repo_id']}"])
            table = Table(show_header=True, box=None, pad_edge=False)
            table.add_column("file")
            table.add_column("size", justify="right")
            table.add_column("note")
            for f in push["files"]:
                table.add_row(f["path"], _size(int(f["size"])), str(f["note"]))
            table.add_row("total", _size(push["bytes"]), "")
            console.print(table)
        if not user and not org and not (repo_id and "/" in repo_id):
            console.print(
                f"({PLACEHOLDER_USER} stands for the account of the token used to push)", markup=False
            )

    out.emit({"dry_run": True, "pushes": pushes}, human)
