"""``rlswarm profiles``: list, show and recommend hardware profiles."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from rlswarm_cli.app import new_app, output
from rlswarm_cli.options import JsonOpt

app = new_app("profiles", "Hardware presets: list, show and recommend.")

_SHOWN = ("model", "dtype", "device", "batch_size", "num_generations", "max_completion_length", "threads")


def _user_dir():
    from rlswarm_core.system.paths import app_paths

    return app_paths().config / "profiles"


@app.command("list")
def list_cmd(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """List every profile, marking the one recommended for this machine."""
    from rlswarm_core.settings import profiles
    from rlswarm_core.system import hardware

    out = output(ctx, json_flag)
    found = profiles.list_profiles(_user_dir())
    hw = hardware.detect()
    best = hardware.recommend(found, hw)
    rows: list[dict[str, Any]] = []
    for p in found:
        values = p.values_for(hw.accelerator_memory_gb)
        rows.append(
            {
                "name": p.name,
                "recommended": best is not None and p.name == best.name,
                "description": " ".join(p.description.split()),
                **{k: values.get(k) for k in _SHOWN},
            }
        )

    def render(console) -> None:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for col in ("", "profile", "model", "device", "dtype", "batch", "gens", "completion"):
            table.add_column(col, no_wrap=True)
        for r in rows:
            table.add_row(
                "*" if r["recommended"] else "",
                r["name"],
                str(r["model"]),
                str(r["device"]),
                str(r["dtype"]),
                str(r["batch_size"]),
                str(r["num_generations"]),
                str(r["max_completion_length"]),
            )
        console.print(table)
        if best is not None:
            console.print(
                f"* recommended for this machine ({hw.accelerator}, {hw.accelerator_memory_gb:g} GB)"
            )

    out.emit({"profiles": rows, "recommended": best.name if best else None}, render)


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Profile name, e.g. mac-m4.")],
    memory_gb: Annotated[
        float | None, typer.Option("--memory-gb", help="Show the values for a machine with this much memory.")
    ] = None,
    json_flag: JsonOpt = False,
) -> None:
    """Show every value a profile sets (for this machine's memory unless --memory-gb is given)."""
    from rlswarm_core.settings import profiles
    from rlswarm_core.system import hardware

    out = output(ctx, json_flag)
    profile = profiles.get_profile(name, _user_dir())
    if memory_gb is None:
        memory_gb = hardware.detect().accelerator_memory_gb
    values = profile.values_for(memory_gb)
    data = {
        "name": profile.name,
        "description": " ".join(profile.description.split()),
        "path": str(profile.path),
        "memory_gb": memory_gb,
        "match": profile.match.model_dump() if profile.match else None,
        "settings": values,
        "variants": [v.model_dump() for v in profile.variants],
    }

    def render(console) -> None:
        from rich.table import Table

        console.print(f"{profile.name}: {data['description']}")
        console.print(f"file: {profile.path}   values for {memory_gb:g} GB")
        table = Table(box=None, pad_edge=False, show_header=False)
        table.add_column("setting")
        table.add_column("value", overflow="fold")
        for key, value in values.items():
            table.add_row(key, str(value))
        console.print(table)

    out.emit(data, render)


@app.command("recommend")
def recommend_cmd(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """Detect this machine's hardware and name the profile that fits it."""
    from rlswarm_core.settings import profiles
    from rlswarm_core.system import hardware

    out = output(ctx, json_flag)
    hw = hardware.detect()
    best = hardware.recommend(profiles.list_profiles(_user_dir()), hw)
    data = {"hardware": hw.to_dict(), "recommended": best.name if best else None}
    gpus = ", ".join(f"{g.name} ({g.memory_gb:g} GB)" for g in hw.gpus) or "none"
    out.emit(
        data,
        f"accelerator: {hw.accelerator}   GPUs: {gpus}\n"
        f"CPU: {hw.chip} ({hw.cpu_cores_physical} cores, {hw.cpu_cores_logical} threads)   "
        f"memory: {hw.memory_gb:g} GB ({hw.memory_available_gb:g} GB free)\n"
        f"recommended profile: {data['recommended']}",
    )
