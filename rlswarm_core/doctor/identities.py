"""Identity files: each must be a valid key readable by its owner alone."""

from __future__ import annotations

import shlex
import stat
from pathlib import Path
from typing import Any

from rlswarm_core.doctor.result import ERROR, OK, WARNING, CheckResult


def _inspect(path: Path) -> dict[str, Any]:
    from rlswarm_core.errors import IdentityError
    from rlswarm_core.identity.keys import load_identity

    mode = stat.S_IMODE(path.stat().st_mode)
    row: dict[str, Any] = {"path": str(path), "mode": f"{mode:04o}", "problems": []}
    # Group or world access is what leaks a key; an owner-only mode such as 0400 is as safe as 0600.
    if mode & 0o077:
        row["problems"].append("permissions")
    try:
        ident = load_identity(path)
        row["peer_id"] = ident.peer_id
        row["animal_name"] = ident.animal_name
    except IdentityError as exc:
        row["problems"].append("invalid")
        row["error"] = exc.message
    return row


def check_identities(folder: Path) -> CheckResult:
    files = (
        sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        if folder.is_dir()
        else []
    )
    rows = [_inspect(p) for p in files]
    details: dict[str, Any] = {"folder": str(folder), "identities": rows}
    if not rows:
        return CheckResult(
            "identities",
            WARNING,
            f"no identity in {folder}",
            "create one with rlswarm identity create",
            details,
        )
    loose = [r for r in rows if "permissions" in r["problems"]]
    invalid = [r for r in rows if "invalid" in r["problems"]]
    if loose or invalid:
        parts = [f"{r['path']} is mode {r['mode']} (readable by others)" for r in loose]
        parts += [r["error"] for r in invalid]
        fixes = [f"chmod 600 {shlex.quote(r['path'])}" for r in loose]
        fixes += [
            f"move {shlex.quote(r['path'])} out of the identities folder, or re-import the right key "
            "(rlswarm identity import)"
            for r in invalid
        ]
        return CheckResult("identities", ERROR, "; ".join(parts), "; ".join(fixes), details)
    by_peer: dict[str, list[str]] = {}
    for r in rows:
        by_peer.setdefault(r["peer_id"], []).append(Path(r["path"]).stem)
    twins = {peer: stems for peer, stems in by_peer.items() if len(stems) > 1}
    if twins:
        problem = "; ".join(
            f"{' and '.join(stems)} share the peer id {peer}" for peer, stems in twins.items()
        )
        return CheckResult(
            "identities",
            ERROR,
            f"{problem} (two nodes with one peer id collide on the DHT)",
            "keep one identity per peer id: delete the extra copy from the identities folder, or give "
            "that node a new one (rlswarm identity create --name NAME)",
            details,
        )
    names = ", ".join(f"{Path(r['path']).stem} ({r['animal_name']})" for r in rows)
    return CheckResult("identities", OK, f"{len(rows)} valid, owner-only: {names}", "", details)
