"""Public market data: health, time, tick size, neg risk, fee rate, market lookups, books.

Spec: docs/protocol/polymarket-clob.md §1.1 (public endpoints and shapes) and §1.3 (token errors).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.protocol.constants import ERR_INVALID_PAYLOAD
from bot.sim.gamma import market_state
from bot.sim.model import MarketSpec
from bot.sim.routes.common import (
    ERR_INVALID_TOKEN,
    ERR_MARKET_NOT_FOUND,
    ERR_NO_ORDERBOOK,
    ERR_PAYLOAD_LIMIT,
    LEGACY_BASE_FEE_BPS,
    Reject,
    RestContext,
    error_response,
    json_response,
    num,
    parse_json,
)

__all__ = ["market_body", "market_routes"]


def market_body(ctx: RestContext, spec: MarketSpec) -> dict[str, Any]:
    """`GET /markets/{condition_id}`'s object (spec 1.1), also the items of the market lists."""
    state = market_state(ctx.exchange, spec, ctx.now_s())
    fee = LEGACY_BASE_FEE_BPS if spec.fee_rate > 0 else 0
    return {
        "enable_order_book": True,
        "active": state.active,
        "closed": state.closed,
        "archived": False,
        "accepting_orders": state.accepting_orders,
        "accepting_order_timestamp": state.accepting_orders_iso,
        "minimum_order_size": num(spec.min_order_size),
        "minimum_tick_size": float(state.tick_size),
        "condition_id": spec.condition_id,
        "question_id": spec.condition_id,
        "question": spec.question,
        "description": spec.question,
        "market_slug": spec.slug,
        "end_date_iso": state.end_iso,
        "game_start_time": None,
        "seconds_delay": 0,
        "fpmm": "",
        "maker_base_fee": fee,
        "taker_base_fee": fee,
        "notifications_enabled": False,
        "neg_risk": spec.neg_risk,
        "neg_risk_market_id": "",
        "neg_risk_request_id": "",
        "is_50_50_outcome": False,
        "tokens": [
            {
                "token_id": spec.yes_token_id,
                "outcome": spec.outcomes[0],
                "price": state.prices[0],
                "winner": False,
            },
            {
                "token_id": spec.no_token_id,
                "outcome": spec.outcomes[1],
                "price": state.prices[1],
                "winner": False,
            },
        ],
        "tags": ["Crypto"],
    }


def market_routes(ctx: RestContext) -> list[Route]:
    """The unauthenticated market-data routes."""
    exchange = ctx.exchange

    async def ok(request: Request) -> Response:
        return json_response("OK")

    async def time(request: Request) -> Response:
        # A bare integer of unix seconds (SDKs use it directly as POLY_TIMESTAMP).
        return json_response(int(ctx.now_s()))

    async def version(request: Request) -> Response:
        return json_response({"version": 2})

    def token_param(request: Request) -> str:
        token_id = request.path_params.get("token_id") or request.query_params.get("token_id")
        if not token_id:
            raise Reject(ERR_INVALID_TOKEN)
        if exchange.market_by_token(token_id) is None:
            raise Reject(ERR_MARKET_NOT_FOUND, 404)
        return token_id

    async def tick_size(request: Request) -> Response:
        try:
            token_id = token_param(request)
        except Reject as rej:
            return rej.response()
        return json_response({"minimum_tick_size": float(exchange.tick_size(token_id))})

    async def neg_risk(request: Request) -> Response:
        try:
            token_id = token_param(request)
        except Reject as rej:
            return rej.response()
        return json_response({"neg_risk": bool(exchange.neg_risk(token_id))})

    async def fee_rate(request: Request) -> Response:
        try:
            token_id = token_param(request)
        except Reject as rej:
            return rej.response()
        spec = exchange.market_by_token(token_id)
        return json_response({"base_fee": LEGACY_BASE_FEE_BPS if spec.fee_rate > 0 else 0})

    async def clob_market(request: Request) -> Response:
        spec = exchange.market_by_condition(request.path_params["condition_id"])
        if spec is None:
            return error_response(ERR_MARKET_NOT_FOUND, 404)
        state = market_state(exchange, spec, ctx.now_s())
        fee_enabled = spec.fee_rate > 0
        base_fee = LEGACY_BASE_FEE_BPS if fee_enabled else 0
        return json_response(
            {
                "c": spec.condition_id,
                "t": [
                    {"t": spec.yes_token_id, "o": spec.outcomes[0]},
                    {"t": spec.no_token_id, "o": spec.outcomes[1]},
                ],
                "mts": float(state.tick_size),
                "mos": num(spec.min_order_size),
                "nr": spec.neg_risk,
                "fd": {"r": num(spec.fee_rate), "e": num(spec.fee_exponent), "to": True},
                "mbf": base_fee,
                "tbf": base_fee,
                "ao": state.accepting_orders,
                "sd": 0,
                "itode": spec.taker_delay_s > 0,
            }
        )

    async def market_by_token(request: Request) -> Response:
        spec = exchange.market_by_token(request.path_params["token_id"])
        if spec is None:
            return error_response(ERR_MARKET_NOT_FOUND, 404)
        token_id = request.path_params["token_id"]
        return json_response(
            {
                "condition_id": spec.condition_id,
                "primary_token_id": spec.yes_token_id,
                "secondary_token_id": spec.no_token_id,
                "token_id": token_id,
            }
        )

    async def market(request: Request) -> Response:
        spec = exchange.market_by_condition(request.path_params["condition_id"])
        if spec is None:
            return error_response(ERR_MARKET_NOT_FOUND, 404)
        return json_response(market_body(ctx, spec))

    async def book(request: Request) -> Response:
        token_id = request.query_params.get("token_id")
        if not token_id:
            return error_response(ERR_INVALID_TOKEN)
        if exchange.market_by_token(token_id) is None:
            return error_response(ERR_NO_ORDERBOOK, 404)
        return json_response(exchange.book(token_id))

    async def books(request: Request) -> Response:
        try:
            items = parse_json(await request.body())
        except Reject as rej:
            return rej.response()
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return error_response(ERR_INVALID_PAYLOAD)
        if len(items) > ctx.config.max_books:
            return error_response(ERR_PAYLOAD_LIMIT)
        tokens = {str(i.get("token_id")) for i in items if i.get("token_id")}
        known = sorted(t for t in tokens if exchange.market_by_token(t) is not None)
        # Order is not preserved and unknown tokens are dropped silently (spec 1.1); sorted by id here.
        return json_response([exchange.book(t) for t in known])

    return [
        Route("/", ok, methods=["GET"]),
        Route("/ok", ok, methods=["GET"]),
        Route("/time", time, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/tick-size", tick_size, methods=["GET"]),
        Route("/tick-size/{token_id}", tick_size, methods=["GET"]),
        Route("/neg-risk", neg_risk, methods=["GET"]),
        Route("/fee-rate", fee_rate, methods=["GET"]),
        Route("/clob-markets/{condition_id}", clob_market, methods=["GET"]),
        Route("/markets-by-token/{token_id}", market_by_token, methods=["GET"]),
        Route("/markets/{condition_id}", market, methods=["GET"]),
        Route("/book", book, methods=["GET"]),
        Route("/books", books, methods=["POST"]),
    ]
