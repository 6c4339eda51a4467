"""The live panel of ``rlswarm join``: a Rich renderable over a :class:`NodeView`."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from rlswarm_core.node.view import NodeView
from rlswarm_core.rewards.sparkline import sparkline

STAGE_NAMES = {3: ("answer", "critique", "decide"), 1: ("answer",)}


def _short(peer_id: str) -> str:
    return f"{peer_id[:6]}…{peer_id[-4:]}" if len(peer_id) > 12 else peer_id


def render_panel(view: NodeView, memory_gb: float | None = None, stage_count: int = 3) -> RenderableType:
    names = STAGE_NAMES.get(stage_count, ())
    stage_name = names[view.stage] if view.stage is not None and view.stage < len(names) else ""
    where = (
        f"round {view.round}  stage {view.stage} {stage_name}".rstrip()
        if view.round is not None
        else "waiting for the swarm's clock"
    )
    progress = Table.grid(padding=(0, 1))
    progress.add_column(width=34)
    progress.add_column()
    bar = ProgressBar(total=max(view.steps, 1), completed=view.step, width=30)
    progress.add_row(Text(where, style="bold"), Text(f"step {view.step}/{view.steps}"))
    progress.add_row(bar, Text(f"{view.tokens_per_second:.0f} tok/s"))

    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_column(style="dim")
    facts.add_column()
    rank = f"#{view.rank} of {view.leaderboard_size}" if view.rank else "-"
    history = sparkline([r for _, r in view.round_rewards])
    facts.add_row("reward (stage)", f"{view.stage_reward:.3f}", "peers", str(view.peers))
    facts.add_row("rank", rank, "rounds", str(view.rounds_completed))
    facts.add_row("total reward", f"{view.total_reward:.3f}", "history", history or "-")
    if view.pass_at_1 is not None:
        trend = sparkline([r for _, r in view.round_pass_at_1])
        facts.add_row("pass@1 (stage)", f"{view.pass_at_1:.1%}", "pass@1 rounds", trend or "-")
    facts.add_row("chain", view.last_chain or "-", "hub push", view.last_push or "-")
    facts.add_row(
        "checkpoint", view.last_checkpoint or "-", "memory", f"{memory_gb:.1f} GB" if memory_gb else "-"
    )
    parts: list[RenderableType] = [progress, Text(""), facts]
    if view.chain_waiting:
        parts.append(Text(f"chain: {view.chain_waiting}", style="yellow"))
    if view.swarm_stopped:
        parts.append(Text(view.swarm_stopped, style="bold yellow"))
    if view.last_error:
        parts.append(Text(f"last problem: {view.last_error}", style="yellow"))
    title = (
        f"{view.animal_name or 'rlswarm node'}  [{_short(view.peer_id)}]" if view.peer_id else "rlswarm node"
    )
    subtitle = f"{view.role} · {view.profile} · {view.model} · {view.device}".strip(" ·")
    return Panel(Group(*parts), title=title, subtitle=subtitle, subtitle_align="right", border_style="cyan")
