"""L1/L2 request authentication and the `/auth/...` routes (API keys, closed-only status).

Spec: docs/protocol/polymarket-clob.md §2 (L1 EIP-712 ClobAuth, L2 HMAC over the raw body bytes and the
path without query) and §2.1 (create / derive / list / delete keys).
"""

from __future__ import annotations

import binascii

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.protocol.auth import hmac_signature, verify_clob_auth
from bot.protocol.constants import ERR_INVALID_L1, ERR_UNAUTHORIZED
from bot.sim.apikeys import ApiKeyExists, ApiKeyRecord
from bot.sim.routes.common import (
    ERR_CREATE_API_KEY,
    ERR_DERIVE_API_KEY,
    Reject,
    RestContext,
    error_response,
    json_response,
    same_secret,
)

__all__ = ["Authenticator", "auth_routes"]


class Authenticator:
    """Checks L1 and L2 headers; every failure is a `Reject` with the venue's 401 text."""

    def __init__(self, ctx: RestContext) -> None:
        self._ctx = ctx

    def l2(self, request: Request, body: bytes) -> ApiKeyRecord:
        """The API key record of a valid L2 request; Reject(401 Unauthorized/Invalid api key) otherwise."""
        headers = request.headers
        api_key = headers.get("poly_api_key")
        signature = headers.get("poly_signature")
        timestamp = headers.get("poly_timestamp")
        passphrase = headers.get("poly_passphrase")
        address = headers.get("poly_address")
        if not (api_key and signature and timestamp and passphrase and address):
            raise Reject(ERR_UNAUTHORIZED, 401)
        record = self._ctx.keys.get(api_key)
        if record is None or not same_secret(record.creds.passphrase, passphrase):
            raise Reject(ERR_UNAUTHORIZED, 401)
        if record.address.lower() != address.lower():
            raise Reject(ERR_UNAUTHORIZED, 401)
        if not self._timestamp_ok(timestamp):
            raise Reject(ERR_UNAUTHORIZED, 401)
        try:
            expected = hmac_signature(record.creds.secret, timestamp, request.method, request.url.path, body)
        except (ValueError, binascii.Error):
            raise Reject(ERR_UNAUTHORIZED, 401) from None
        if not same_secret(expected, signature):
            raise Reject(ERR_UNAUTHORIZED, 401)
        return record

    def l1(self, request: Request) -> tuple[str, int]:
        """(address, nonce) of a valid L1 request; Reject(401 Invalid L1 Request headers) otherwise."""
        headers = request.headers
        address = headers.get("poly_address")
        signature = headers.get("poly_signature")
        timestamp = headers.get("poly_timestamp")
        nonce_text = headers.get("poly_nonce", "0")
        if not (address and signature and timestamp) or not nonce_text.isascii() or not nonce_text.isdigit():
            raise Reject(ERR_INVALID_L1, 401)
        nonce = int(nonce_text)
        if not self._timestamp_ok(timestamp):
            raise Reject(ERR_INVALID_L1, 401)
        if not verify_clob_auth(address, signature, timestamp, nonce, self._ctx.config.chain_id):
            raise Reject(ERR_INVALID_L1, 401)
        return address, nonce

    def _timestamp_ok(self, timestamp: str) -> bool:
        if not timestamp.isascii() or not timestamp.isdigit():
            return False
        tolerance = self._ctx.config.timestamp_tolerance_s
        return tolerance is None or abs(int(timestamp) - self._ctx.now_s()) <= tolerance


def auth_routes(ctx: RestContext, auth: Authenticator) -> list[Route]:
    """`/auth/api-key` (create, delete), `/auth/derive-api-key`, `/auth/api-keys`, closed-only."""
    exchange, keys = ctx.exchange, ctx.keys

    def creds_body(record: ApiKeyRecord) -> dict[str, str]:
        return {
            "apiKey": record.creds.api_key,
            "secret": record.creds.secret,
            "passphrase": record.creds.passphrase,
        }

    def issue(address: str, nonce: int) -> ApiKeyRecord:
        record = keys.create(address, nonce)
        # Each account that gets credentials is a funded paper account (idempotent).
        exchange.ensure_account(address)
        exchange.register_api_key(record.api_key, address)
        return record

    async def create_api_key(request: Request) -> Response:
        try:
            address, nonce = auth.l1(request)
            try:
                record = issue(address, nonce)
            except ApiKeyExists:
                raise Reject(ERR_CREATE_API_KEY) from None
        except Reject as rej:
            return rej.response()
        return json_response(creds_body(record))

    async def derive_api_key(request: Request) -> Response:
        try:
            address, nonce = auth.l1(request)
        except Reject as rej:
            return rej.response()
        record = keys.derive(address, nonce)
        if record is None:
            if not ctx.config.derive_creates_missing:
                return error_response(ERR_DERIVE_API_KEY)
            record = issue(address, nonce)
        exchange.ensure_account(address)
        return json_response(creds_body(record))

    async def api_keys(request: Request) -> Response:
        try:
            record = auth.l2(request, await request.body())
        except Reject as rej:
            return rej.response()
        return json_response({"apiKeys": keys.keys_for(record.address)})

    async def delete_api_key(request: Request) -> Response:
        try:
            record = auth.l2(request, await request.body())
        except Reject as rej:
            return rej.response()
        keys.delete(record.api_key)
        return json_response("OK")

    async def closed_only(request: Request) -> Response:
        try:
            record = auth.l2(request, await request.body())
        except Reject as rej:
            return rej.response()
        return json_response({"closed_only": ctx.exchange.wallets.account(record.address).closed_only})

    return [
        Route("/auth/api-key", create_api_key, methods=["POST"]),
        Route("/auth/api-key", delete_api_key, methods=["DELETE"]),
        Route("/auth/derive-api-key", derive_api_key, methods=["GET"]),
        Route("/auth/api-keys", api_keys, methods=["GET"]),
        Route("/auth/ban-status/closed-only", closed_only, methods=["GET"]),
    ]
