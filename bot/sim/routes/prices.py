"""Public pricing: midpoint(s), price(s), spread(s), last trade price(s), price history.

Paths and parameters: py-clob-client-v2 `endpoints.py` / `client.py` (`get_midpoint(s)`, `get_price(s)`,
`get_spread(s)`, `get_last_trade(s)_price(s)`, `get_prices_history`); batch forms take a JSON array of
`{"token_id": ..., "side": ...}` (client `_book_params_to_json`). Response shapes are the public docs'
(`{"mid"}`, `{"price"}`, `{"spread"}`, `{"price","side"}`, `{"history":[{"t","p"}]}`; batch: maps by
token id, or a list for last-trades-prices); not in the spec yet, so UNCONFIRMED in detail (see
docs/protocol/NOTES-simstrict.md). Prices are decimal strings; an empty side counts as bid 0 / ask 1,
like the market channel's best_bid_ask.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.protocol.constants import ERR_INVALID_PAYLOAD
from bot.sim.routes.common import (
    ERR_INVALID_TOKEN,
    ERR_NO_ORDERBOOK,
    ERR_PAYLOAD_LIMIT,
    Reject,
    RestContext,
    json_response,
    parse_json,
)
from bot.sim.wire import fmt_units, units_from_decimal

__all__ = ["price_routes"]

_SIDES = ("BUY", "SELL")
_UNIT = 1_000_000


def price_routes(ctx: RestContext) -> list[Route]:
    """The pricing routes (no auth)."""
    exchange = ctx.exchange

    def top(token_id: str) -> tuple[int, int]:
        if not token_id:
            raise Reject(ERR_INVALID_TOKEN)
        if exchange.market_by_token(token_id) is None:
            raise Reject(ERR_NO_ORDERBOOK, 404)
        book = exchange.book(token_id)
        bid = units_from_decimal(book["bids"][-1]["price"]) if book["bids"] else 0
        ask = units_from_decimal(book["asks"][-1]["price"]) if book["asks"] else _UNIT
        return bid, ask

    def mid(token_id: str) -> str:
        bid, ask = top(token_id)
        return fmt_units((bid + ask) // 2)

    def price(token_id: str, side: str) -> str:
        if side not in _SIDES:
            raise Reject(ERR_INVALID_PAYLOAD)
        bid, ask = top(token_id)
        # UNCONFIRMED which side BUY names; the simulator answers the best bid for BUY, the best ask for SELL.
        return fmt_units(bid if side == "BUY" else ask)

    def spread(token_id: str) -> str:
        bid, ask = top(token_id)
        return fmt_units(ask - bid)

    def last_trade(token_id: str) -> dict[str, str]:
        top(token_id)
        book = exchange.book(token_id)
        # The side of the last trade is not kept per token; the venue's default when none is "" (UNCONFIRMED).
        return {"price": book["last_trade_price"] or "0.5", "side": ""}

    async def params(request: Request) -> list[dict[str, Any]]:
        items = parse_json(await request.body())
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise Reject(ERR_INVALID_PAYLOAD)
        if len(items) > ctx.config.max_books:
            raise Reject(ERR_PAYLOAD_LIMIT)
        return items

    def known(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Like /books: unknown tokens are dropped silently.
        return [i for i in items if exchange.market_by_token(str(i.get("token_id") or "")) is not None]

    async def get_midpoint(request: Request) -> Response:
        try:
            return json_response({"mid": mid(request.query_params.get("token_id", ""))})
        except Reject as rej:
            return rej.response()

    async def post_midpoints(request: Request) -> Response:
        try:
            items = known(await params(request))
            return json_response({str(i["token_id"]): mid(str(i["token_id"])) for i in items})
        except Reject as rej:
            return rej.response()

    async def get_price(request: Request) -> Response:
        q = request.query_params
        try:
            return json_response({"price": price(q.get("token_id", ""), (q.get("side") or "").upper())})
        except Reject as rej:
            return rej.response()

    async def post_prices(request: Request) -> Response:
        try:
            out: dict[str, dict[str, str]] = {}
            for i in known(await params(request)):
                token, side = str(i["token_id"]), str(i.get("side") or "").upper()
                out.setdefault(token, {})[side] = price(token, side)
            return json_response(out)
        except Reject as rej:
            return rej.response()

    async def get_spread(request: Request) -> Response:
        try:
            return json_response({"spread": spread(request.query_params.get("token_id", ""))})
        except Reject as rej:
            return rej.response()

    async def post_spreads(request: Request) -> Response:
        try:
            items = known(await params(request))
            return json_response({str(i["token_id"]): spread(str(i["token_id"])) for i in items})
        except Reject as rej:
            return rej.response()

    async def get_last_trade_price(request: Request) -> Response:
        try:
            return json_response(last_trade(request.query_params.get("token_id", "")))
        except Reject as rej:
            return rej.response()

    async def post_last_trades_prices(request: Request) -> Response:
        try:
            items = known(await params(request))
            return json_response(
                [{"token_id": str(i["token_id"]), **last_trade(str(i["token_id"]))} for i in items]
            )
        except Reject as rej:
            return rej.response()

    async def get_prices_history(request: Request) -> Response:
        q = request.query_params
        token = q.get("market", "")
        if q.get("interval") is None and (q.get("startTs") is None or q.get("endTs") is None):
            return Reject(ERR_INVALID_PAYLOAD).response()
        try:
            top(token)
        except Reject as rej:
            return rej.response()
        # The simulator keeps no price series: the last trade, if any, is the one point (UNCONFIRMED).
        last = exchange.book(token)["last_trade_price"]
        history = [{"t": int(ctx.now_s()), "p": float(last)}] if last else []
        return json_response({"history": history})

    return [
        Route("/midpoint", get_midpoint, methods=["GET"]),
        Route("/midpoints", post_midpoints, methods=["POST"]),
        Route("/price", get_price, methods=["GET"]),
        Route("/prices", post_prices, methods=["POST"]),
        Route("/spread", get_spread, methods=["GET"]),
        Route("/spreads", post_spreads, methods=["POST"]),
        Route("/last-trade-price", get_last_trade_price, methods=["GET"]),
        Route("/last-trades-prices", post_last_trades_prices, methods=["POST"]),
        Route("/prices-history", get_prices_history, methods=["GET"]),
    ]
