"""Options that several commands take, declared once so their names, short forms and help agree."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of text.")]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", "-p", help="Hardware profile (rlswarm profiles list).")
]
InstanceOpt = Annotated[str, typer.Option("--instance", "-i", help="Instance name (state and logs).")]
OptionalInstanceOpt = Annotated[
    str | None, typer.Option("--instance", "-i", help="Only this local instance.")
]
RpcUrlOpt = Annotated[
    str | None, typer.Option("--rpc-url", help="Chain RPC URL (default: the network's; setting rpc_url).")
]
ContractOpt = Annotated[
    str | None,
    typer.Option(
        "--contract", help="Coordinator contract address (default: the network's; setting contract)."
    ),
]
EndpointOpt = Annotated[
    str | None, typer.Option("--endpoint", help="Hub URL (default: HF_ENDPOINT, else huggingface.co).")
]
