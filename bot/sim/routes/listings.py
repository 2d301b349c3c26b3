"""Market lists, liquidity-reward configs, order scoring and the rewards a maker accrued.

Paths and parameters: py-clob-client-v2 `endpoints.py` / `client.py` (`get_markets`,
`get_sampling_markets`, `get_simplified_markets`, `get_sampling_simplified_markets`,
`get_current_rewards`, `get_raw_rewards_for_market`, `is_order_scoring`, `are_orders_scoring`,
`get_earnings_for_user_for_day`, `get_total_earnings_for_user_for_day`, `get_reward_percentages`,
`get_user_earnings_and_markets_config`); lists are cursor pages (spec 1, `MA==` … `LTE=`).
Scoring: spec 1.1 (`{"scoring": bool}` / `{id: bool}`) and 12.2; the answer is the reward sampler's own
(`bot/sim/rewards.py`): an order scores when a sample taken now would give it a positive score. The
reward objects' field names follow the client's callers and public notes; their exact shapes are
UNCONFIRMED. Rebates (spec 12.3) ride on `/rewards/user/markets` items as `maker_rebates`, a simulator
extension (the venue pays them daily; no client method reads them).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.protocol.constants import COLLATERAL_PUSD, ERR_INVALID_PAYLOAD
from bot.sim.model import MarketSpec
from bot.sim.rewards import MarketEpoch, epoch_date
from bot.sim.routes.account import page
from bot.sim.routes.auth import Authenticator
from bot.sim.routes.common import Reject, RestContext, json_response, num, parse_json
from bot.sim.routes.markets import market_body

__all__ = ["listing_routes"]

# Reward amounts on the wire: pUSD with 6 decimals, as numbers (UNCONFIRMED: the venue's precision).
_EARNINGS_DECIMALS = 6


def _rewards(spec: MarketSpec) -> dict[str, Any]:
    rates = None
    if spec.rewards_rate_per_day > 0:
        rates = [{"asset_address": COLLATERAL_PUSD, "rewards_daily_rate": spec.rewards_rate_per_day}]
    return {"rates": rates, "min_size": num(spec.reward_min_size), "max_spread": spec.rewards_max_spread_cents}


def _pusd(units: Fraction) -> float:
    return round(float(units) / 1_000_000, _EARNINGS_DECIMALS)


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
            "rewards_max_spread": spec.rewards_max_spread_cents,
            "rewards_min_size": num(spec.reward_min_size),
            "rewards_config": [
                {
                    "asset_address": COLLATERAL_PUSD,
                    "start_date": epoch_date(spec.accepting_orders_ts or spec.start_ts),
                    "end_date": epoch_date(spec.end_ts),
                    "rate_per_day": spec.rewards_rate_per_day,
                    "total_rewards": 0,
                }
            ]
            if spec.rewards_rate_per_day > 0
            else [],
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
        return exchange.order_scoring(api_key, order_id)  # the sampler's own rule

    def l2_get(handler: Any):
        async def wrapped(request: Request) -> Response:
            try:
                record = auth.l2(request, await request.body())
                addresses = exchange.incentives.addresses_of(record.api_key)
                address = exchange.address_for_key(record.api_key)
                if address is not None:
                    addresses.add(address)
                return json_response(handler(request, sorted(addresses)))
            except Reject as rej:
                return rej.response()

        return wrapped

    def date_of(request: Request) -> str:
        return request.query_params.get("date") or epoch_date(ctx.now_s())

    def earning_rows(date: str, addresses: list[str]) -> list[tuple[str, MarketEpoch]]:
        return [
            (address, epoch)
            for _d, epoch in exchange.incentives.epochs(date)
            for address in addresses
            if address in epoch.addresses()
        ]

    def user_earnings(request: Request, addresses: list[str]) -> dict[str, Any]:
        date = date_of(request)
        items = [
            {
                "date": date,
                "condition_id": epoch.spec.condition_id,
                "asset_address": COLLATERAL_PUSD,
                "maker_address": address,
                "earnings": _pusd(epoch.earnings_units(address)),
                "asset_rate": 1.0,
            }
            for address, epoch in earning_rows(date, addresses)
        ]
        return page(ctx, items, request.query_params.get("next_cursor"))

    def user_total(request: Request, addresses: list[str]) -> list[dict[str, Any]]:
        date = date_of(request)
        totals: dict[str, Fraction] = {}
        for address, epoch in earning_rows(date, addresses):
            totals[address] = totals.get(address, Fraction(0)) + epoch.earnings_units(address)
        return [
            {"date": date, "asset_address": COLLATERAL_PUSD, "maker_address": address,
             "earnings": _pusd(units), "asset_rate": 1.0}
            for address, units in totals.items()
        ]

    def user_percentages(request: Request, addresses: list[str]) -> dict[str, float]:
        # The latest sample's normalised share, in percent, per market the maker scored in.
        out: dict[str, float] = {}
        for address, epoch in earning_rows(epoch_date(ctx.now_s()), addresses):
            share = epoch.last_share.get(address)
            if share:
                out[epoch.spec.condition_id] = round(float(share) * 100, 6)
        return out

    def user_markets(request: Request, addresses: list[str]) -> dict[str, Any]:
        date = date_of(request)
        items = []
        for address, epoch in earning_rows(date, addresses):
            spec = epoch.spec
            body = market_body(ctx, spec)
            total_shares = sum(epoch.share_sum.values(), Fraction(0))
            mine = epoch.share_sum.get(address, Fraction(0))
            items.append(
                {
                    **reward_config(spec),
                    "question": spec.question,
                    "market_slug": spec.slug,
                    "event_slug": spec.slug,
                    "tokens": body["tokens"],
                    "maker_address": address,
                    # Mean Σ Q_min of the market per sample (how crowded its rewards are).
                    "market_competitiveness": round(float(epoch.q_total_sum / epoch.samples), 6)
                    if epoch.samples
                    else 0.0,
                    "earning_percentage": round(float(mine / total_shares) * 100, 6) if total_shares else 0.0,
                    "earnings": [
                        {"asset_address": COLLATERAL_PUSD, "earnings": _pusd(epoch.earnings_units(address)),
                         "asset_rate": 1.0}
                    ],
                    "maker_rebates": {
                        "fee_equivalent": _pusd(Fraction(epoch.fee_equivalent_units.get(address, 0))),
                        "rebates": _pusd(epoch.rebate_units(address)),
                    },
                }
            )
        return page(ctx, items, request.query_params.get("next_cursor"))

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
        Route("/rewards/user", l2_get(user_earnings), methods=["GET"]),
        Route("/rewards/user/total", l2_get(user_total), methods=["GET"]),
        Route("/rewards/user/percentages", l2_get(user_percentages), methods=["GET"]),
        Route("/rewards/user/markets", l2_get(user_markets), methods=["GET"]),
    ]
