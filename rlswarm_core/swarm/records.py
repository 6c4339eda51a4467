"""Typed values for every swarm record, and the hivemind record validators that enforce them.

Every value is a JSON document of one of the models below, stored as msgpack ``bytes`` under a subkey
``<tag>[owner:<ssh-rsa public key>]``. hivemind's ``RSASignatureValidator`` then requires every write to
such a subkey to be signed by that key. On its own that only proves *some* key signed the record, so
``SwarmRecordValidator`` also checks that

* the public key hashes to the ``peer_id`` the value names (a libp2p peer id *is* the hash of its public
  key, so a node cannot sign for a peer id it does not hold the key of),
* the subkey tag matches the value (the peer id; for outputs the md5 of the question, or ``outputs:<n>``
  for part n of a bundle holding many questions' outputs under one signature), and
* the DHT key the record is stored under is exactly the key the value's kind, round, stage and peer name
  (hivemind hands validators only the hash of the key, so the value must name it to be checked).

``SchemaValidator`` (hivemind's pydantic schemas) guards the one fixed key, ``rl_swarm_rs``, and
``SizeLimitValidator`` rejects oversized values before any signature check is spent on them. All of
them run inside one validator with one verdict cache (see :func:`validators`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import struct
from collections import OrderedDict
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from rlswarm_core.identity.keys import KEY_TYPE_RSA, base58, encode_key_message
from rlswarm_core.swarm import keys

DEFAULT_EXPIRATION_S = 4 * 3600.0
DEFAULT_MAX_VALUE_BYTES = 64 * 1024
MAX_SUBKEY_BYTES = 1024
MAX_BUNDLE_PARTS = 256
# room left in a value for hivemind's msgpack framing and the owner's signature (about 350 bytes)
SIGNATURE_ROOM_BYTES = 1024

PeerId = Annotated[str, Field(pattern=r"^[1-9A-HJ-NP-Za-km-z]{30,100}$")]
Md5Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Count = Annotated[int, Field(ge=0, le=10**12)]
Reward = Annotated[float, Field(allow_inf_nan=False, ge=-1e9, le=1e9)]

OWNER_RE = re.compile(rb"^(.*?)\[owner:(.+?)\]$", re.DOTALL)


class _Record(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    peer_id: PeerId
    round: Count
    stage: Annotated[int, Field(ge=0, le=1000)]
    timestamp: Annotated[float, Field(allow_inf_nan=False, ge=0)]

    def dht_key(self) -> str:
        raise NotImplementedError

    def subkey_tag(self) -> str:
        return self.peer_id

    def check(self) -> None:
        """Cross-field rules a schema cannot express; raise ``ValueError`` when broken."""


class RoundStageRecord(_Record):
    """The coordinator's clock: ``rl_swarm_rs``."""

    kind: Literal["round_stage"] = "round_stage"
    stage_count: Annotated[int, Field(ge=1, le=1000)]

    def dht_key(self) -> str:
        return keys.ROUND_STAGE_KEY

    def check(self) -> None:
        if self.stage >= self.stage_count:
            raise ValueError(f"stage {self.stage} is outside a {self.stage_count}-stage round")


class OutputRecord(_Record):
    """A node's best completion for a question: ``rl_swarm_outputs_{peer}_{r}_{s}``, subkey md5(question)."""

    kind: Literal["outputs"] = "outputs"
    question_hash: Md5Hex
    question: Annotated[str, Field(max_length=16_384)]
    answer: Annotated[str, Field(max_length=4_096)] | None = None
    completion: Annotated[str, Field(max_length=32_768)]
    reward: Reward = 0.0
    extra: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=16_384)]] = Field(
        default_factory=dict, max_length=16
    )

    def dht_key(self) -> str:
        return keys.outputs_key(self.peer_id, self.round, self.stage)

    def subkey_tag(self) -> str:
        return self.question_hash

    def check(self) -> None:
        if keys.question_hash(self.question) != self.question_hash:
            raise ValueError("question_hash is not the md5 of the question")


class OutputItem(BaseModel):
    """One question's best completion inside an :class:`OutputBundleRecord`."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    question_hash: Md5Hex
    question: Annotated[str, Field(max_length=16_384)]
    answer: Annotated[str, Field(max_length=4_096)] | None = None
    completion: Annotated[str, Field(max_length=32_768)]
    reward: Reward = 0.0
    extra: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=16_384)]] = Field(
        default_factory=dict, max_length=16
    )


class OutputBundleRecord(_Record):
    """Part ``part`` of ``parts`` of a node's outputs for a stage, under the same key as
    :class:`OutputRecord` (``rl_swarm_outputs_{peer}_{r}_{s}``), subkey ``outputs:<part>``.

    One signed record per value-size budget instead of one per question: every record costs a signature
    to make and one check per reader, and per-question records made signing the dominant cost of a stage.
    """

    kind: Literal["outputs_bundle"] = "outputs_bundle"
    part: Annotated[int, Field(ge=0, le=MAX_BUNDLE_PARTS - 1)]
    parts: Annotated[int, Field(ge=1, le=MAX_BUNDLE_PARTS)]
    outputs: list[OutputItem] = Field(min_length=1, max_length=256)

    def dht_key(self) -> str:
        return keys.outputs_key(self.peer_id, self.round, self.stage)

    def subkey_tag(self) -> str:
        return bundle_tag(self.part)

    def check(self) -> None:
        if self.part >= self.parts:
            raise ValueError(f"part {self.part} of a {self.parts}-part bundle")
        hashes = [item.question_hash for item in self.outputs]
        if len(set(hashes)) != len(hashes):
            raise ValueError("a question appears twice in one bundle")
        for item in self.outputs:
            if keys.question_hash(item.question) != item.question_hash:
                raise ValueError("question_hash is not the md5 of the question")

    def expand(self) -> list[OutputRecord]:
        """The bundle's outputs as the per-question records readers work with (already validated)."""
        return [
            OutputRecord.model_construct(
                peer_id=self.peer_id,
                round=self.round,
                stage=self.stage,
                timestamp=self.timestamp,
                **dict(item),
            )
            for item in self.outputs
        ]


def bundle_tag(part: int) -> str:
    return f"outputs:{part}"


class RewardRecord(_Record):
    """A node's running reward for a stage: ``rl_swarm_rewards_{r}_{s}``, subkey = its peer id."""

    kind: Literal["reward"] = "reward"
    reward: Reward
    steps: Count

    def dht_key(self) -> str:
        return keys.rewards_key(self.round, self.stage)


class LeaderEntry(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    peer_id: PeerId
    reward: Reward


class LeaderboardRecord(_Record):
    """The coordinator's sorted (peer, reward) list: ``rl_swarm_leaderboard_{r}_{s}``."""

    kind: Literal["leaderboard"] = "leaderboard"
    entries: list[LeaderEntry] = Field(max_length=2_000)
    # peers whose claimed rewards disagree with what their outputs earn (ranked by the recomputed value)
    flagged: list[PeerId] = Field(default_factory=list, max_length=2_000)

    def dht_key(self) -> str:
        return keys.leaderboard_key(self.round, self.stage)


SwarmRecord = Annotated[
    RoundStageRecord | OutputRecord | OutputBundleRecord | RewardRecord | LeaderboardRecord,
    Field(discriminator="kind"),
]
_RECORD_ADAPTER: TypeAdapter[Any] = TypeAdapter(SwarmRecord)


def encode_record(record: _Record) -> bytes:
    return record.model_dump_json().encode("utf-8")


def decode_record(raw: object) -> _Record:
    """Parse and check one stored value; raise ``ValueError`` if it is not a well-formed record."""
    if not isinstance(raw, bytes):
        raise ValueError(f"a record value must be bytes, not {type(raw).__name__}")
    try:
        record = _RECORD_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise ValueError(f"malformed record: {exc.error_count()} schema error(s)") from None
    record.check()
    if isinstance(record, (RewardRecord, OutputRecord)) and not math.isfinite(record.reward):
        raise ValueError("reward is not finite")
    return record


@lru_cache(maxsize=4096)
def peer_id_of_ssh_key(ssh_public_key: bytes) -> str:
    """The libp2p peer id of an RSA key in OpenSSH form (what ``[owner:...]`` subkeys carry)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = serialization.load_ssh_public_key(ssh_public_key)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the owner key is not an RSA key")
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.sha256(encode_key_message(KEY_TYPE_RSA, der)).digest()
    return base58(bytes([0x12, len(digest)]) + digest)


def owner_subkey(tag: str, ssh_public_key: bytes) -> bytes:
    return tag.encode("utf-8") + b"[owner:" + ssh_public_key + b"]"


def split_subkey(subkey: object) -> tuple[str, bytes]:
    """``(tag, ssh public key)`` of an owner subkey; ``ValueError`` when it is not one."""
    if not isinstance(subkey, bytes) or len(subkey) > MAX_SUBKEY_BYTES:
        raise ValueError("the subkey is not an owner subkey")
    match = OWNER_RE.match(subkey)
    if match is None:
        raise ValueError("the subkey carries no owner key")
    return match.group(1).decode("utf-8", errors="strict"), match.group(2)


def check_entry(subkey: object, raw_value: object) -> _Record:
    """Everything a reader needs to trust one ``(subkey, value)`` entry, minus the signature itself."""
    tag, ssh_key = split_subkey(subkey)
    record = decode_record(raw_value)
    if tag != record.subkey_tag():
        raise ValueError("the subkey does not match the record")
    try:
        owner = peer_id_of_ssh_key(ssh_key)
    except Exception:
        raise ValueError("the owner key is not a valid RSA public key") from None
    if owner != record.peer_id:
        raise ValueError("the record names a peer id its signing key does not hold")
    return record


@lru_cache(maxsize=8192)
def _key_id(key: str) -> bytes:
    from hivemind.dht.routing import DHTID

    return DHTID.generate(source=key).to_bytes()


def validators(private_key: Any, max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES) -> list[Any]:
    """hivemind record validators for a node that signs with ``private_key`` (its identity key).

    One validator doing every check in turn, behind one verdict cache: a "latest" read hands the
    validator every replica's copy of every subkey of the key, so each record is checked dozens of times
    per stage; a chain of hivemind validators re-hashed and copied it at every link even when the
    verdict was already known, which cost more than the RSA signatures themselves.
    """
    return [_make_record_validator()(private_key, max_value_bytes)]


@lru_cache(maxsize=1)
def _round_stage_schema() -> type:
    import pydantic.v1 as pydantic_v1
    from hivemind.dht.schema import BytesWithPublicKey

    # only owner (signed) subkeys may hold the clock; built with create_model because this module's
    # postponed annotations would leave pydantic v1 with unresolvable forward references
    value_type = pydantic_v1.conbytes(strict=True, max_length=4096)
    return pydantic_v1.create_model(
        "RoundStageSchema",
        rl_swarm_rs=(dict[BytesWithPublicKey, value_type], None),  # type: ignore[valid-type]
    )


def _validator_base() -> type:
    from hivemind.dht.validation import RecordValidatorBase

    return RecordValidatorBase


class _Counters:
    def __init__(self) -> None:
        self.accepted = 0
        self.rejected: dict[str, int] = {}

    def reject(self, reason: str) -> bool:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        return False


class VerdictCache:
    """Validity is a pure function of a record's bytes: remember the verdicts of recent records."""

    def __init__(self, size: int = 65_536) -> None:
        self._verdicts: OrderedDict[bytes, bool] = OrderedDict()
        self._size = size

    @staticmethod
    def fingerprint(record: Any) -> bytes:
        key, subkey, value = record.key, record.subkey, record.value
        head = struct.pack("<QQQd", len(key), len(subkey), len(value), record.expiration_time)
        # one hash call over one buffer: checks repeat per replica per read, so the constant matters
        return hashlib.blake2b(b"".join((head, key, subkey, value)), digest_size=20).digest()

    def check(self, record: Any, validate: Any) -> bool:
        fingerprint = self.fingerprint(record)
        verdict = self._verdicts.get(fingerprint)
        if verdict is None:
            verdict = bool(validate(record))
            self._verdicts[fingerprint] = verdict
            if len(self._verdicts) > self._size:
                self._verdicts.popitem(last=False)
        else:
            self._verdicts.move_to_end(fingerprint)
        return verdict

    def remember(self, record: Any, verdict: bool) -> None:
        self._verdicts[self.fingerprint(record)] = verdict
        if len(self._verdicts) > self._size:
            self._verdicts.popitem(last=False)


@lru_cache(maxsize=1)
def _make_record_validator() -> type:
    from hivemind.dht.crypto import RSASignatureValidator
    from hivemind.dht.schema import SchemaValidator

    base = _validator_base()
    swarm_cls, size_cls = _make_swarm_validator(), _make_size_validator()

    class _SwarmRecordsValidator(base):  # type: ignore[misc, valid-type]
        """Size limit, owner signature (hivemind's ``RSASignatureValidator``), the clock's schema and the
        swarm record rules, in that order (cheapest first), remembered per record."""

        def __init__(self, private_key: Any, max_value_bytes: int, cache_size: int = 65_536) -> None:
            self._size = size_cls(max_value_bytes)
            self._signature = RSASignatureValidator(private_key)
            self._schema = SchemaValidator(_round_stage_schema(), allow_extra_keys=True)
            self._swarm = swarm_cls(cache=False)
            self._verdicts = VerdictCache(cache_size)

        # what ``validator_stats`` reports
        @property
        def counters(self) -> _Counters:
            return self._swarm.counters

        @property
        def max_value_bytes(self) -> int:
            return self._size.max_value_bytes

        @property
        def rejected(self) -> int:
            return self._size.rejected

        def validate(self, record: Any) -> bool:
            return self._verdicts.check(record, self._validate)

        def _validate(self, record: Any) -> bool:
            if not self._size.validate(record):
                return False
            if not self._signature.validate(record):
                return self.counters.reject("signature")
            stripped = dataclasses.replace(record, value=self._signature.strip_value(record))
            return self._validate_content(stripped)

        def _validate_content(self, stripped: Any) -> bool:
            if not self._schema.validate(stripped):
                return self.counters.reject("schema")
            return self._swarm.validate(stripped)

        def sign_value(self, record: Any) -> bytes:
            signed = self._signature.sign_value(record)
            if signed != record.value:
                # hivemind validates a record it has just signed before storing it on this node: the
                # signature is this node's own and fresh, so its verdict is settled here on the other
                # rules alone, without an RSA verification per store
                mine = dataclasses.replace(record, value=signed)
                self._verdicts.remember(mine, self._size.validate(mine) and self._validate_content(record))
            return signed

        def strip_value(self, record: Any) -> bytes:
            return self._signature.strip_value(record)

    return _SwarmRecordsValidator


@lru_cache(maxsize=1)
def _make_swarm_validator() -> type:
    base = _validator_base()

    class _SwarmRecordValidator(base):  # type: ignore[misc, valid-type]
        """Typed values bound to their key, subkey and signing peer (see the module docstring)."""

        def __init__(self, cache: bool = True) -> None:
            self.counters = _Counters()
            self._verdicts = VerdictCache() if cache else None

        def validate(self, record: Any) -> bool:
            if self._verdicts is None:
                return self._validate(record)
            return self._verdicts.check(record, self._validate)

        def _validate(self, record: Any) -> bool:
            from hivemind.dht.protocol import DHTProtocol

            try:
                subkey = DHTProtocol.serializer.loads(record.subkey)
                value = DHTProtocol.serializer.loads(record.value)
                parsed = check_entry(subkey, value)
            except Exception as exc:
                return self.counters.reject(
                    type(exc).__name__ if not isinstance(exc, ValueError) else "invalid"
                )
            if _key_id(parsed.dht_key()) != record.key:
                return self.counters.reject("wrong_key")
            self.counters.accepted += 1
            return True

        @property
        def priority(self) -> int:
            # runs after the signature validator has verified and stripped the signature
            return 0

    return _SwarmRecordValidator


@lru_cache(maxsize=1)
def _make_size_validator() -> type:
    base = _validator_base()

    class _SizeLimitValidator(base):  # type: ignore[misc, valid-type]
        def __init__(self, max_value_bytes: int) -> None:
            self.max_value_bytes = max_value_bytes
            self.rejected = 0

        def validate(self, record: Any) -> bool:
            if len(record.value) > self.max_value_bytes or len(record.subkey) > MAX_SUBKEY_BYTES + 16:
                self.rejected += 1
                return False
            return True

        @property
        def priority(self) -> int:
            # checked first, before a signature check is spent on an oversized value
            return 20

    return _SizeLimitValidator


def __getattr__(name: str) -> Any:
    # the validator classes subclass a hivemind type; build them on first use so importing this module
    # (e.g. for the record models) does not import hivemind
    if name == "SwarmRecordValidator":
        cls = _make_swarm_validator()
    elif name == "SwarmRecordsValidator":
        cls = _make_record_validator()
    elif name == "SizeLimitValidator":
        cls = _make_size_validator()
    else:
        raise AttributeError(name)
    globals()[name] = cls
    return cls
