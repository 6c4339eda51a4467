"""``rlswarm identity``: create, import and show node identities (libp2p RSA keys)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rlswarm_cli.app import new_app, output
from rlswarm_cli.options import JsonOpt
from rlswarm_cli.output import Col

if TYPE_CHECKING:
    from rlswarm_core.identity.keys import Identity

app = new_app("identity", "Node identities: create, import, show.")

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Identity name (one per node instance).")]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace an existing identity file; on import, also accept a key held under another name.",
    ),
]


def identity_path(name: str) -> Path:
    """The key file of identity ``name`` in the data directory."""
    from rlswarm_core.system.paths import app_paths

    return app_paths().identity_file(name)


def _describe(ident: Identity) -> dict[str, str]:
    return {"path": str(ident.path), "peer_id": ident.peer_id, "animal_name": ident.animal_name}


def _render(ident: Identity, verb: str) -> str:
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

    out = output(ctx, json_flag)
    rows = []
    for path in app_paths().identity_files():
        row = {"name": path.stem, "path": str(path), "mode": oct(file_mode(path))}
        try:
            row.update(_describe(load_identity(path)))
        except IdentityError as exc:
            row["error"] = exc.one_line()
        rows.append(row)

    def human() -> Any:
        if not rows:
            return "no identities yet: run 'rlswarm identity create'"
        cells = [[r["name"], r.get("peer_id", r.get("error")), r.get("animal_name")] for r in rows]
        return out.table(["name", Col("peer id", wrap=True), "animal name"], cells)

    out.emit({"identities": rows}, human)


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
