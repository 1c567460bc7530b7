"""Payloads encrypted in Temporal's history: sealed bids, baselines and everything else a command or
a result carries never reach the Temporal server in plain text.

AES-256-GCM with a fresh 96-bit nonce per payload, the key id bound in as associated data. The
payload's metadata names the key (`encryption-key-id`), so keys rotate: new payloads use the newest
key, and a payload sealed with an older one still decodes as long as that key is listed. A payload
without our encoding (histories recorded before encryption) passes through untouched. Failures'
messages and stack traces are moved into encoded attributes, so a refusal's text ("unit price 887.00
must be at most …") is encrypted too.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32


class CodecError(ValueError):
    """A payload that cannot be decoded: an unknown key id, or data that fails authentication."""


def parse_keys(spec: str) -> dict[str, bytes]:
    """`id:base64key[,id:base64key…]`, newest first, into {id: key} (insertion order kept)."""
    keys: dict[str, bytes] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        key_id, sep, encoded = part.partition(":")
        if not sep or not key_id.strip():
            raise ValueError("each payload key is `id:base64key`")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error as err:
            raise ValueError(f"payload key {key_id.strip()!r} is not base64") from err
        if len(key) != KEY_BYTES:
            raise ValueError(f"payload key {key_id.strip()!r} must be {KEY_BYTES} bytes (AES-256)")
        if key_id.strip() in keys:
            raise ValueError(f"payload key id {key_id.strip()!r} is listed twice")
        keys[key_id.strip()] = key
    return keys


def new_key(key_id: str | None = None) -> str:
    """A fresh key as `id:base64key`, for the settings."""
    key_id = key_id or f"k-{secrets.token_hex(4)}"
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise ValueError("an encryption codec needs at least one key")
        super().__init__()
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.key_id = next(iter(keys))  # the newest: it seals every new payload

    @property
    def key_ids(self) -> Sequence[str]:
        return list(self._ciphers)

    async def encode(self, payloads: Iterable[Payload]) -> list[Payload]:
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Iterable[Payload]) -> list[Payload]:
        return [self.open(p) for p in payloads]

    def seal(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.key_id].encrypt(nonce, payload.SerializeToString(), self.key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID: self.key_id.encode()}, data=nonce + sealed)

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecError(f"payload sealed with key {key_id!r}, which is not among the configured keys")
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
        except InvalidTag as err:
            raise CodecError(f"payload sealed with key {key_id!r} fails authentication") from err
        return Payload.FromString(plain)


def data_converter(keys_spec: str) -> DataConverter:
    """Pydantic payloads, encrypted with these keys (plain pydantic when there are none)."""
    keys = parse_keys(keys_spec)
    if not keys:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
