"""Account data: open orders, one order, trades (paginated), heartbeats, balance and allowance.

Spec: docs/protocol/polymarket-clob.md §1.1 (shapes, cursors `MA==` … `LTE=`) and §1.4 (heartbeats).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.protocol.constants import END_CURSOR, ERR_INVALID_HEARTBEAT, ERR_INVALID_PAYLOAD, INITIAL_CURSOR
from bot.sim.heartbeats import HeartbeatMismatch
from bot.sim.routes.auth import Authenticator
from bot.sim.routes.common import (
    ERR_INVALID_CURSOR,
    ERR_INVALID_TOKEN,
    Reject,
    RestContext,
    decode_cursor,
    encode_cursor,
    error_response,
    json_response,
    parse_json,
)
from bot.sim.wallets import WalletRejected, signature_type_param

__all__ = ["account_routes", "page"]


def page(ctx: RestContext, items: list[dict[str, Any]], cursor: str | None) -> dict[str, Any]:
    """One page of `items` in the venue's `{limit, count, next_cursor, data}` envelope."""
    size = ctx.config.page_size
    if cursor == END_CURSOR:
        return {"limit": size, "count": 0, "next_cursor": END_CURSOR, "data": []}
    offset = decode_cursor(cursor or INITIAL_CURSOR)
    if offset < 0:
        raise Reject(ERR_INVALID_CURSOR)
    chunk = items[offset : offset + size]
    end = offset + len(chunk)
    next_cursor = encode_cursor(end) if end < len(items) else END_CURSOR
    return {"limit": size, "count": len(chunk), "next_cursor": next_cursor, "data": chunk}


def account_routes(ctx: RestContext, auth: Authenticator) -> list[Route]:
    """`/data/orders`, `/data/order/{id}`, `/data/trades`, `/v1/heartbeats`, `/balance-allowance`."""
    exchange = ctx.exchange

    async def open_orders(request: Request) -> Response:
        try:
            record = auth.l2(request, await request.body())
            q = request.query_params
            orders = exchange.open_orders(
                record.api_key,
                market=q.get("market") or None,
                asset_id=q.get("asset_id") or None,
                order_id=q.get("id") or None,
            )
            return json_response(page(ctx, list(orders), q.get("next_cursor")))
        except Reject as rej:
            return rej.response()

    async def get_order(request: Request) -> Response:
        try:
            record = auth.l2(request, await request.body())
        except Reject as rej:
            return rej.response()
        # Unknown (or, if the engine says so, finished) orders: an empty `null` body (spec 1.1).
        return json_response(
            exchange.get_order(record.api_key, request.path_params["order_id"], as_venue=True)
        )

    async def trades(request: Request) -> Response:
        try:
            record = auth.l2(request, await request.body())
            q = request.query_params
            after_s = int(q["after"]) if q.get("after", "").isdigit() else None
            before_s = int(q["before"]) if q.get("before", "").isdigit() else None
            found = list(
                exchange.trades(
                    record.api_key,
                    market=q.get("market") or None,
                    asset_id=q.get("asset_id") or None,
                    trade_id=q.get("id") or None,
                    after_s=after_s,
                )
            )
            if before_s is not None:
                found = [t for t in found if int(t.get("match_time", "0")) < before_s]
            maker = q.get("maker_address")
            if maker:
                found = [t for t in found if str(t.get("maker_address", "")).lower() == maker.lower()]
            return json_response(page(ctx, found, q.get("next_cursor")))
        except Reject as rej:
            return rej.response()

    async def heartbeat(request: Request) -> Response:
        try:
            body = await request.body()
            record = auth.l2(request, body)
            payload = parse_json(body) if body else {}
            if not isinstance(payload, dict):
                raise Reject(ERR_INVALID_PAYLOAD)
            heartbeat_id = payload.get("heartbeat_id") or ""
            if not isinstance(heartbeat_id, str):
                raise Reject(ERR_INVALID_PAYLOAD)
        except Reject as rej:
            return rej.response()
        try:
            next_id = exchange.heartbeat(record.api_key, heartbeat_id)
        except HeartbeatMismatch as exc:
            # Not the usual {"error"} shape (spec 1.4).
            return json_response({"error_msg": ERR_INVALID_HEARTBEAT, "heartbeat_id": exc.expected_id}, 400)
        return json_response({"heartbeat_id": next_id})

    async def balance(request: Request) -> Response:
        try:
            record = auth.l2(request, await request.body())
        except Reject as rej:
            return rej.response()
        q = request.query_params
        asset_type = (q.get("asset_type") or "COLLATERAL").upper()
        if asset_type not in ("COLLATERAL", "CONDITIONAL"):
            return error_response(ERR_INVALID_PAYLOAD)
        token_id = q.get("token_id") or None
        if asset_type == "CONDITIONAL" and token_id is None:
            return error_response(ERR_INVALID_TOKEN)
        try:  # the wallet `signature_type` names (bot.sim.wallets), as the venue derives it
            signature_type = signature_type_param(request)
            if request.url.path.endswith("/update"):
                exchange.wallets.sync(record.address, signature_type)
            return json_response(
                exchange.wallets.balance_body(exchange, record.address, signature_type, asset_type, token_id)
            )
        except WalletRejected as exc:
            return error_response(exc.message, exc.status)
        except (ValueError, KeyError):
            return error_response(ERR_INVALID_TOKEN)

    return [
        Route("/data/orders", open_orders, methods=["GET"]),
        Route("/data/order/{order_id}", get_order, methods=["GET"]),
        Route("/data/trades", trades, methods=["GET"]),
        Route("/v1/heartbeats", heartbeat, methods=["POST"]),
        Route("/balance-allowance", balance, methods=["GET"]),
        Route("/balance-allowance/update", balance, methods=["GET"]),
    ]
