"""Market lists, liquidity-reward configs and order scoring.

Paths and parameters: py-clob-client-v2 `endpoints.py` / `client.py` (`get_markets`,
`get_sampling_markets`, `get_simplified_markets`, `get_sampling_simplified_markets`,
`get_current_rewards`, `get_raw_rewards_for_market`, `is_order_scoring`, `are_orders_scoring`); lists
are cursor pages (spec 1, `MA==` … `LTE=`). Scoring: spec 1.1 (`{"scoring": bool}` / `{id: bool}`) and
12.2 (an order scores while it rests within the market's max spread of the midpoint, at least the min
size, after a minimum rest of 3.5 s). The reward numbers of a simulated market are the simulator's
(UNCONFIRMED shapes of the reward objects; docs/protocol/NOTES-simstrict.md).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.protocol.constants import ERR_INVALID_PAYLOAD
from bot.sim.model import MarketSpec
from bot.sim.routes.account import page
from bot.sim.routes.auth import Authenticator
from bot.sim.routes.common import Reject, RestContext, json_response, num, parse_json
from bot.sim.routes.markets import market_body
from bot.sim.wire import units_from_decimal

__all__ = ["listing_routes"]

# Spec 12.2: "An order must have rested a minimum time to score (3.5 s in the one notice that states it)".
SCORING_MIN_REST_S = 3.5
# The simulator's reward config of every market (UNCONFIRMED values): max spread in cents, no pool.
REWARDS_MAX_SPREAD_CENTS = 3.5
REWARDS_DAILY_RATE = 0


def _rewards(spec: MarketSpec) -> dict[str, Any]:
    return {"rates": None, "min_size": num(spec.min_order_size), "max_spread": REWARDS_MAX_SPREAD_CENTS}


def listing_routes(ctx: RestContext, auth: Authenticator) -> list[Route]:
    """Market lists (public), reward configs (public) and order scoring (L2)."""
    exchange = ctx.exchange

    def markets() -> list[MarketSpec]:
        return list(exchange.markets())

    def full(spec: MarketSpec) -> dict[str, Any]:
        return {**market_body(ctx, spec), "rewards": _rewards(spec)}

    def simplified(spec: MarketSpec) -> dict[str, Any]:
        body = market_body(ctx, spec)
        keys = ("condition_id", "tokens", "active", "closed", "archived", "accepting_orders")
        return {**{k: body[k] for k in keys}, "rewards": _rewards(spec)}

    def reward_config(spec: MarketSpec) -> dict[str, Any]:
        return {
            "condition_id": spec.condition_id,
            "rewards_max_spread": REWARDS_MAX_SPREAD_CENTS,
            "rewards_min_size": num(spec.min_order_size),
            "rewards_config": [
                {
                    "asset_address": "",
                    "start_date": "",
                    "end_date": "",
                    "rate_per_day": REWARDS_DAILY_RATE,
                    "total_rewards": 0,
                }
            ],
        }

    def paged(build: Any, *, sampling: bool = False):
        async def handler(request: Request) -> Response:
            # Sampling lists are the markets currently eligible for rewards: those accepting orders.
            specs = [s for s in markets() if not sampling or full(s)["accepting_orders"]]
            try:
                return json_response(
                    page(ctx, [build(s) for s in specs], request.query_params.get("next_cursor"))
                )
            except Reject as rej:
                return rej.response()

        return handler

    async def rewards_for_market(request: Request) -> Response:
        spec = exchange.market_by_condition(request.path_params["condition_id"])
        items = [reward_config(spec)] if spec is not None else []
        try:
            return json_response(page(ctx, items, request.query_params.get("next_cursor")))
        except Reject as rej:
            return rej.response()

    def scoring(api_key: str, order_id: str) -> bool:
        order = exchange.get_order(api_key, order_id)  # finished orders too: they answer False
        if order is None or order["status"] != "LIVE":
            return False
        if ctx.now_s() - order["created_at"] < SCORING_MIN_REST_S:
            return False
        spec = exchange.market_by_token(order["asset_id"])
        if spec is None:
            return False
        remaining = units_from_decimal(order["original_size"]) - units_from_decimal(order["size_matched"])
        if remaining < units_from_decimal(spec.min_order_size):
            return False
        book = exchange.book(order["asset_id"])
        if not book["bids"] or not book["asks"]:
            return False
        mid = (
            units_from_decimal(book["bids"][-1]["price"]) + units_from_decimal(book["asks"][-1]["price"])
        ) / 2
        distance_cents = abs(units_from_decimal(order["price"]) - mid) / 10_000
        return distance_cents <= REWARDS_MAX_SPREAD_CENTS

    async def order_scoring(request: Request) -> Response:
        try:
            record = auth.l2(request, await request.body())
        except Reject as rej:
            return rej.response()
        order_id = request.query_params.get("order_id") or ""
        return json_response({"scoring": scoring(record.api_key, order_id)})

    async def orders_scoring(request: Request) -> Response:
        try:
            body = await request.body()
            record = auth.l2(request, body)
            ids = parse_json(body)
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise Reject(ERR_INVALID_PAYLOAD)
        except Reject as rej:
            return rej.response()
        return json_response({i: scoring(record.api_key, i) for i in ids})

    return [
        Route("/markets", paged(full), methods=["GET"]),
        Route("/sampling-markets", paged(full, sampling=True), methods=["GET"]),
        Route("/simplified-markets", paged(simplified), methods=["GET"]),
        Route("/sampling-simplified-markets", paged(simplified, sampling=True), methods=["GET"]),
        Route("/rewards/markets/current", paged(reward_config, sampling=True), methods=["GET"]),
        Route("/rewards/markets/{condition_id}", rewards_for_market, methods=["GET"]),
        Route("/order-scoring", order_scoring, methods=["GET"]),
        Route("/orders-scoring", orders_scoring, methods=["POST"]),
    ]
