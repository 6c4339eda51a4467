"""The live panel of ``rlswarm join``: a Rich renderable over a :class:`NodeView`.

It lays itself out for the width it is given: two facts per row from 100 columns, one below (so an
80-column terminal cuts nothing), and the node's address with the command that joins another node to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from rlswarm_core.node.view import NodeView
from rlswarm_core.rewards.sparkline import sparkline

STAGE_NAMES = {3: ("answer", "critique", "decide"), 1: ("answer",)}
# below this many columns the facts take one row each
WIDE = 100


def _short(peer_id: str) -> str:
    return f"{peer_id[:6]}…{peer_id[-4:]}" if len(peer_id) > 12 else peer_id


def _memory(gb: float | None) -> str:
    if not gb:
        return "-"
    return f"{gb:.1f} GB" if gb >= 1 else f"{gb * 1024:.0f} MB"


def _history(values: list[float]) -> str:
    """A sparkline with its range; a flat series is a level line with its value (no height implied)."""
    if not values:
        return "-"
    low, high = min(values), max(values)
    if high - low <= 0:
        return f"{'─' * min(len(values), 24)} all {low:.3f}"
    return f"{sparkline(values)} {low:.2f}–{high:.2f}"


def join_address(view: NodeView) -> str:
    """The address another node joins this one at: a non-loopback one when there is one (it also
    works from other machines), else the first."""
    if not view.maddrs:
        return ""
    for maddr in view.maddrs:
        if not maddr.startswith(("/ip4/127.", "/ip6/::1/")):
            return maddr
    return view.maddrs[0]


def join_command(view: NodeView, address: str | None = None) -> str:
    """What a second node runs to join this one (its own instance, so its own identity and port)."""
    address = address or join_address(view)
    if not address:
        return ""
    profile = f"--profile {view.profile} " if view.profile else ""
    return f"rlswarm join {profile}--instance node2 --port 0 --initial-peer {address}"


def render_panel(
    view: NodeView, memory_gb: float | None = None, stage_count: int = 3, now: float | None = None
) -> RenderableType:
    return NodePanel(view, memory_gb, stage_count, now)


@dataclass
class NodePanel:
    view: NodeView
    memory_gb: float | None = None
    stage_count: int = 3
    # the clock for elapsed times (tests pin it); None: the time of each redraw
    now: float | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width)

    def _where(self) -> tuple[str, str]:
        view = self.view
        names = STAGE_NAMES.get(self.stage_count, ())
        if view.stop_reason:
            trained = (
                f"last trained: round {view.round} stage {view.stage}"
                if view.round is not None
                else "nothing trained"
            )
            return f"stopped: {view.stop_reason}", trained
        if view.round is not None and view.stage is not None:
            name = names[view.stage] if view.stage < len(names) else ""
            return f"round {view.round}  stage {view.stage} {name}".rstrip(), f"step {view.step}/{view.steps}"
        phase = view.phase
        if view.state == "running":
            phase = "joining the swarm: waiting for the round clock"
        elapsed = ""
        if view.phase_since:
            now = self.now if self.now is not None else time.time()
            elapsed = f"{max(0.0, now - view.phase_since):.0f} s"
        return f"{phase}…", elapsed

    def build(self, width: int) -> Panel:
        view = self.view
        wide = width >= WIDE
        where, beside = self._where()
        progress = Table.grid(padding=(0, 1))
        progress.add_column(width=34)
        progress.add_column()
        progress.add_row(Text(where, style="bold"), Text(beside))
        if not view.stop_reason and (view.round is not None or view.steps):
            bar = ProgressBar(total=max(view.steps, 1), completed=view.step, width=30)
            progress.add_row(bar, Text(f"{view.tokens_per_second:.0f} tok/s"))

        if view.rank:
            rank = f"#{view.rank} of {view.leaderboard_size}"
        elif view.leaderboard_top:
            rank = f"below the top {view.leaderboard_size}"
        else:
            rank = "-"
        pairs = [
            ("reward (stage)", f"{view.stage_reward:.3f}"),
            ("peers", str(view.peers)),
            ("rank", rank),
            ("rounds", str(view.rounds_completed)),
            ("total reward", f"{view.total_reward:.3f}"),
            ("history", _history([r for _, r in view.round_rewards])),
        ]
        if view.pass_at_1 is not None:
            pairs += [
                ("pass@1 (stage)", f"{view.pass_at_1:.1%}"),
                ("pass@1 rounds", _history([r for _, r in view.round_pass_at_1])),
            ]
        pairs += [
            ("chain", view.last_chain or "-"),
            ("hub push", view.last_push or "-"),
            ("checkpoint", view.last_checkpoint or "-"),
            ("memory", _memory(self.memory_gb)),
        ]
        facts = Table.grid(padding=(0, 2))
        per_row = 2 if wide else 1
        for _ in range(per_row):
            facts.add_column(style="dim", no_wrap=True)
            facts.add_column(overflow="fold")
        for i in range(0, len(pairs), per_row):
            facts.add_row(*[cell for pair in pairs[i : i + per_row] for cell in pair])

        parts: list[RenderableType] = [progress, Text(""), facts]
        address = join_address(view)
        if address:
            parts += [
                Text(""),
                Text.assemble(("address  ", "dim"), address, overflow="fold"),
                # narrow: the address above already takes its own lines
                Text.assemble(
                    ("join it  ", "dim"),
                    join_command(view, None if wide else "<address>"),
                    overflow="fold",
                ),
            ]
        if view.chain_waiting:
            parts.append(Text(f"chain: {view.chain_waiting}", style="yellow", overflow="fold"))
        if view.swarm_stopped:
            parts.append(Text(view.swarm_stopped, style="bold yellow", overflow="fold"))
        if view.unreachable:
            parts.append(Text(view.unreachable, style="yellow", overflow="fold"))
        if view.last_error:
            parts.append(Text(f"last problem: {view.last_error}", style="yellow", overflow="fold"))
        title = (
            f"{view.animal_name or 'rlswarm node'}  [{_short(view.peer_id)}]"
            if view.peer_id
            else "rlswarm node"
        )
        subtitle = f"{view.role} · {view.profile} · {view.model} · {view.device}".strip(" ·")
        if not wide:  # the model's name is in the join command's profile; the subtitle must fit
            subtitle = f"{view.role} · {view.profile} · {view.device}".strip(" ·")
        return Panel(
            Group(*parts), title=title, subtitle=subtitle, subtitle_align="right", border_style="cyan"
        )
