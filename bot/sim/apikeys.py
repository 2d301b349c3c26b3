"""The simulator's API-key registry: L2 credentials per (address, nonce), as the venue issues them.

Spec: docs/protocol/polymarket-clob.md section 2.1. `create` issues credentials for an (address,
nonce) pair and fails if that pair already has them (`Could not create api key`); `derive` returns the
existing ones (`Could not derive api key!` if none). Credentials are derived from a server seed with
SHA-256, so a simulator restarted with the same seed hands out the same keys (reproducible runs); the
venue's are random, which no client can tell apart.

Secrets never leave this module except inside `ApiCreds` (whose repr hides them) and the one response
body that issues them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass

from bot.protocol.auth import ApiCreds

__all__ = ["ApiKeyExists", "ApiKeyRecord", "ApiKeyStore"]


class ApiKeyExists(Exception):
    """`create` for an (address, nonce) that already has credentials."""


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """Who an API key belongs to. `address` is the checksummed-or-not address as first presented."""

    creds: ApiCreds
    address: str
    nonce: int

    @property
    def api_key(self) -> str:
        return self.creds.api_key


class ApiKeyStore:
    """Issues and looks up L2 credentials; deterministic per `seed`."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed.to_bytes(16, "big", signed=True)
        self._by_pair: dict[tuple[str, int], ApiKeyRecord] = {}
        self._by_key: dict[str, ApiKeyRecord] = {}

    def __repr__(self) -> str:
        return f"<ApiKeyStore keys={len(self._by_key)}>"

    def _material(self, label: bytes, address: str, nonce: int) -> bytes:
        return hashlib.sha256(
            self._seed + label + address.lower().encode() + nonce.to_bytes(32, "big")
        ).digest()

    def _issue(self, address: str, nonce: int) -> ApiKeyRecord:
        key = str(uuid.UUID(bytes=self._material(b"key", address, nonce)[:16], version=4))
        secret = base64.urlsafe_b64encode(self._material(b"secret", address, nonce)).decode()
        passphrase = self._material(b"passphrase", address, nonce).hex()
        record = ApiKeyRecord(ApiCreds(key, secret, passphrase), address, nonce)
        self._by_pair[(address.lower(), nonce)] = record
        self._by_key[key] = record
        return record

    def create(self, address: str, nonce: int) -> ApiKeyRecord:
        """New credentials for (address, nonce); ApiKeyExists if they were issued before."""
        if (address.lower(), nonce) in self._by_pair:
            raise ApiKeyExists(address)
        return self._issue(address, nonce)

    def derive(self, address: str, nonce: int) -> ApiKeyRecord | None:
        """The credentials issued for (address, nonce), or None."""
        return self._by_pair.get((address.lower(), nonce))

    def get(self, api_key: str) -> ApiKeyRecord | None:
        return self._by_key.get(api_key)

    def verify(self, api_key: str, secret: str, passphrase: str) -> ApiKeyRecord | None:
        """The record iff all three match (constant-time compares); None otherwise."""
        record = self._by_key.get(api_key)
        if record is None:
            return None
        secret_ok = hmac.compare_digest(
            record.creds.secret.encode(), secret.encode("utf-8", "surrogateescape")
        )
        passphrase_ok = hmac.compare_digest(
            record.creds.passphrase.encode(), passphrase.encode("utf-8", "surrogateescape")
        )
        return record if secret_ok and passphrase_ok else None

    def keys_for(self, address: str) -> list[str]:
        return [r.api_key for r in self._by_key.values() if r.address.lower() == address.lower()]

    def delete(self, api_key: str) -> bool:
        record = self._by_key.pop(api_key, None)
        if record is None:
            return False
        del self._by_pair[(record.address.lower(), record.nonce)]
        return True

    def __len__(self) -> int:
        return len(self._by_key)
