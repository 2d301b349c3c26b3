"""Cancels: `DELETE /order`, `/orders`, `/cancel-all`, `/cancel-market-orders`.

Spec: docs/protocol/polymarket-clob.md §1.1 (cancel endpoints and the `{canceled, not_canceled}` body),
§5.4 (duplicate ids) and §7(b) (cancel bucket: per id, or 1 + cancelled after the fact).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.protocol.constants import (
    ERR_INVALID_ORDER_ID,
    ERR_INVALID_PAYLOAD,
    ERR_TOO_MANY_CANCELS_FMT,
    ERR_TOO_MANY_REQUESTS,
)
from bot.sim.apikeys import ApiKeyRecord
from bot.sim.model import OrderRejected
from bot.sim.ratelimit import SignerBucketKind
from bot.sim.routes.auth import Authenticator
from bot.sim.routes.common import (
    Reject,
    RestContext,
    json_response,
    parse_json,
    reject_from_engine,
    signer_take,
)

__all__ = ["cancel_routes", "well_formed_order_id"]

# An order id is the EIP-712 order hash (spec 3.3): 0x and 64 hex digits.
_ORDER_ID = re.compile(r"0x[0-9a-fA-F]{64}")


def well_formed_order_id(order_id: str) -> bool:
    return _ORDER_ID.fullmatch(order_id) is not None


def _engine_cancel(
    call: Callable[[], tuple[list[str], dict[str, str]]],
) -> tuple[list[str], dict[str, str]]:
    try:
        return call()
    except OrderRejected as exc:  # 425 while the engine restarts, too many ids
        raise reject_from_engine(exc) from None


def _cancel_body(canceled: list[str], not_canceled: Mapping[str, str]) -> dict[str, Any]:
    return {"canceled": list(canceled), "not_canceled": dict(not_canceled)}


def cancel_routes(ctx: RestContext, auth: Authenticator) -> list[Route]:
    """The four cancel routes."""
    exchange = ctx.exchange

    async def cancel_order(request: Request) -> Response:
        limit_headers: Mapping[str, str] = {}
        try:
            body = await request.body()
            record = auth.l2(request, body)
            payload = parse_json(body)
            if not isinstance(payload, dict):
                raise Reject(ERR_INVALID_PAYLOAD)
            order_id = payload.get("orderID")
            if not isinstance(order_id, str) or not order_id:
                raise Reject(ERR_INVALID_ORDER_ID)
            if ctx.config.reject_malformed_order_ids and not well_formed_order_id(order_id):
                # Spec 5.3 cancel table: malformed → 400 `Invalid orderID` (which inputs count: UNCONFIRMED).
                raise Reject(ERR_INVALID_ORDER_ID)
            limit_headers = signer_take(ctx, record, SignerBucketKind.CANCEL, 1)
            canceled, not_canceled = _engine_cancel(lambda: exchange.cancel(record.api_key, [order_id]))
            return json_response(_cancel_body(canceled, not_canceled), headers=limit_headers)
        except Reject as rej:
            return rej.response(limit_headers)

    async def cancel_orders(request: Request) -> Response:
        limit_headers: Mapping[str, str] = {}
        try:
            body = await request.body()
            record = auth.l2(request, body)
            ids = parse_json(body)
            if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
                raise Reject(ERR_INVALID_PAYLOAD)
            if ctx.config.reject_malformed_order_ids and not all(well_formed_order_id(i) for i in ids):
                raise Reject(ERR_INVALID_PAYLOAD)  # spec 5.3 cancel table: malformed → 400
            if len(ids) > ctx.config.max_cancel_ids:
                raise Reject(ERR_TOO_MANY_CANCELS_FMT.format(max=ctx.config.max_cancel_ids))
            limit_headers = signer_take(ctx, record, SignerBucketKind.CANCEL, max(1, len(ids)))
            # Duplicate ids in one batch are ignored (spec 5.4).
            unique_ids = list(dict.fromkeys(ids))
            canceled, not_canceled = _engine_cancel(lambda: exchange.cancel(record.api_key, unique_ids))
            return json_response(_cancel_body(canceled, not_canceled), headers=limit_headers)
        except Reject as rej:
            return rej.response(limit_headers)

    def cancel_precheck(record: ApiKeyRecord) -> None:
        decision = ctx.signer_limiter.precheck(record.address, SignerBucketKind.CANCEL, ctx.now_s())
        if not decision.allowed:
            raise Reject(ERR_TOO_MANY_REQUESTS, 429, headers=decision.headers)

    async def cancel_all(request: Request) -> Response:
        try:
            record = auth.l2(request, await request.body())
            cancel_precheck(record)
            canceled, not_canceled = _engine_cancel(lambda: exchange.cancel_all(record.api_key))
        except Reject as rej:
            return rej.response()
        # Charged after the fact: 1 + the number actually cancelled (spec 7(b)).
        headers = ctx.signer_limiter.debit(
            record.address, SignerBucketKind.CANCEL, 1 + len(canceled), ctx.now_s()
        )
        return json_response(_cancel_body(canceled, not_canceled), headers=headers)

    async def cancel_market_orders(request: Request) -> Response:
        try:
            body = await request.body()
            record = auth.l2(request, body)
            payload = parse_json(body) if body else {}
            if not isinstance(payload, dict):
                raise Reject(ERR_INVALID_PAYLOAD)
            market = payload.get("market") or None
            asset_id = payload.get("asset_id") or None
            if not all(v is None or isinstance(v, str) for v in (market, asset_id)):
                raise Reject(ERR_INVALID_PAYLOAD)
            if market is None and asset_id is None and ctx.config.cancel_market_requires_filter:
                # Spec 1.1 note: the current docs guide says "At least one filter is required".
                raise Reject(ERR_INVALID_PAYLOAD)
            cancel_precheck(record)
            # Neither filter (switch off): like cancel-all, as the older cancel page says.
            canceled, not_canceled = _engine_cancel(
                lambda: exchange.cancel_market(record.api_key, market=market, asset_id=asset_id)
            )
        except Reject as rej:
            return rej.response()
        headers = ctx.signer_limiter.debit(
            record.address, SignerBucketKind.CANCEL, 1 + len(canceled), ctx.now_s()
        )
        return json_response(_cancel_body(canceled, not_canceled), headers=headers)

    return [
        Route("/order", cancel_order, methods=["DELETE"]),
        Route("/orders", cancel_orders, methods=["DELETE"]),
        Route("/cancel-all", cancel_all, methods=["DELETE"]),
        Route("/cancel-market-orders", cancel_market_orders, methods=["DELETE"]),
    ]
