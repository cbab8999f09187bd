"""AES-GCM payload encryption, so that no secret (a granted password, a token) is readable in history.

Keys come from `GRANTFLOW_ENCRYPTION_KEYS` as `id:base64key,id2:base64key2`. The first key encrypts;
every key decrypts, which is how keys rotate: put the new key first and keep the old ones for as long
as histories written with them are kept. Each encrypted payload names its key in the metadata
(`encryption-key-id`) and is authenticated together with that id, so metadata cannot be swapped.

Payloads that are not encrypted pass through decoding unchanged: histories written before encryption
was turned on still read.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

ENV_VAR = "GRANTFLOW_ENCRYPTION_KEYS"
ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class CodecKeyError(ValueError):
    """Keys are missing or malformed, or a payload names a key we do not have. Never carries key bytes."""


def parse_keys(text: str) -> dict[str, bytes]:
    """`id:base64key,...` → ordered {id: key}; the first entry is the one that encrypts."""
    keys: dict[str, bytes] = {}
    for n, entry in enumerate((e.strip() for e in text.split(",")), start=1):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not key_id:
            raise CodecKeyError(f"{ENV_VAR}: entry {n} must be id:base64key")
        if not _KEY_ID.match(key_id):
            raise CodecKeyError(f"{ENV_VAR}: key id {key_id!r} may only use letters, digits, '.', '_' and '-'")
        if key_id in keys:
            raise CodecKeyError(f"{ENV_VAR}: key id {key_id!r} appears twice")
        # Accept standard and URL-safe base64, with or without padding.
        encoded = encoded.strip().rstrip("=").replace("-", "+").replace("_", "/")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise CodecKeyError(f"{ENV_VAR}: key {key_id!r} is not valid base64") from None
        if len(key) not in (16, 24, 32):
            raise CodecKeyError(f"{ENV_VAR}: key {key_id!r} is {len(key)} bytes; AES-GCM needs 16, 24 or 32")
        keys[key_id] = key
    if not keys:
        raise CodecKeyError(f"{ENV_VAR}: no keys given")
    return keys


def keys_from_env(environ: Mapping[str, str] | None = None) -> dict[str, bytes]:
    """The keys in `GRANTFLOW_ENCRYPTION_KEYS`; an empty dict when it is unset (encryption off)."""
    text = (environ if environ is not None else os.environ).get(ENV_VAR, "").strip()
    return parse_keys(text) if text else {}


def new_key_entry(key_id: str | None = None) -> str:
    key_id = key_id or f"k{secrets.token_hex(4)}"
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def generate_key_file(path: str | os.PathLike[str]) -> str:
    """Create a 0600 file holding one fresh `id:base64key`, or return the keys already in it.

    The dev launcher calls this on every start; reusing the file keeps earlier histories readable.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    entry = new_key_entry()
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        existing = p.read_text(encoding="utf-8").strip()
        parse_keys(existing)
        return existing
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(entry + "\n")
    return entry


class EncryptionCodec(PayloadCodec):
    """AES-GCM over the whole serialized payload (data and metadata), with a random 96-bit nonce."""

    def __init__(self, keys: Mapping[str, bytes]):
        if not keys:
            raise CodecKeyError(f"{ENV_VAR}: no keys given")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.key_id = next(iter(keys))
        self._current = self._ciphers[self.key_id]

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self.key_id.encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._current.encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        raw_id = payload.metadata.get(KEY_ID_METADATA, b"")
        key_id = raw_id.decode("utf-8", errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecKeyError(
                f"payload was encrypted with key id {key_id!r}, which is not in {ENV_VAR} "
                f"(known: {', '.join(self._ciphers)})"
            )
        if len(payload.data) <= NONCE_BYTES:
            raise CodecKeyError(f"encrypted payload (key id {key_id!r}) is truncated")
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], raw_id)
        except InvalidTag:
            raise CodecKeyError(f"cannot decrypt payload with key id {key_id!r}: wrong key or tampered data") from None
        return Payload.FromString(plain)


def data_converter(keys: Mapping[str, bytes], *, encode_failure_attributes: bool = True) -> DataConverter:
    """The pydantic converter with encryption. `encode_failure_attributes` (on unless a caller opts out)
    also moves failure messages and stack traces into an encrypted payload, since a failure's text can
    carry what a target said (the Web UI then needs the codec server to show them). Failures recorded
    without it still read: the converter falls back to the plain message when there is no encoded one."""
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(keys))
    if encode_failure_attributes:
        converter = dataclasses.replace(converter, failure_converter_class=DefaultFailureConverterWithEncodedAttributes)
    return converter
