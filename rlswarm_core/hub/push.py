"""Pushing one checkpoint: token check first, then create the repository and commit the files.

The token's write scope is checked before anything is sent, so a read-only token never starts an
upload. Network failures and Hub overloads (429, 5xx) are retried with exponential backoff; a
commit is atomic on the Hub, so retrying it never leaves a half-updated repository. Everything else
(a rejected token, someone else's namespace, an invalid name) fails at once with one line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rlswarm_core import __version__
from rlswarm_core.errors import whole_line
from rlswarm_core.hub.errors import HubPushError
from rlswarm_core.hub.model_card import CardInfo, base_model_license, render_model_card
from rlswarm_core.hub.repo_ids import resolve_repo_id
from rlswarm_core.hub.selection import InstanceCheckpoints
from rlswarm_core.hub.upload import CARD_FILE, UploadPlan, build_upload_plan
from rlswarm_core.identity.names import animal_name
from rlswarm_core.secrets.redact import redact, register_secret
from rlswarm_core.training.checkpoints import Checkpoint

T = TypeVar("T")
Progress = Callable[[str, Mapping[str, Any]], None]

# Settings that shape training, shown in the model card when the checkpoint does not record its own.
HYPERPARAMETER_FIELDS = (
    "learning_rate",
    "batch_size",
    "num_generations",
    "gradient_accumulation_steps",
    "steps_per_stage",
    "beta",
    "warmup_ratio",
    "max_prompt_length",
    "max_completion_length",
    "questions_per_round",
    "lora",
    "dtype",
)


@dataclass(frozen=True)
class HubAccess:
    endpoint: str
    user: str
    role: str | None
    token: str = field(repr=False)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay_s: float = 2.0
    max_delay_s: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    round: int
    url: str
    commit: str
    created: bool
    files: tuple[dict[str, object], ...]
    bytes: int
    attempts: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "round": self.round,
            "url": self.url,
            "commit": self.commit,
            "created": self.created,
            "files": list(self.files),
            "bytes": self.bytes,
            "attempts": self.attempts,
            "seconds": round(self.seconds, 3),
        }


def hub_access(endpoint: str | None = None, token: str | None = None) -> HubAccess:
    """The stored token, checked for write scope; raises before anything is uploaded."""
    from rlswarm_core.hub.auth import TOKENS_PAGE, check_token, hub_endpoint
    from rlswarm_core.secrets.store import SecretStore

    url = hub_endpoint(endpoint)
    if token is None:
        token = SecretStore().get("hf_token").value
    if not token:
        raise HubPushError(
            "no Hugging Face token is set",
            "run 'rlswarm login hf' with a write token, or set HF_TOKEN",
        )
    register_secret(token)
    check = check_token(token, url)
    if not check.verified:
        offline = "offline" in (check.problem or "")
        raise HubPushError(
            f"cannot check the Hugging Face token at {url}: {check.problem}",
            "unset HF_HUB_OFFLINE to push" if offline else "check the network or HF_ENDPOINT and try again",
            transient=not offline,
        )
    if not check.can_write or not check.user:
        raise HubPushError(
            f"the token of {check.user} is read-only ({check.role}); pushing needs write access",
            f"create a write token at {TOKENS_PAGE} and run 'rlswarm login hf' again",
        )
    return HubAccess(endpoint=url, user=check.user, role=check.role, token=token)


def default_commit_message(round_: int, peer_id: str) -> str:
    return f"rl-swarm: round {round_}, agent {animal_name(peer_id)}"


def hyperparameters_of(
    checkpoint: Checkpoint, settings: Mapping[str, Any] | None
) -> tuple[dict[str, Any], str]:
    """The checkpoint's own hyperparameters when recorded, else the node's current settings."""
    recorded = checkpoint.record.extra.get("hyperparameters")
    if isinstance(recorded, dict) and recorded:
        return dict(recorded), "checkpoint record"
    if settings:
        picked = {k: settings[k] for k in HYPERPARAMETER_FIELDS if k in settings}
        return picked, "node settings at push time"
    return {}, "checkpoint record"


def hardware_description(profile: str) -> str:
    if not profile:
        return ""
    from rlswarm_core.errors import ConfigError
    from rlswarm_core.settings.profiles import get_profile

    try:
        return f"{profile} ({' '.join(get_profile(profile).description.split())})"
    except ConfigError:
        return profile


def prepare_upload(
    item: InstanceCheckpoints,
    checkpoint: Checkpoint,
    repo_id: str,
    *,
    optimizer: str = "none",
    settings: Mapping[str, Any] | None = None,
) -> UploadPlan:
    """The files for ``checkpoint`` plus its model card (consolidating shards, never touching the network)."""
    plan = build_upload_plan(checkpoint, optimizer)
    try:
        record = checkpoint.record
        hyper, source = hyperparameters_of(checkpoint, settings)
        history = tuple(r for r in item.store.history() if r.round <= record.round)
        info = CardInfo(
            repo_id=repo_id,
            animal_name=animal_name(record.peer_id or item.peer_id),
            record=record,
            history=history,
            hyperparameters=hyper,
            hyperparameters_source=source,
            hardware=hardware_description(record.profile),
            license=base_model_license(record.model, [checkpoint.path]),
            files=(*plan.names, CARD_FILE),
        )
        plan.add_text(CARD_FILE, render_model_card(info))
    except BaseException:
        plan.close()
        raise
    return plan


def target_repo_id(
    access_user: str | None,
    item: InstanceCheckpoints,
    checkpoint: Checkpoint,
    repo_id: str | None,
    org: str | None,
) -> str:
    return resolve_repo_id(
        user=access_user,
        model=checkpoint.record.model or "model",
        peer_id=item.peer_id,
        repo_id=repo_id,
        org=org,
    )


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _server_message(exc: BaseException) -> str:
    text = getattr(exc, "server_message", None) or str(exc)
    first = redact(str(text)).strip().splitlines()
    return whole_line(first[0]) if first else ""


def _is_network_error(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(
        names
        & {"TransportError", "NetworkError", "TimeoutException", "ConnectionError", "RemoteProtocolError"}
    )


def classify(exc: BaseException, repo_id: str, endpoint: str, action: str) -> HubPushError:
    """One readable line for anything the Hub client raised while doing ``action``."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(exc, HubPushError):
        return exc
    if isinstance(exc, OfflineModeIsEnabled):
        return HubPushError(
            f"cannot {action}: offline mode is on (HF_HUB_OFFLINE)", "unset HF_HUB_OFFLINE to push"
        )
    namespace = repo_id.split("/", 1)[0]
    if isinstance(exc, HfHubHTTPError):
        status = _status(exc)
        detail = _server_message(exc)
        if status == 401:
            return HubPushError(
                f"the Hub at {endpoint} rejected the token while trying to {action} (HTTP 401)",
                "the token is invalid or revoked; run 'rlswarm login hf' again",
            )
        if status == 403:
            return HubPushError(
                f"cannot {action}: {repo_id} is taken or the namespace {namespace!r} belongs to another "
                "account this token cannot write to (HTTP 403)",
                "pick another --repo-id, or --org an organisation you can write to",
            )
        if status in (400, 422):
            return HubPushError(
                f"the Hub refused to {action}: {detail or f'HTTP {status}'}", "check --repo-id and the files"
            )
        if status == 404:
            return HubPushError(
                f"cannot {action}: {repo_id} was not found on {endpoint} (HTTP 404)",
                "it may have been deleted meanwhile; push again to recreate it",
            )
        if status is None or status in (408, 409, 429) or status >= 500:
            return HubPushError(
                f"the Hub at {endpoint} answered HTTP {status} while trying to {action}",
                "the Hub is busy or down; try again later",
                transient=True,
            )
        return HubPushError(f"cannot {action}: HTTP {status}: {detail}", "check --repo-id and --endpoint")
    if _is_network_error(exc) or isinstance(exc, (OSError, TimeoutError)):
        return HubPushError(
            f"network failure while trying to {action} at {endpoint} ({type(exc).__name__})",
            "check the connection and try again",
            transient=True,
        )
    if isinstance(exc, ValueError):
        return HubPushError(f"cannot {action}: {_server_message(exc)}", "check the model card and files")
    raise exc


def _with_retries(
    call: Callable[[], T],
    *,
    action: str,
    repo_id: str,
    endpoint: str,
    retry: RetryPolicy,
    sleep: Callable[[float], None],
    progress: Progress | None,
    counter: list[int],
) -> T:
    attempt = 0
    while True:
        attempt += 1
        counter[0] += 1
        try:
            return call()
        except Exception as exc:
            error = classify(exc, repo_id, endpoint, action)
            if not error.transient:
                raise error from None
            if attempt >= retry.attempts:
                raise HubPushError(
                    f"{error.message} (gave up after {attempt} attempts)", error.hint, transient=True
                ) from None
            wait = retry.delay(attempt)
            if progress is not None:
                progress(
                    "retry", {"action": action, "attempt": attempt, "wait_s": wait, "error": error.message}
                )
            sleep(wait)


def push_plan(
    plan: UploadPlan,
    *,
    access: HubAccess,
    repo_id: str,
    private: bool = False,
    message: str | None = None,
    retry: RetryPolicy | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PushResult:
    """Create ``repo_id`` (an existing one is updated) and commit the plan's files in one commit."""
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    retry = retry or RetryPolicy()
    started = time.monotonic()
    record = plan.checkpoint.record
    api = HfApi(
        endpoint=access.endpoint, token=access.token, library_name="rlswarm", library_version=__version__
    )
    calls = [0]
    common: dict[str, Any] = {
        "repo_id": repo_id,
        "endpoint": access.endpoint,
        "retry": retry,
        "sleep": sleep,
        "progress": progress,
        "counter": calls,
    }

    def create() -> bool:
        try:
            api.create_repo(repo_id, repo_type="model", private=private, exist_ok=False)
        except HfHubHTTPError as exc:
            if _status(exc) == 409:
                return False  # it exists: this push updates it
            raise
        return True

    if progress is not None:
        progress("create", {"repo_id": repo_id})
    created = _with_retries(create, action=f"create the repository {repo_id}", **common)

    def commit() -> Any:
        # operations are built afresh for each attempt: the client marks them as it goes
        operations = [
            CommitOperationAdd(
                path_in_repo=f.path_in_repo,
                path_or_fileobj=f.content if f.content is not None else str(f.source),
            )
            for f in plan.files
        ]
        return api.create_commit(
            repo_id,
            operations,
            commit_message=message or default_commit_message(record.round, record.peer_id),
            repo_type="model",
        )

    if progress is not None:
        progress("upload", {"files": len(plan.files), "bytes": plan.total_bytes})
    before = calls[0]
    info = _with_retries(commit, action=f"upload to {repo_id}", **common)
    attempts = calls[0] - before
    result = PushResult(
        repo_id=repo_id,
        round=record.round,
        url=f"{access.endpoint}/{repo_id}",
        commit=str(getattr(info, "oid", "") or ""),
        created=created,
        files=tuple(f.to_dict() for f in plan.files),
        bytes=plan.total_bytes,
        attempts=attempts,
        seconds=time.monotonic() - started,
    )
    if progress is not None:
        progress("done", {"repo_id": repo_id, "commit": result.commit})
    return result


def node_settings_for(instance: str, profile: str) -> dict[str, Any] | None:
    """The instance's current node settings (for the model card), or None when they cannot be resolved."""
    from rlswarm_core.errors import RlswarmError
    from rlswarm_core.instances.registry import SETTINGS_FILE
    from rlswarm_core.settings.model import load_yaml_mapping
    from rlswarm_core.settings.resolve import resolve_node_settings
    from rlswarm_core.system.paths import app_paths

    try:
        values = load_yaml_mapping(app_paths().instances / instance / SETTINGS_FILE, "instance settings")
        flags = {"profile": profile} if profile else {}
        resolved = resolve_node_settings(flags, instance=values, detect_hardware=not profile)
    except RlswarmError:
        return None
    return resolved.settings.model_dump(mode="json")
