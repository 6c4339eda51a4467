"""The keyring backend, and the Hugging Face token: present, accepted by the Hub, allowed to push."""

from __future__ import annotations

from typing import Any

from rlswarm_core.doctor.context import DoctorContext
from rlswarm_core.doctor.result import ERROR, OK, WARNING, CheckResult
from rlswarm_core.errors import RlswarmError


def check_keyring(ctx: DoctorContext) -> CheckResult:
    from rlswarm_core.secrets.store import SecretStore, select_backend

    ring, reason = select_backend(ctx.environ)
    if ring is not None:
        name = str(type(ring).name)
        return CheckResult("keyring", OK, f"secrets go to the keyring ({name})", "", {"backend": name})
    store = SecretStore(paths=ctx.paths, environ=ctx.environ)
    try:
        opted_in = store.insecure_opted_in()
    except RlswarmError:
        opted_in = False
    details: dict[str, Any] = {
        "backend": None,
        "reason": reason,
        "insecure_storage": opted_in,
        "file": str(store.file_path),
    }
    if opted_in:
        return CheckResult(
            "keyring",
            WARNING,
            f"no secure keyring; secrets are kept in the 0600 file {store.file_path} (opted in)",
            "install and unlock a Secret Service, then run 'rlswarm login' again to move them there",
            details,
        )
    return CheckResult(
        "keyring",
        WARNING,
        f"no usable keyring backend: {reason}",
        "install and unlock a Secret Service (e.g. gnome-keyring), or set the secrets as environment "
        "variables (RLSWARM_HF_TOKEN, ...), or log in with --insecure-storage to keep them in a 0600 file",
        details,
    )


def check_hf_token(ctx: DoctorContext) -> CheckResult:
    from rlswarm_core.hub.auth import TOKENS_PAGE, HubAuthError, check_token, hub_endpoint

    name = "hf-token"
    try:
        from rlswarm_core.secrets.store import SecretStore

        secret = SecretStore(paths=ctx.paths, environ=ctx.environ).get("hf_token")
    except RlswarmError as exc:
        return CheckResult(name, WARNING, f"cannot read the token: {exc.message}", exc.hint or "", {})
    if not secret.is_set:
        return CheckResult(
            name,
            WARNING,
            "no Hugging Face token; models will not be pushed to the Hub",
            "rlswarm login hf (or set RLSWARM_HF_TOKEN)",
            {"present": False},
        )
    details: dict[str, Any] = {"present": True, "source": secret.where()}
    where = secret.where()
    if not ctx.online:
        return CheckResult(name, OK, f"token in {where} (not checked: offline)", "", details)
    if (ctx.environ.get("HF_HUB_OFFLINE") or "").strip().lower() in {"1", "true", "yes", "on"}:
        return CheckResult(name, OK, f"token in {where} (not checked: HF_HUB_OFFLINE is set)", "", details)
    endpoint = hub_endpoint(None, ctx.environ)
    try:
        result = check_token(secret.value or "", endpoint=endpoint, timeout=ctx.hub_timeout)
    except HubAuthError as exc:
        return CheckResult(name, ERROR, f"token in {where}: {exc.message}", exc.hint or "", details)
    details.update(result.to_dict())
    if not result.verified:
        return CheckResult(
            name,
            WARNING,
            f"token in {where} not checked: {result.problem}",
            f"check that {endpoint} is reachable, then rerun rlswarm doctor",
            details,
        )
    if not result.can_write:
        return CheckResult(
            name,
            WARNING,
            f"token of {result.user} cannot push (role {result.role or 'unknown'})",
            f"create a token with write access at {TOKENS_PAGE} and run 'rlswarm login hf'",
            details,
        )
    return CheckResult(name, OK, f"token of {result.user} with write access ({where})", "", details)
