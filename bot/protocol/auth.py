"""Venue authentication: L2 HMAC headers over the exact bytes sent (and L1 ClobAuth, below).

Spec: ../shared/protocol/polymarket-clob.md section 2. The HMAC message is
`timestamp + METHOD + request_path(no query) + body`, keyed by the base64url-decoded secret, and the
signature is base64url **with** padding. We sign the exact bytes we send; bodies never contain `'`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

__all__ = ["ApiCreds", "hmac_signature", "l2_headers"]


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
