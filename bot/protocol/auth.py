"""Venue authentication: L2 HMAC headers over the exact bytes sent, and L1 ClobAuth EIP-712 headers.

Spec: docs/protocol/polymarket-clob.md section 2. The HMAC message is
`timestamp + METHOD + request_path(no query) + body`, keyed by the base64url-decoded secret, and the
signature is base64url **with** padding. We sign the exact bytes we send; bodies never contain `'`.

L1 (section 2.1): an EIP-712 signature over `ClobAuth(address address,string timestamp,uint256 nonce,
string message)` in the domain `ClobAuthDomain` version "1" with `chainId` and **no** verifyingContract,
used only to create or derive API credentials. The simulator verifies it with `verify_clob_auth`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Final

from bot.protocol.constants import (
    CLOB_AUTH_DOMAIN_NAME,
    CLOB_AUTH_DOMAIN_TYPE_STRING,
    CLOB_AUTH_DOMAIN_VERSION,
    CLOB_AUTH_MESSAGE,
    CLOB_AUTH_TYPE_STRING,
    POLYGON_CHAIN_ID,
)
from bot.protocol.signing import (
    OrderSigner,
    address_word,
    eip712_digest,
    keccak256,
    recover_digest_signer,
    to_checksum_address,
)

__all__ = [
    "ApiCreds",
    "clob_auth_digest",
    "hmac_signature",
    "l1_headers",
    "l2_headers",
    "recover_clob_auth_address",
    "verify_clob_auth",
]


@dataclass(frozen=True, slots=True)
class ApiCreds:
    """L2 API credentials. `repr` never shows the secret or passphrase."""

    api_key: str
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)


def _decode_secret(secret: str) -> bytes:
    # The TS client maps the standard alphabet to urlsafe; accept both, and tolerate missing padding.
    normalized = secret.replace("+", "-").replace("/", "_")
    normalized += "=" * (-len(normalized) % 4)
    return base64.urlsafe_b64decode(normalized)


def hmac_signature(secret: str, timestamp_s: int | str, method: str, request_path: str, body: bytes | str | None) -> str:
    """POLY_SIGNATURE for one request: padded base64url HMAC-SHA256 of the canonical message."""
    message = f"{timestamp_s}{method}{request_path}".encode()
    if body:
        message += body if isinstance(body, bytes) else body.encode()
    digest = hmac.new(_decode_secret(secret), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def l2_headers(
    creds: ApiCreds, address: str, method: str, request_path: str, body: bytes | str | None, timestamp_s: int
) -> dict[str, str]:
    """The five POLY_* headers for an L2-authenticated request. `request_path` excludes the query."""
    return {
        "POLY_ADDRESS": address,
        "POLY_SIGNATURE": hmac_signature(creds.secret, timestamp_s, method, request_path, body),
        "POLY_TIMESTAMP": str(timestamp_s),
        "POLY_API_KEY": creds.api_key,
        "POLY_PASSPHRASE": creds.passphrase,
    }


# --- L1: ClobAuth EIP-712 -------------------------------------------------------------------------

_CLOB_AUTH_TYPE_HASH: Final = keccak256(CLOB_AUTH_TYPE_STRING.encode())
_CLOB_AUTH_MESSAGE_HASH: Final = keccak256(CLOB_AUTH_MESSAGE.encode())
_UINT256_LIMIT: Final = 1 << 256
_clob_auth_domains: dict[int, bytes] = {}


def _clob_auth_domain_separator(chain_id: int) -> bytes:
    separator = _clob_auth_domains.get(chain_id)
    if separator is None:
        if type(chain_id) is not int or not 0 <= chain_id < _UINT256_LIMIT:
            raise ValueError("chain_id must be a uint256 int")
        separator = keccak256(
            keccak256(CLOB_AUTH_DOMAIN_TYPE_STRING.encode())
            + keccak256(CLOB_AUTH_DOMAIN_NAME.encode())
            + keccak256(CLOB_AUTH_DOMAIN_VERSION.encode())
            + chain_id.to_bytes(32, "big")
        )
        _clob_auth_domains[chain_id] = separator
    return separator


def clob_auth_digest(
    address: str, timestamp_s: int | str, nonce: int, chain_id: int = POLYGON_CHAIN_ID
) -> bytes:
    """The 32-byte EIP-712 digest an L1 header signs. `timestamp_s` is signed as its decimal string.

    ValueError on a malformed address, a negative or oversized nonce.
    """
    if type(nonce) is not int or not 0 <= nonce < _UINT256_LIMIT:
        raise ValueError("nonce must be a uint256 int")
    struct_hash = keccak256(
        _CLOB_AUTH_TYPE_HASH
        + address_word(address)
        + keccak256(str(timestamp_s).encode())
        + nonce.to_bytes(32, "big")
        + _CLOB_AUTH_MESSAGE_HASH
    )
    return eip712_digest(_clob_auth_domain_separator(chain_id), struct_hash)


def l1_headers(signer: OrderSigner, timestamp_s: int, nonce: int = 0) -> dict[str, str]:
    """The four POLY_* headers for `POST /auth/api-key` / `GET /auth/derive-api-key`, signed for the
    signer's chain id; same values as PY2's `create_level_1_headers` for the same inputs."""
    digest = clob_auth_digest(signer.address, timestamp_s, nonce, signer.chain_id)
    return {
        "POLY_ADDRESS": signer.address,
        "POLY_SIGNATURE": signer.sign_digest(digest),
        "POLY_TIMESTAMP": str(timestamp_s),
        "POLY_NONCE": str(nonce),
    }


def recover_clob_auth_address(
    signature_hex: str, timestamp: int | str, nonce: int, chain_id: int = POLYGON_CHAIN_ID, *, address: str
) -> str:
    """Checksummed address recovered from an L1 signature, for the claimed `address` (POLY_ADDRESS).

    The signed message contains the address itself, so it must be supplied; a genuine signature
    recovers exactly `address` (checksummed), a forged or tampered one another address or ValueError.
    """
    return recover_digest_signer(clob_auth_digest(address, timestamp, nonce, chain_id), signature_hex)


def verify_clob_auth(
    address: str, signature_hex: str, timestamp: int | str, nonce: int, chain_id: int = POLYGON_CHAIN_ID
) -> bool:
    """True iff `signature_hex` is `address`'s L1 signature for (timestamp, nonce, chain_id); never raises
    on malformed input (False instead), so the simulator can answer 401 `Invalid L1 Request headers`."""
    try:
        return recover_clob_auth_address(
            signature_hex, timestamp, nonce, chain_id, address=address
        ) == to_checksum_address(address.lower())
    except (ValueError, AttributeError, TypeError):
        return False
