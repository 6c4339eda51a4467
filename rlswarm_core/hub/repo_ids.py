"""Repository names: the default ``{namespace}/{base model}-rlswarm-{animal}`` and the Hub's naming rules."""

from __future__ import annotations

import re
from pathlib import PurePath

from rlswarm_core.hub.errors import HubPushError
from rlswarm_core.identity.names import animal_slug

MAX_NAME = 96
_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_BAD_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_RULES = "letters, digits, '-', '_' and '.', not starting or ending with '-' or '.', no '--' or '..'"


def _part_problem(part: str, what: str) -> str | None:
    if not part:
        return f"the {what} is empty"
    if len(part) > MAX_NAME:
        return f"the {what} is longer than {MAX_NAME} characters"
    if not _PART.fullmatch(part) or "--" in part or ".." in part:
        return f"the {what} {part!r} is not allowed (use {_RULES})"
    if part.endswith(".git"):
        return f"the {what} may not end with .git"
    return None


def validate_repo_id(repo_id: str) -> str:
    """``namespace/name`` checked against the Hub's rules before anything is sent."""
    parts = repo_id.split("/")
    if len(parts) != 2:
        raise HubPushError(
            f"invalid repository id {repo_id!r}: expected NAMESPACE/NAME", "e.g. --repo-id alice/my-model"
        )
    for part, what in ((parts[0], "namespace"), (parts[1], "repository name")):
        problem = _part_problem(part, what)
        if problem:
            raise HubPushError(f"invalid repository id {repo_id!r}: {problem}", "choose another --repo-id")
    return repo_id


def base_model_name(model: str) -> str:
    """The last part of a model setting, made safe for a repository name.

    ``Gensyn/Qwen2.5-0.5B-Instruct`` gives ``Qwen2.5-0.5B-Instruct``, ``builtin:tiny-qwen2`` gives
    ``tiny-qwen2`` and a local folder gives its own name.
    """
    spec = model.strip().removeprefix("builtin:")
    last = PurePath(spec.rstrip("/")).name if spec else ""
    cleaned = _BAD_CHARS.sub("-", last)
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"\.{2,}", ".", cleaned)).strip("-._")
    return cleaned or "model"


def default_repo_name(model: str, peer_id: str) -> str:
    suffix = f"-rlswarm-{animal_slug(peer_id)}"
    base = base_model_name(model)[: MAX_NAME - len(suffix)].rstrip("-._") or "model"
    return base + suffix


def resolve_repo_id(
    *, user: str | None, model: str, peer_id: str, repo_id: str | None = None, org: str | None = None
) -> str:
    """The target repository: ``--repo-id`` (with ``--org`` or the user as namespace when it has none),
    else ``{org or user}/{base model}-rlswarm-{animal}``."""
    namespace = org or user
    if repo_id and "/" in repo_id:
        if org and repo_id.split("/", 1)[0] != org:
            raise HubPushError(
                f"--repo-id {repo_id} names a namespace other than --org {org}",
                "give the bare repository name with --org, or drop --org",
            )
        return validate_repo_id(repo_id)
    if not namespace:
        raise HubPushError(
            "cannot tell which account to push to", "pass --repo-id NAMESPACE/NAME or --org ORG"
        )
    name = repo_id or default_repo_name(model, peer_id)
    return validate_repo_id(f"{namespace}/{name}")
