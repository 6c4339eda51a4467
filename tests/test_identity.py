from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from rlswarm_core.errors import IdentityError
from rlswarm_core.identity.keys import create_identity, file_mode, import_identity, load_identity
from rlswarm_core.identity.names import animal_name, animal_slug
from tests.helpers import Cli


@pytest.mark.parametrize(
    ("peer_id", "expected"),
    [
        ("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", "thorny fishy meerkat"),
        ("Qmb8wVVVMTRmG4U1tCdaCCqietuWwpGRSbL53PA5azBViP", "toothy carnivorous bison"),
    ],
)
def test_animal_names_match_reference(peer_id: str, expected: str) -> None:
    assert animal_name(peer_id) == expected
    assert animal_slug(peer_id) == expected.replace(" ", "_")


def test_create_is_0600_and_peer_id_matches_hivemind(tmp_path: Path) -> None:
    from hivemind.p2p import PeerID

    ident = create_identity(tmp_path / "node.pem")
    assert file_mode(ident.path) == 0o600
    assert ident.peer_id.startswith("Qm")
    assert PeerID.from_identity(ident.path.read_bytes()).to_base58() == ident.peer_id
    assert load_identity(ident.path).peer_id == ident.peer_id


def test_create_refuses_to_overwrite(tmp_path: Path) -> None:
    first = create_identity(tmp_path / "node.pem")
    with pytest.raises(IdentityError, match="already exists"):
        create_identity(first.path)
    second = create_identity(first.path, overwrite=True)
    assert second.peer_id != first.peer_id


def test_import_reference_swarm_pem_keeps_peer_id(tmp_path: Path) -> None:
    """A key written by hivemind itself (what the reference node's swarm.pem is) imports unchanged."""
    from hivemind.p2p import P2P, PeerID

    swarm_pem = tmp_path / "swarm.pem"
    P2P.generate_identity(str(swarm_pem))
    expected = PeerID.from_identity(swarm_pem.read_bytes()).to_base58()
    imported = import_identity(swarm_pem, tmp_path / "ids" / "default.pem")
    assert imported.peer_id == expected
    assert file_mode(imported.path) == 0o600
    assert imported.path.read_bytes() == swarm_pem.read_bytes()
    # Importing the same key again is harmless; another key into the same name is refused.
    assert import_identity(swarm_pem, imported.path).peer_id == expected
    other = create_identity(tmp_path / "other.pem")
    with pytest.raises(IdentityError, match="already holds another peer id"):
        import_identity(other.path, imported.path)


def test_import_plain_pem_rsa_key(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from hivemind.p2p import PeerID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    imported = import_identity(pem, tmp_path / "out.pem")
    assert PeerID.from_identity(imported.path.read_bytes()).to_base58() == imported.peer_id


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a key at all",
        b"\x08\x01\x12\x04abcd",
        b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n",
    ],
    ids=["empty", "text", "ed25519-type", "bad-pem"],
)
def test_import_refuses_invalid_files(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_bytes(content)
    with pytest.raises(IdentityError, match="refusing to import"):
        import_identity(bad, tmp_path / "out.pem")
    assert not (tmp_path / "out.pem").exists()


def test_cli_identity_flow(rlswarm_home: Path, tmp_path: Path, cli: Cli) -> None:
    created = cli("identity", "create", "--json")
    assert created.exit_code == 0, created.stderr
    data = json.loads(created.stdout)
    assert data["animal_name"] == animal_name(data["peer_id"])
    path = Path(data["path"])
    assert path.is_relative_to(rlswarm_home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    shown = cli("identity", "show")
    assert data["peer_id"] in shown.stdout and data["animal_name"] in shown.stdout

    again = cli("identity", "create")
    assert again.exit_code == 1
    assert again.stderr.count("\n") == 1 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr

    bad = tmp_path / "bad.pem"
    bad.write_text("hello")
    refused = cli("identity", "import", str(bad), "--name", "second")
    assert refused.exit_code == 1 and "refusing to import" in refused.stderr

    listed = json.loads(cli("identity", "list", "--json").stdout)
    assert [i["name"] for i in listed["identities"]] == ["default"]

    named = cli("identity", "name", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")
    assert named.stdout.strip() == "thorny fishy meerkat"


def test_import_of_a_key_already_present_under_another_name_is_refused(
    rlswarm_home: Path, tmp_path: Path, cli: Cli
) -> None:
    created = json.loads(cli("identity", "create", "--name", "first", "--json").stdout)
    source = tmp_path / "key.pem"
    source.write_bytes(Path(created["path"]).read_bytes())

    refused = cli("identity", "import", str(source), "--name", "second")
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert "already the identity 'first'" in refused.stderr and "collide" in refused.stderr
    assert "--force" in refused.stderr and "--identity first" in refused.stderr
    names = [i["name"] for i in json.loads(cli("identity", "list", "--json").stdout)["identities"]]
    assert names == ["first"]

    forced = cli("identity", "import", str(source), "--name", "second", "--force", "--json")
    assert forced.exit_code == 0 and json.loads(forced.stdout)["peer_id"] == created["peer_id"]
