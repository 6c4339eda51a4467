"""The contract matches the reference ABI, and every revert decodes to one readable line."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from rlswarm_core.chain.abi import abi_errors, contract_artifact, coordinator_abi
from rlswarm_core.chain.errors import (
    _MESSAGES,
    revert_from_data,
    revert_from_name_in_text,
)

REPO = Path(__file__).resolve().parents[2]
FIELDS = ("type", "name", "inputs", "outputs", "stateMutability", "anonymous")


def _normalised(abi: list[dict[str, object]]) -> set[str]:
    return {
        json.dumps({k: entry.get(k) for k in FIELDS}, sort_keys=True)
        for entry in abi
        if entry["type"] != "constructor"
    }


def test_compiled_contract_implements_the_reference_abi() -> None:
    reference = json.loads((REPO / "rlswarm_core" / "chain" / "SwarmCoordinator.abi.json").read_text())
    assert reference == coordinator_abi()
    assert _normalised(contract_artifact()["SwarmCoordinator"]["abi"]) == _normalised(reference)


def test_committed_artifact_is_built_from_the_committed_source() -> None:
    if not (REPO / "node_modules" / "solc").is_dir():
        # CI installs the npm packages, so there a missing compiler is a failure, not a skip.
        if os.environ.get("CI"):
            pytest.fail("node_modules/solc is missing: scripts/test.sh should have run npm install")
        pytest.skip("npm dependencies not installed (run `npm install`)")
    result = subprocess.run(
        ["node", str(REPO / "contracts" / "build.js"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_every_abi_error_has_a_readable_message() -> None:
    assert set(abi_errors()) <= set(_MESSAGES)


@pytest.mark.parametrize("name", sorted(abi_errors()))
def test_each_custom_error_selector_decodes(name: str) -> None:
    from eth_abi import encode
    from eth_utils import keccak

    types = abi_errors()[name]
    selector = keccak(text=f"{name}({','.join(types)})")[:4]
    args = (
        encode(types, [b"\x00" * 32 if t == "bytes32" else "0x" + "11" * 20 for t in types]) if types else b""
    )
    decoded = revert_from_data("0x" + (selector + args).hex())
    assert decoded is not None and decoded.name == name
    line = str(decoded)
    assert "\n" not in line and name in line


def test_string_and_panic_reverts_and_unknown_data() -> None:
    from eth_abi import encode

    error = revert_from_data("0x08c379a0" + encode(["string"], ["not allowed"]).hex())
    assert error is not None and error.name == "Error" and "not allowed" in str(error)
    panic = revert_from_data("0x4e487b71" + encode(["uint256"], [0x11]).hex())
    assert panic is not None and "0x11" in str(panic)
    assert revert_from_data("0xdeadbeef") is None
    assert revert_from_data(None) is None


def test_error_names_are_found_in_proxy_bodies() -> None:
    found = revert_from_name_in_text('execution reverted: custom error "WinnerAlreadyVoted()"')
    assert found is not None and found.name == "WinnerAlreadyVoted"
    assert revert_from_name_in_text("Internal Server Error") is None
