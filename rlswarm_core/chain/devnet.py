"""A local development chain: anvil on loopback with the SwarmCoordinator deployed behind its proxy.

The anvil binary comes from the npm package ``@foundry-rs/anvil``: the source checkout's (``npm ci``),
``RLSWARM_ANVIL``, an ``anvil`` on PATH, or one npm installs into the data folder on first use (see
:mod:`rlswarm_core.chain.anvil_binary`).
"""

from __future__ import annotations

import collections
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rlswarm_core.chain.abi import contract_artifact
from rlswarm_core.chain.anvil_binary import Report, find_anvil
from rlswarm_core.chain.errors import ChainError
from rlswarm_core.chain.networks import DEVNET_CHAIN_ID
from rlswarm_core.errors import RlswarmError
from rlswarm_core.system.children import isolated_preexec
from rlswarm_core.system.environment import child_environment

# anvil's built-in, publicly known test mnemonic: its accounts hold nothing outside a local devnet.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
OWNER_INDEX = 0
STAGE_MANAGER_INDEX = 1
PROXY_SIGNER_INDEX = 2
START_TIMEOUT_S = 20.0


class DevnetError(RlswarmError):
    """anvil is missing, failed to start, or the deployment failed."""


def dev_key(index: int) -> str:
    """The private key of anvil's dev account ``index`` (public test keys, never used on a real network)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    account = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return "0x" + account.key.hex().removeprefix("0x")


class AnvilProcess:
    """One anvil process on 127.0.0.1. ``state_path`` keeps the chain across a stop and a start."""

    def __init__(
        self,
        *,
        port: int = 0,
        chain_id: int = DEVNET_CHAIN_ID,
        state_path: Path | None = None,
        host: str = "127.0.0.1",
        report: Report | None = None,
    ) -> None:
        self.requested_port = port
        self.report = report  # progress lines (a first-use install of anvil)
        self.chain_id = chain_id
        self.state_path = state_path
        self.host = host
        self.port: int | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._tail: collections.deque[str] = collections.deque(maxlen=40)

    @property
    def rpc_url(self) -> str:
        if self.port is None:
            raise DevnetError("anvil is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> AnvilProcess:
        if self.running():
            return self
        # Restarting reuses the port it had, so clients keep their RPC URL.
        port = self.port if self.port is not None else self.requested_port
        anvil = find_anvil(report=self.report)
        args = [str(anvil), "--host", self.host, "--port", str(port), "--chain-id", str(self.chain_id)]
        if self.state_path is not None:
            args += ["--state", str(self.state_path)]
        self._tail.clear()
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=child_environment(),  # anvil needs none of the operator's secrets
            # its own session: a Ctrl-C in the terminal does not reach it; this process stops it, and
            # it gets SIGTERM (and writes its state) should this process die first
            start_new_session=True,
            preexec_fn=isolated_preexec(signal.SIGTERM),
        )
        listening = threading.Event()
        threading.Thread(target=self._pump, args=(self._proc, listening), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not listening.wait(0.05):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                detail = " | ".join(list(self._tail)[-3:]) or "no output"
                hint = "another process uses the port: choose another --port" if "in use" in detail else None
                raise DevnetError(f"anvil failed to start on {self.host}:{port} ({detail})", hint)
        return self

    def _pump(self, proc: subprocess.Popen[str], listening: threading.Event) -> None:
        # anvil logs every request; reading keeps its pipe from filling, and the tail explains failures.
        assert proc.stdout is not None
        for line in proc.stdout:
            self._tail.append(line.rstrip())
            if not listening.is_set() and line.startswith("Listening on "):
                self.port = int(line.strip().rsplit(":", 1)[1])
                listening.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop anvil; SIGTERM first so that it writes its state file."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> AnvilProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class DevnetInfo:
    rpc_url: str
    chain_id: int
    contract: str
    implementation: str
    owner: str
    stage_manager: str
    proxy_signer: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _deploy(w3: Any, account: Any, chain_id: int, name: str, *args: Any) -> str:
    compiled = contract_artifact()[name]
    factory = w3.eth.contract(abi=compiled["abi"], bytecode=compiled["bytecode"])
    nonce = w3.eth.get_transaction_count(account.address, "pending")
    tx = factory.constructor(*args).build_transaction(
        {"from": account.address, "nonce": nonce, "chainId": chain_id}
    )
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise DevnetError(f"deploying {name} failed (tx {tx_hash.hex()})")
    return str(receipt["contractAddress"])


def deploy_coordinator(rpc_url: str, chain_id: int = DEVNET_CHAIN_ID) -> DevnetInfo:
    """Deploy the implementation and an initialised proxy; grant the stage manager role to dev account 1."""
    from rlswarm_core.chain.reader import CoordinatorReader, make_web3
    from rlswarm_core.chain.wallet import WalletClient, load_account

    owner_key = dev_key(OWNER_INDEX)
    owner = load_account(owner_key)
    w3 = make_web3(rpc_url)
    try:
        if int(w3.eth.chain_id) != chain_id:
            raise DevnetError(f"the chain at {rpc_url} is not chain {chain_id}")
        implementation = _deploy(w3, owner, chain_id, "SwarmCoordinator")
        impl_abi = contract_artifact()["SwarmCoordinator"]["abi"]
        init_data = w3.eth.contract(abi=impl_abi).encode_abi("initialize", [owner.address])
        proxy = _deploy(w3, owner, chain_id, "SwarmCoordinatorProxy", implementation, init_data)
    except RlswarmError:
        raise
    except Exception as exc:
        raise DevnetError(
            f"deploying the coordinator to {rpc_url} failed ({type(exc).__name__}: {exc})"
        ) from None
    stage_manager = load_account(dev_key(STAGE_MANAGER_INDEX)).address
    wallet = WalletClient(CoordinatorReader(rpc_url, proxy, chain_id), owner_key)
    wallet.grant_role("STAGE_MANAGER_ROLE", stage_manager)
    return DevnetInfo(
        rpc_url=rpc_url,
        chain_id=chain_id,
        contract=proxy,
        implementation=implementation,
        owner=owner.address,
        stage_manager=stage_manager,
        proxy_signer=load_account(dev_key(PROXY_SIGNER_INDEX)).address,
    )


class Devnet:
    """anvil plus a deployed coordinator; a context manager that stops anvil on exit."""

    def __init__(
        self,
        *,
        port: int = 0,
        chain_id: int = DEVNET_CHAIN_ID,
        state_path: Path | None = None,
        report: Report | None = None,
    ) -> None:
        self.anvil = AnvilProcess(port=port, chain_id=chain_id, state_path=state_path, report=report)
        self.info: DevnetInfo | None = None

    def start(self) -> DevnetInfo:
        self.anvil.start()
        try:
            self.info = deploy_coordinator(self.anvil.rpc_url, self.anvil.chain_id)
        except BaseException:
            self.anvil.stop()
            raise
        return self.info

    def stop(self) -> None:
        self.anvil.stop()

    def __enter__(self) -> DevnetInfo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_deployment(info: DevnetInfo) -> None:
    """Fail loudly if the deployed contract does not answer as expected (used by `devnet up`)."""
    from rlswarm_core.chain.reader import CoordinatorReader

    reader = CoordinatorReader(info.rpc_url, info.contract, info.chain_id)
    if reader.stage_count() < 1 or not reader.has_role("STAGE_MANAGER_ROLE", info.stage_manager):
        raise ChainError(f"the coordinator at {info.contract} did not initialise correctly")
