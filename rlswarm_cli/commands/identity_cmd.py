"""``rlswarm identity``: create, import and show node identities (libp2p RSA keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rlswarm_cli.app import new_app, output
from rlswarm_cli.options import JsonOpt

app = new_app("identity", "Node identities: create, import, show.")

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Identity name (one per node instance).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing identity file.")]


def identity_path(name: str) -> Path:
    from rlswarm_core.errors import ConfigError
    from rlswarm_core.system.paths import app_paths

    if not name or "/" in name or name.startswith("."):
        raise ConfigError(f"invalid identity name {name!r}", "use letters, digits, '-' and '_'")
    return app_paths().identities / f"{name}.pem"


def _describe(ident) -> dict[str, str]:
    return {"path": str(ident.path), "peer_id": ident.peer_id, "animal_name": ident.animal_name}


def _render(ident, verb: str) -> str:
    return f"{verb} {ident.path}\npeer id:     {ident.peer_id}\nanimal name: {ident.animal_name}"


@app.command("create")
def create_cmd(
    ctx: typer.Context, name: NameOpt = "default", force: ForceOpt = False, json_flag: JsonOpt = False
) -> None:
    """Create a new identity (refuses to overwrite one unless --force)."""
    from rlswarm_core.identity.keys import create_identity

    ident = create_identity(identity_path(name), overwrite=force)
    output(ctx, json_flag).emit(_describe(ident), _render(ident, "created"))


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    source: Annotated[
        Path, typer.Argument(help="An existing key file, e.g. the reference node's swarm.pem.")
    ],
    name: NameOpt = "default",
    force: ForceOpt = False,
    json_flag: JsonOpt = False,
) -> None:
    """Import an existing key, keeping its peer id; refuses a file that is not a valid key."""
    from rlswarm_core.identity.keys import import_identity

    ident = import_identity(source, identity_path(name), overwrite=force)
    output(ctx, json_flag).emit(_describe(ident), _render(ident, "imported into"))


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    name: NameOpt = "default",
    path: Annotated[Path | None, typer.Option("--path", help="Show a key file outside the data dir.")] = None,
    json_flag: JsonOpt = False,
) -> None:
    """Show an identity's peer id and animal name."""
    from rlswarm_core.identity.keys import load_identity

    ident = load_identity(path or identity_path(name))
    output(ctx, json_flag).emit(_describe(ident), _render(ident, "identity"))


@app.command("list")
def list_cmd(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """List the identities in the data directory."""
    from rlswarm_core.errors import IdentityError
    from rlswarm_core.identity.keys import file_mode, load_identity
    from rlswarm_core.system.paths import app_paths

    rows = []
    folder = app_paths().identities
    for path in sorted(folder.glob("*.pem")) if folder.is_dir() else []:
        row = {"name": path.stem, "path": str(path), "mode": oct(file_mode(path))}
        try:
            row.update(_describe(load_identity(path)))
        except IdentityError as exc:
            row["error"] = exc.one_line()
        rows.append(row)
    text = "\n".join(
        f"{r['name']:<12} {r.get('peer_id', r.get('error', '')):<54} {r.get('animal_name', '')}" for r in rows
    )
    output(ctx, json_flag).emit(
        {"identities": rows}, text or "no identities yet: run 'rlswarm identity create'"
    )


@app.command("name")
def name_cmd(
    ctx: typer.Context,
    peer_id: Annotated[str, typer.Argument(help="Any peer id (Qm…).")],
    json_flag: JsonOpt = False,
) -> None:
    """Print the three-word animal name of any peer id."""
    from rlswarm_core.identity.names import animal_name

    name = animal_name(peer_id)
    output(ctx, json_flag).emit({"peer_id": peer_id, "animal_name": name}, name)
