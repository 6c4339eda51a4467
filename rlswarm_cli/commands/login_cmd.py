"""`rlswarm login …` and `rlswarm logout`: secrets go in through a hidden prompt or stdin, never argv."""

from __future__ import annotations

import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rlswarm_cli.app import new_app, output
from rlswarm_cli.options import EndpointOpt, JsonOpt

if TYPE_CHECKING:
    from rlswarm_cli.output import Output
    from rlswarm_core.secrets.login import Outcome

app = new_app("login", "Store tokens and keys in the OS keyring.")

InsecureOpt = Annotated[
    bool,
    typer.Option(
        "--insecure-storage",
        help="With no keyring backend, keep secrets in a 0600 file in the config dir (remembered).",
    ),
]


def _read_secret(out: Output, label: str, from_stdin: bool, hint: str) -> str:
    """One secret: a hidden prompt on a terminal, else the next line of stdin."""
    from rlswarm_core.secrets.login import require_value

    piped = from_stdin or not sys.stdin.isatty()
    return require_value(sys.stdin.readline() if piped else out.prompt(label, secret=True), label, hint)


def _report(out: Output, outcome: Outcome) -> None:
    for note in outcome.notes:
        (out.warn if note.level == "warning" else out.info)(note.text)
    out.emit(outcome.data, outcome.summary)


@app.command("hf")
def login_hf(
    ctx: typer.Context,
    token_stdin: Annotated[
        bool,
        typer.Option(
            "--token-stdin", help="Read the token from stdin (automatic when stdin is not a terminal)."
        ),
    ] = False,
    allow_read_only: Annotated[
        bool, typer.Option("--allow-read-only", help="Store a token that cannot push (uploads will fail).")
    ] = False,
    endpoint: EndpointOpt = None,
    insecure_storage: InsecureOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Store a Hugging Face token after checking it can push to the Hub."""
    from rlswarm_core.secrets.login import store_hf_token
    from rlswarm_core.secrets.store import SecretStore

    out = output(ctx, json_out)
    store = SecretStore()
    store.check_writable("hf_token", insecure_storage)
    hint = "paste it at the prompt, or pipe it: rlswarm login hf < token.txt"
    token = _read_secret(out, "Hugging Face token", token_stdin, hint)
    outcome = store_hf_token(
        store, token, endpoint=endpoint, allow_read_only=allow_read_only, insecure_storage=insecure_storage
    )
    _report(out, outcome)


@app.command("wallet")
def login_wallet(
    ctx: typer.Context,
    key_stdin: Annotated[
        bool,
        typer.Option("--key-stdin", help="Read the key from stdin (automatic when stdin is not a terminal)."),
    ] = False,
    insecure_storage: InsecureOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Store the wallet private key used to sign coordinator transactions; shows only its address."""
    from rlswarm_core.secrets.login import store_wallet_key
    from rlswarm_core.secrets.store import SecretStore

    out = output(ctx, json_out)
    store = SecretStore()
    store.check_writable("wallet_private_key", insecure_storage)
    raw = _read_secret(out, "wallet private key", key_stdin, "paste it at the prompt, or pipe it on stdin")
    _report(out, store_wallet_key(store, raw, insecure_storage=insecure_storage))


@app.command("proxy")
def login_proxy(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option("--url", help="Base URL of the coordinator proxy (kept in config.yaml).")
    ] = None,
    insecure_storage: InsecureOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Store the proxy's base URL, org id and API key (org id and key read from prompts or stdin lines)."""
    from rlswarm_core.secrets.login import proxy_base_url, store_proxy
    from rlswarm_core.secrets.store import SecretStore

    out = output(ctx, json_out)
    store = SecretStore()
    base = proxy_base_url(url, store)
    store.check_writable("proxy_api_key", insecure_storage)
    hint = "give the org id and the API key on two lines of stdin, or at the prompts"
    org_id = _read_secret(out, "proxy org id", False, hint)
    api_key = _read_secret(out, "proxy API key", False, hint)
    _report(out, store_proxy(store, base, org_id, api_key, insecure_storage=insecure_storage))


@app.command("status")
def login_status(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Show which secrets are stored (masked) and where."""
    from rlswarm_core.secrets.login import status, stored_where
    from rlswarm_core.secrets.store import SecretStore

    out = output(ctx, json_out)
    data = status(SecretStore())

    def state(row: dict[str, Any]) -> str:
        if row.get("error"):
            return f"error: {row['error']}"
        if row["set"]:
            return f"{row['masked']}  from {stored_where(row)}"
        return "not set"

    def human() -> str:
        lines = [f"keyring backend: {data['backend'] or data['backend_problem']}"]
        lines += [f"{row['label']:<20} {state(row)}" for row in data["secrets"]]
        lines += [f"{key:<20} {data[key]}" for key in ("hf_user", "wallet_address", "proxy_url") if data[key]]
        return "\n".join(lines)

    out.emit(data, human)


class LogoutTarget(str, Enum):
    hf = "hf"
    wallet = "wallet"
    proxy = "proxy"
    all = "all"


def logout(
    ctx: typer.Context,
    what: Annotated[LogoutTarget, typer.Argument(help="Which credentials to remove.")] = LogoutTarget.all,
    json_out: JsonOpt = False,
) -> None:
    """Remove stored secrets (hf, wallet, proxy or all) from the keyring and the insecure file."""
    from rlswarm_core.secrets.login import logout as remove
    from rlswarm_core.secrets.store import SecretStore

    out = output(ctx, json_out)
    _report(out, remove(SecretStore(), what.value))
