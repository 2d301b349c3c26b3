"""Order placement: `POST /order` and `POST /orders`, from the SendOrder JSON to the engine.

Spec: docs/protocol/polymarket-clob.md §3 (the V2 order, EIP-712 hash = order id), §4 (order types),
§5 (errors and responses), §5.4 (batch answers) and §7(b) (per-signer limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.protocol.constants import (
    ERR_INVALID_PAYLOAD,
    ERR_ORDER_VERSION_MISMATCH,
    ERR_OWNER_MISMATCH,
    ERR_TOO_MANY_ORDERS_FMT,
    ORDER_TYPES,
)
from bot.sim.apikeys import ApiKeyRecord
from bot.sim.model import NewOrder, OrderRejected
from bot.sim.ratelimit import SignerBucketKind
from bot.sim.routes.auth import Authenticator
from bot.sim.routes.common import (
    Reject,
    RestContext,
    json_response,
    parse_json,
    reject_from_engine,
    signer_take,
    uint_text,
)
from bot.sim.wallets import WalletRejected

__all__ = ["decode_order", "order_routes", "verify_order_signature"]

# V1 order fields that V2 dropped, and V2 fields V1 lacked (spec 3.2, 3.5).
_V1_ONLY_FIELDS = frozenset({"taker", "nonce", "feeRateBps"})
_V2_REQUIRED_FIELDS = frozenset({"timestamp", "metadata", "builder"})


def _is_v1_order(order: Mapping[str, Any]) -> bool:
    return bool(_V1_ONLY_FIELDS & order.keys()) or not _V2_REQUIRED_FIELDS <= order.keys()


def verify_order_signature(ctx: RestContext, order: Mapping[str, Any], record: ApiKeyRecord) -> str:
    """The order id (EIP-712 hash, spec 3.3) of an order whose signature the venue would accept.

    The one place the simulator judges who may sign an order for which maker; Reject with the venue's
    text otherwise (signer not the key's address, malformed order, signature by someone else).
    """
    token_id = order.get("tokenId")
    if not isinstance(token_id, str):
        raise Reject(ERR_INVALID_PAYLOAD)
    spec = ctx.exchange.market_by_token(token_id)
    neg_risk = bool(spec.neg_risk) if spec is not None else False
    try:  # every wallet kind's rules: bot.sim.wallets
        return ctx.exchange.wallets.verify_order(
            order, record.address, neg_risk=neg_risk, chain_id=ctx.config.chain_id,
            verify_signatures=ctx.config.verify_order_signatures,
        )
    except WalletRejected as exc:
        raise Reject(exc.message, exc.status) from None


def decode_order(ctx: RestContext, item: Any, record: ApiKeyRecord) -> NewOrder:
    """A validated NewOrder from one SendOrder object; Reject with the venue's text otherwise."""
    if not isinstance(item, dict) or not isinstance(item.get("order"), dict):
        raise Reject(ERR_INVALID_PAYLOAD)
    order = item["order"]
    if _is_v1_order(order):
        raise Reject(ERR_ORDER_VERSION_MISMATCH)
    owner = item.get("owner")
    order_type = item.get("orderType", "GTC")
    post_only = item.get("postOnly", False)
    defer_exec = item.get("deferExec", False)
    if not isinstance(owner, str) or order_type not in ORDER_TYPES:
        raise Reject(ERR_INVALID_PAYLOAD)
    if not isinstance(post_only, bool) or not isinstance(defer_exec, bool):
        raise Reject(ERR_INVALID_PAYLOAD)
    if owner != record.api_key:
        raise Reject(ERR_OWNER_MISMATCH)
    order_id = verify_order_signature(ctx, order, record)
    maker = order.get("maker")
    if not isinstance(maker, str):
        raise Reject(ERR_INVALID_PAYLOAD)
    return NewOrder(
        order_id=order_id,
        owner=owner,
        maker_address=maker,
        signer=order["signer"],
        token_id=order["tokenId"],
        side=order["side"],
        maker_amount=uint_text(order.get("makerAmount")),
        taker_amount=uint_text(order.get("takerAmount")),
        order_type=order_type,
        post_only=post_only,
        expiration=uint_text(order.get("expiration", "0")),
        timestamp_ms=uint_text(order.get("timestamp")),
    )


def order_routes(ctx: RestContext, auth: Authenticator) -> list[Route]:
    """`POST /order` and `POST /orders`."""

    def place(new: NewOrder) -> dict[str, Any]:
        try:
            result = ctx.exchange.place(new)
        except OrderRejected as exc:
            raise reject_from_engine(exc, new.order_id) from None
        return {
            "success": True,
            "orderID": result.order_id,
            "status": result.status,
            "makingAmount": result.making_amount,
            "takingAmount": result.taking_amount,
            "transactionsHashes": [],
            "tradeIDs": list(result.trade_ids),
            "errorMsg": "",
        }

    async def post_order(request: Request) -> Response:
        limit_headers: Mapping[str, str] = {}
        try:
            body = await request.body()
            record = auth.l2(request, body)
            item = parse_json(body)
            limit_headers = signer_take(ctx, record, SignerBucketKind.ORDER, 1)
            return json_response(place(decode_order(ctx, item, record)), headers=limit_headers)
        except Reject as rej:
            return rej.response(limit_headers)

    async def post_orders(request: Request) -> Response:
        limit_headers: Mapping[str, str] = {}
        try:
            body = await request.body()
            record = auth.l2(request, body)
            items = parse_json(body)
            if not isinstance(items, list) or not items:
                raise Reject(ERR_INVALID_PAYLOAD)
            if len(items) > ctx.config.max_orders_per_batch:
                raise Reject(
                    ERR_TOO_MANY_ORDERS_FMT.format(n=len(items), max=ctx.config.max_orders_per_batch)
                )
            if any(
                isinstance(i, dict) and isinstance(i.get("order"), dict) and _is_v1_order(i["order"])
                for i in items
            ):
                raise Reject(ERR_ORDER_VERSION_MISMATCH)
            limit_headers = signer_take(ctx, record, SignerBucketKind.ORDER, len(items))
            results = []
            for item in items:
                try:
                    results.append(place(decode_order(ctx, item, record)))
                except Reject as rej:
                    if rej.status in (425, 503) and rej.extra.get("code") is None:
                        # Restart / cancel-only / disabled refuse the whole request (spec 5.4).
                        raise
                    results.append(
                        {
                            "errorMsg": rej.message,
                            "orderID": "",
                            "takingAmount": "",
                            "makingAmount": "",
                            "status": "",
                            "success": True,
                        }
                    )
            return json_response(results, headers=limit_headers)
        except Reject as rej:
            return rej.response(limit_headers)

    return [
        Route("/order", post_order, methods=["POST"]),
        Route("/orders", post_orders, methods=["POST"]),
    ]
