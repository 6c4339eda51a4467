"""Node identities: libp2p RSA keys in the file format hivemind's ``identity_path`` reads.

The file is a serialized libp2p ``PrivateKey`` protobuf (type RSA, data = DER private key), which is
what the reference node's ``swarm.pem`` holds. The peer id is the base58 sha2-256 multihash of the
``PublicKey`` protobuf, computed here without importing hivemind so that commands that only show an
identity stay fast.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from rlswarm_core.errors import IdentityError
from rlswarm_core.identity.names import animal_name
from rlswarm_core.system.files import PRIVATE_FILE_MODE, write_private

KEY_TYPE_RSA = 0
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_SHA2_256 = 0x12
MIN_RSA_BITS = 2048
DEFAULT_RSA_BITS = 2048


@dataclass(frozen=True)
class Identity:
    path: Path
    peer_id: str

    @property
    def animal_name(self) -> str:
        return animal_name(self.peer_id)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while pos < len(buf):
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            break
    raise ValueError("truncated or oversized varint")


def encode_key_message(key_type: int, data: bytes) -> bytes:
    """libp2p ``PublicKey``/``PrivateKey`` message: field 1 (enum), field 2 (bytes)."""
    return b"\x08" + _varint(key_type) + b"\x12" + _varint(len(data)) + data


def decode_key_message(blob: bytes) -> tuple[int, bytes]:
    key_type: int | None = None
    data: bytes | None = None
    pos = 0
    while pos < len(blob):
        tag, pos = _read_varint(blob, pos)
        field, wire = tag >> 3, tag & 7
        if field == 1 and wire == 0:
            key_type, pos = _read_varint(blob, pos)
        elif field == 2 and wire == 2:
            length, pos = _read_varint(blob, pos)
            if pos + length > len(blob):
                raise ValueError("truncated key data")
            data, pos = blob[pos : pos + length], pos + length
        else:
            raise ValueError(f"unexpected protobuf field {field} (wire type {wire})")
    if key_type is None or data is None:
        raise ValueError("missing key type or key data")
    return key_type, data


def base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    while number:
        number, rem = divmod(number, 58)
        chars.append(_B58_ALPHABET[rem])
    leading = len(data) - len(data.lstrip(b"\x00"))
    return "1" * leading + "".join(reversed(chars))


def _load_rsa_private_key(der: bytes):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the key is not an RSA key")
    return key


def peer_id_from_private_key(key) -> str:
    from cryptography.hazmat.primitives import serialization

    public_der = key.public_key().public_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    digest = hashlib.sha256(encode_key_message(KEY_TYPE_RSA, public_der)).digest()
    return base58(bytes([_SHA2_256, len(digest)]) + digest)


def _private_der(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.TraditionalOpenSSL,
        encryption_algorithm=serialization.NoEncryption(),
    )


def parse_identity_bytes(blob: bytes):
    """Return the RSA private key held by an identity file's bytes.

    Accepts the libp2p protobuf form (hivemind, the reference ``swarm.pem``) and, for operators who
    kept a plain PEM/DER RSA key, those too. Raises ``ValueError`` with the reason otherwise.
    """
    if not blob:
        raise ValueError("the file is empty")
    if blob.lstrip().startswith(b"-----BEGIN"):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        try:
            key = serialization.load_pem_private_key(blob, password=None)
        except TypeError as exc:
            raise ValueError(
                "the PEM key is encrypted; decrypt it first (openssl rsa -in KEY -out PLAIN)"
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the PEM key is not an RSA key")
        return key
    try:
        key_type, data = decode_key_message(blob)
    except ValueError:
        key_type, data = None, blob
    if key_type is not None and key_type != KEY_TYPE_RSA:
        raise ValueError(f"libp2p key type {key_type} is not RSA; hivemind identities are RSA keys")
    try:
        return _load_rsa_private_key(data)
    except Exception as exc:
        raise ValueError("the file is not a libp2p RSA private key") from exc


def create_identity(path: Path, bits: int = DEFAULT_RSA_BITS, overwrite: bool = False) -> Identity:
    from cryptography.hazmat.primitives.asymmetric import rsa

    path = Path(path)
    if path.exists() and not overwrite:
        raise IdentityError(
            f"identity file {path} already exists",
            "losing it loses the node's history; use it as it is, or pass --force to replace it",
        )
    if bits < MIN_RSA_BITS:
        raise IdentityError(f"an RSA key of {bits} bits is too weak", f"use at least {MIN_RSA_BITS} bits")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    write_private(path, encode_key_message(KEY_TYPE_RSA, _private_der(key)))
    return Identity(path=path, peer_id=peer_id_from_private_key(key))


def load_identity(path: Path) -> Identity:
    path = Path(path)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise IdentityError(
            f"identity file {path} does not exist", "create one with 'rlswarm identity create'"
        ) from None
    except OSError as exc:
        raise IdentityError(f"cannot read identity file {path}: {exc.strerror}") from None
    try:
        key = parse_identity_bytes(blob)
    except ValueError as exc:
        raise IdentityError(f"{path} is not a valid identity: {exc}") from None
    return Identity(path=path, peer_id=peer_id_from_private_key(key))


def import_identity(source: Path, dest: Path, overwrite: bool = False) -> Identity:
    """Copy an existing key (e.g. the reference ``swarm.pem``) into ``dest``, keeping its peer id.

    The stored form is always the libp2p protobuf hivemind reads, whatever the source format.
    """
    source, dest = Path(source), Path(dest)
    try:
        blob = source.read_bytes()
    except OSError as exc:
        raise IdentityError(f"cannot read {source}: {exc.strerror}") from None
    try:
        key = parse_identity_bytes(blob)
    except ValueError as exc:
        raise IdentityError(f"refusing to import {source}: {exc}") from None
    peer_id = peer_id_from_private_key(key)
    twin = None if overwrite else _same_peer_id(dest, peer_id, source)
    if twin is not None:
        raise IdentityError(
            f"{source} is already the identity {twin.stem!r} (peer id {peer_id}); two nodes with one "
            "peer id collide on the DHT",
            f"run the node with --identity {twin.stem}, or pass --force to keep a second copy anyway",
        )
    if dest.exists() and not overwrite:
        existing = load_identity(dest)
        if existing.peer_id == peer_id:
            return existing
        raise IdentityError(
            f"identity file {dest} already holds another peer id ({existing.peer_id})",
            "pass --force to replace it, or import under another name",
        )
    write_private(dest, encode_key_message(KEY_TYPE_RSA, _private_der(key)))
    return Identity(path=dest, peer_id=peer_id_from_private_key(key))


def _same_peer_id(dest: Path, peer_id: str, source: Path) -> Path | None:
    """Another identity file next to ``dest`` (not the file being imported) with the key of ``peer_id``."""
    folder, source = dest.parent, source.resolve()
    if not folder.is_dir():
        return None
    for other in sorted(p.resolve() for p in folder.iterdir()):
        if other in (dest.resolve(), source) or not other.is_file() or other.name.startswith("."):
            continue
        try:
            if load_identity(other).peer_id == peer_id:
                return other
        except IdentityError:
            continue  # doctor reports unreadable files; they hold no usable peer id
    return None


def file_mode(path: Path) -> int:
    return Path(path).stat().st_mode & 0o777


def fix_permissions(path: Path) -> None:
    os.chmod(path, PRIVATE_FILE_MODE)
