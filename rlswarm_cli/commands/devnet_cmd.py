"""`rlswarm devnet up|proxy`: a local chain with the coordinator contract, and a proxy API in front of it.

Everything chain-related is imported inside the commands so that `rlswarm --help` stays fast.
"""

from __future__ import annotations

import json
import os
import time
from typing import Annotated

import typer

from rlswarm_cli.app import interrupt_on_sigterm, new_app, output
from rlswarm_cli.options import ContractOpt, JsonOpt, RpcUrlOpt

app = new_app("devnet", "Run a local chain with the SwarmCoordinator contract, for development and tests.")

PortOpt = Annotated[
    int, typer.Option("--port", help="Port on 127.0.0.1 (0 picks a free one).", min=0, max=65535)
]


@app.command("up")
def up(
    ctx: typer.Context,
    port: PortOpt = 8545,
    chain_id: Annotated[int, typer.Option("--chain-id", help="Chain id of the local chain.", min=1)] = 31337,
    json_flag: JsonOpt = False,
) -> None:
    """Start anvil on loopback, deploy the coordinator, and keep running until Ctrl-C."""
    from rlswarm_core.chain.devnet import Devnet, DevnetError, check_deployment
    from rlswarm_core.chain.networks import devnet_state_path

    out = output(ctx, json_flag)
    interrupt_on_sigterm()
    devnet = Devnet(port=port, chain_id=chain_id, report=out.info)
    info = devnet.start()
    state_file = devnet_state_path()
    try:
        check_deployment(info)
        data = {**info.as_dict(), "anvil_pid": devnet.anvil.pid}
        state_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        state_file.write_text(json.dumps(data, indent=2), encoding="utf-8")
        out.emit(
            data,
            human=(
                f"RPC URL:  {info.rpc_url}\n"
                f"contract: {info.contract}\n"
                f"chain id: {info.chain_id}\n"
                f"stage manager: {info.stage_manager}\n"
                "Use --network devnet; press Ctrl-C to stop."
            ),
        )
        while devnet.anvil.running():
            time.sleep(0.5)
        raise DevnetError("anvil exited unexpectedly", "run `rlswarm devnet up` again")
    except KeyboardInterrupt:
        out.info("stopping the devnet")
    finally:
        devnet.stop()
        _remove_if_ours(state_file, info.rpc_url)


def _remove_if_ours(state_file: os.PathLike[str], rpc_url: str) -> None:
    from pathlib import Path

    path = Path(state_file)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("rpc_url") == rpc_url:
            path.unlink()
    except (OSError, ValueError):
        pass


@app.command("proxy")
def proxy(
    ctx: typer.Context,
    port: PortOpt = 3000,
    org_id: Annotated[str, typer.Option("--org-id", help="The org id clients must send.")] = "devnet",
    rpc_url: RpcUrlOpt = None,
    contract: ContractOpt = None,
    json_flag: JsonOpt = False,
) -> None:
    """Serve the proxy API (register-peer, submit-reward, submit-winner) signing with a devnet key."""
    from rlswarm_core.chain.devnet import PROXY_SIGNER_INDEX, dev_key
    from rlswarm_core.chain.networks import resolve_network
    from rlswarm_core.chain.proxy_server import ProxyServer
    from rlswarm_core.chain.reader import CoordinatorReader
    from rlswarm_core.chain.wallet import WalletClient

    out = output(ctx, json_flag)
    network = resolve_network("devnet", rpc_url=rpc_url, contract=contract).require_chain()
    assert network.rpc_url and network.contract
    reader = CoordinatorReader(network.rpc_url, network.contract, network.chain_id)
    reader.ensure_chain()
    wallet = WalletClient(reader, dev_key(PROXY_SIGNER_INDEX))
    server = ProxyServer(wallet, org_id, port=port)
    interrupt_on_sigterm()
    out.emit(
        {
            "url": server.base_url,
            "account": wallet.address,
            "rpc_url": network.rpc_url,
            "contract": reader.address,
        },
        human=f"proxy API on {server.base_url} (account {wallet.address}); press Ctrl-C to stop.",
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        out.info("stopping the proxy")
    finally:
        server.stop_listening()
