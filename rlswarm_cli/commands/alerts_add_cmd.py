"""``rlswarm alerts add``: a webhook, Telegram or ntfy channel; its secret goes to the keyring, never argv."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from rlswarm_cli.app import new_app, output
from rlswarm_cli.options import JsonOpt

app = new_app("add", "Add a channel: webhook, telegram or ntfy (its secret goes to the keyring).")

NameArg = Annotated[str, typer.Argument(help="A name for the channel, e.g. 'phone'.")]
StdinOpt = Annotated[
    bool, typer.Option("--secret-stdin", help="Read the secret from stdin (automatic when not a terminal).")
]


def _read_secret(label: str, from_stdin: bool) -> str:
    """A hidden prompt on a terminal, else the next line of stdin: secrets never travel in argv."""
    if from_stdin or not sys.stdin.isatty():
        value = sys.stdin.readline().strip()
    else:
        value = str(typer.prompt(label, hide_input=True)).strip()
    if not value:
        from rlswarm_core.errors import ConfigError

        raise ConfigError(f"no {label} given", "type it at the prompt, or pipe it on stdin")
    return value


def _add(ctx: typer.Context, channel: Any, secret: str | None, json_flag: bool) -> None:
    from rlswarm_core.alerts.config import load_config, save_config
    from rlswarm_core.secrets.store import SecretStore, alert_channel_key, spec_for

    out = output(ctx, json_flag)
    config = load_config()
    if any(c.name == channel.name for c in config.channels):
        raise typer.BadParameter(
            f"a channel named {channel.name!r} exists; remove it first", param_hint="NAME"
        )
    where = None
    env_var = spec_for(alert_channel_key(channel.name)).env_vars[0]
    if secret is not None and os.environ.get(env_var, "").strip():
        where = f"the environment ({env_var})"  # the instances read it there; the keyring is not needed
    elif secret is not None:
        from rlswarm_core.secrets.store import SecretStoreError

        try:
            where = SecretStore().set(alert_channel_key(channel.name), secret).where()
        except SecretStoreError as exc:
            # login's --insecure-storage does not exist here: the way out is the channel's variable
            raise SecretStoreError(
                exc.message,
                "start gnome-keyring or another Secret Service, or set "
                f"{env_var} here and where the instances run, and add the channel again",
            ) from None
    config.channels.append(channel)
    path = save_config(config)
    out.emit(
        {"added": channel.model_dump(exclude_none=True), "secret": where, "file": str(path)},
        f"added {channel.kind} channel {channel.name} ({channel.target})"
        + (f"; secret in {where}" if where else "; no secret")
        + "\n"
        f"send a test message with: rlswarm alerts test {channel.name}",
    )


@app.command("webhook")
def add_webhook(
    ctx: typer.Context, name: NameArg, secret_stdin: StdinOpt = False, json_flag: JsonOpt = False
) -> None:
    """POST a JSON object per alert to a URL (asked for, or read from stdin; it is kept in the keyring)."""
    from rlswarm_core.alerts.config import Channel, check_channel_name, check_http_url, shown_url

    check_channel_name(name)
    url = check_http_url(_read_secret("webhook URL", secret_stdin), "the webhook URL")
    _add(ctx, Channel(name=name, kind="webhook", target=shown_url(url)), url, json_flag)


@app.command("telegram")
def add_telegram(
    ctx: typer.Context,
    name: NameArg,
    chat_id: Annotated[
        str, typer.Option("--chat-id", help="The chat to post to (user, group or channel id).")
    ],
    api_base: Annotated[
        str | None, typer.Option("--api-base", help="Bot API base URL (default https://api.telegram.org).")
    ] = None,
    secret_stdin: StdinOpt = False,
    json_flag: JsonOpt = False,
) -> None:
    """Message a Telegram chat through a bot (its token is asked for, or read from stdin)."""
    from rlswarm_core.alerts.config import Channel, check_channel_name, check_http_url

    check_channel_name(name)
    base = check_http_url(api_base, "--api-base") if api_base else None
    token = _read_secret("Telegram bot token", secret_stdin)
    channel = Channel(name=name, kind="telegram", target=f"chat {chat_id}", chat_id=chat_id, api_base=base)
    _add(ctx, channel, token, json_flag)


@app.command("ntfy")
def add_ntfy(
    ctx: typer.Context,
    name: NameArg,
    topic: Annotated[str, typer.Option("--topic", help="The ntfy topic to publish to.")],
    server: Annotated[
        str | None, typer.Option("--server", help="ntfy server (default https://ntfy.sh).")
    ] = None,
    token: Annotated[
        bool, typer.Option("--token", help="Ask for an access token (protected topics).")
    ] = False,
    secret_stdin: StdinOpt = False,
    json_flag: JsonOpt = False,
) -> None:
    """Publish to an ntfy topic (phone push notifications)."""
    from rlswarm_core.alerts.config import NTFY_SERVER, Channel, check_channel_name, check_http_url

    check_channel_name(name)
    base = check_http_url(server, "--server") if server else None
    if not topic.strip() or "/" in topic:
        raise typer.BadParameter("give a topic name without '/'", param_hint="--topic")
    secret = _read_secret("ntfy access token", secret_stdin) if token else None
    target = f"{base or NTFY_SERVER}/{topic}"
    _add(
        ctx,
        Channel(name=name, kind="ntfy", target=target, server=base, topic=topic, has_secret=token),
        secret,
        json_flag,
    )
