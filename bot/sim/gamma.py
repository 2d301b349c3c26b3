"""Gamma-like market discovery for the simulator: `GET /markets` and `GET /events` in Gamma's shapes.

Spec: docs/protocol/polymarket-clob.md section 8. Field names are camelCase; `clobTokenIds`,
`outcomes` and `outcomePrices` are **JSON-encoded strings** (not arrays); times are RFC 3339 UTC;
`orderPriceMinTickSize` is a number that may lag the CLOB's tick (trust the CLOB). Closed markets are
hidden unless `closed=true` is asked for (the default since Apr 9, 2026). Responses carry Gamma's CDN
cache header; the simulator itself never caches.

The app is mounted under its own base URL (`…/gamma`); the bot is pointed at it with BOT_GAMMA_URL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.protocol.constants import COLLATERAL_PUSD
from bot.sim.model import MarketSpec

if TYPE_CHECKING:
    from bot.sim.engine import Exchange

__all__ = ["MarketState", "build_gamma_app", "event_object", "gamma_market_object", "market_state", "rfc3339"]

# source: spec 8 ("CDN-cached (`cache-control: public, max-age=300`)")
_CACHE_CONTROL = "public, max-age=300"
# source: NT gamma_market_crypto_twap.json (feeType of crypto markets; maker rebate 20% per spec 9 fees)
_FEE_TYPE = "crypto_fees"
_LEGACY_BASE_FEE_BPS = 1000  # spec 8 makerBaseFee/takerBaseFee "1000 = legacy bps"


def rfc3339(ts: float) -> str:
    """Unix seconds as Gamma prints them: `2026-08-22T16:05:00Z` (microseconds only when non-zero)."""
    moment = datetime.fromtimestamp(ts, tz=UTC)
    text = moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class MarketState:
    """The time-dependent view of one market the fronts print (tick, accepting, active/closed, prices)."""

    tick_size: str
    accepting_orders: bool
    active: bool
    closed: bool
    prices: tuple[float, float]
    end_iso: str
    accepting_orders_iso: str | None


def _mid(book: dict[str, Any]) -> float | None:
    bids, asks = book.get("bids") or [], book.get("asks") or []
    if not bids or not asks:
        return None
    # Best level is the LAST element of each side (spec 1.3).
    return (float(bids[-1]["price"]) + float(asks[-1]["price"])) / 2


def market_state(exchange: Exchange, spec: MarketSpec, now_s: float) -> MarketState:
    """Current tick, order acceptance and display prices of `spec` at `now_s`."""
    tick = exchange.tick_size(spec.yes_token_id)
    closed = exchange.is_closed(spec.condition_id)
    accepting = exchange.accepting_orders(spec.condition_id)
    mid = _mid(exchange.book(spec.yes_token_id))
    up = round(mid, 4) if mid is not None else 0.5
    return MarketState(
        tick_size=tick,
        accepting_orders=accepting,
        active=True,
        closed=closed,
        prices=(up, round(1 - up, 4)),
        end_iso=rfc3339(spec.end_ts),
        # From when the venue takes its orders: its accepting time, or its listing if that came later
        # (a market listed when the simulator started cannot have taken orders before).
        accepting_orders_iso=rfc3339(exchange.accepting_from_s(spec.condition_id))
        if spec.accepting_orders_ts is not None
        else None,
    )


def _gamma_id(condition_id: str) -> str:
    # Gamma ids are small decimal strings; stable per market.
    return str(int.from_bytes(hashlib.sha256(condition_id.encode()).digest()[:3], "big"))


def _json_string(values: Iterable[Any]) -> str:
    # Gamma's encoding: Python-json style with ", " separators, e.g. "[\"Up\", \"Down\"]".
    return json.dumps([str(v) for v in values])


def gamma_market_object(exchange: Exchange, spec: MarketSpec, now_s: float) -> dict[str, Any]:
    """One market in Gamma's camelCase shape (spec 8 field list)."""
    state = market_state(exchange, spec, now_s)
    fees_enabled = spec.fee_rate > 0
    listed_s = spec.accepting_orders_ts if spec.accepting_orders_ts is not None else spec.start_ts
    return {
        "id": _gamma_id(spec.condition_id),
        "question": spec.question,
        "conditionId": spec.condition_id,
        "slug": spec.slug,
        "startDate": rfc3339(min(listed_s, spec.start_ts)),
        "endDate": rfc3339(spec.end_ts),
        "eventStartTime": rfc3339(spec.start_ts),
        "outcomes": _json_string(spec.outcomes),
        "outcomePrices": _json_string(f"{p:g}" for p in state.prices),
        "clobTokenIds": _json_string((spec.yes_token_id, spec.no_token_id)),
        "active": state.active,
        "closed": state.closed,
        "archived": False,
        "restricted": False,
        "acceptingOrders": state.accepting_orders,
        "acceptingOrdersTimestamp": state.accepting_orders_iso,
        "enableOrderBook": True,
        "orderPriceMinTickSize": float(state.tick_size),
        "orderMinSize": int(spec.min_order_size)
        if float(spec.min_order_size).is_integer()
        else spec.min_order_size,
        "negRisk": spec.neg_risk,
        "feesEnabled": fees_enabled,
        "feeType": _FEE_TYPE if fees_enabled else None,
        "feeSchedule": {
            "exponent": int(spec.fee_exponent)
            if float(spec.fee_exponent).is_integer()
            else spec.fee_exponent,
            "rate": spec.fee_rate,
            "takerOnly": True,
            "rebateRate": spec.maker_rebate_share if fees_enabled else 0,
        },
        # Spec 12.2: reward parameters on the market object (max spread in cents, min size in shares).
        "rewardsMinSize": spec.reward_min_size,
        "rewardsMaxSpread": spec.rewards_max_spread_cents,
        "clobRewards": [
            {"conditionId": spec.condition_id, "assetAddress": COLLATERAL_PUSD,
             "rewardsDailyRate": spec.rewards_rate_per_day}
        ]
        if spec.rewards_rate_per_day > 0
        else [],
        "makerBaseFee": _LEGACY_BASE_FEE_BPS if fees_enabled else 0,
        "takerBaseFee": _LEGACY_BASE_FEE_BPS if fees_enabled else 0,
        "umaResolutionStatus": "resolved" if state.closed else None,
        "resolutionSource": "https://data.chain.link/streams/btc-usd",
        "version": "v1",
    }


def event_object(exchange: Exchange, spec: MarketSpec, now_s: float) -> dict[str, Any]:
    """The event of a crypto Up/Down market: same slug as its one market (spec 8 slug pattern)."""
    market = gamma_market_object(exchange, spec, now_s)
    return {
        "id": market["id"],
        "ticker": spec.slug,
        "slug": spec.slug,
        "title": spec.question,
        "startDate": market["startDate"],
        "endDate": market["endDate"],
        "startTime": market["eventStartTime"],
        "active": market["active"],
        "closed": market["closed"],
        "archived": False,
        "restricted": False,
        "enableOrderBook": True,
        "negRisk": spec.neg_risk,
        "markets": [market],
    }


def _flag(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("true", "1", "yes")


def _multi(request: Request, name: str) -> set[str]:
    # Gamma accepts both repeated params and comma lists.
    values: set[str] = set()
    for raw in request.query_params.getlist(name):
        values.update(v.strip() for v in raw.split(",") if v.strip())
    return values


def _response(obj: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(obj),
        status_code=status,
        media_type="application/json",
        headers={"cache-control": _CACHE_CONTROL},
    )


def build_gamma_app(exchange: Exchange, *, now_s: Callable[[], float]) -> Starlette:
    """The discovery app: `/markets`, `/markets/{id}`, `/events`, `/events/slug/{slug}`."""

    def select(request: Request) -> list[MarketSpec]:
        slugs = _multi(request, "slug")
        condition_ids = {c.lower() for c in _multi(request, "condition_ids")}
        token_ids = _multi(request, "clob_token_ids")
        active = _flag(request.query_params.get("active"))
        closed = _flag(request.query_params.get("closed"))
        now = now_s()
        chosen = []
        for spec in exchange.markets():
            if slugs and spec.slug not in slugs:
                continue
            if condition_ids and spec.condition_id.lower() not in condition_ids:
                continue
            if token_ids and not token_ids & {spec.yes_token_id, spec.no_token_id}:
                continue
            # `closed` defaults to false: closed markets only when asked for (spec 8).
            if (now >= spec.end_ts) != bool(closed):
                continue
            if active is False:  # every listed simulator market is active
                continue
            chosen.append(spec)
        chosen.sort(key=lambda s: (s.start_ts, s.slug))
        limit_text = request.query_params.get("limit", "")
        offset_text = request.query_params.get("offset", "")
        offset = int(offset_text) if offset_text.isdigit() else 0
        limit = int(limit_text) if limit_text.isdigit() else None
        return chosen[offset : None if limit is None else offset + limit]

    async def markets(request: Request) -> Response:
        now = now_s()
        return _response([gamma_market_object(exchange, spec, now) for spec in select(request)])

    async def market_by_id(request: Request) -> Response:
        wanted = request.path_params["market_id"]
        now = now_s()
        for spec in exchange.markets():
            if _gamma_id(spec.condition_id) == wanted or spec.condition_id == wanted:
                return _response(gamma_market_object(exchange, spec, now))
        return _response({"type": "not found error", "error": "id not found"}, 404)

    async def events(request: Request) -> Response:
        now = now_s()
        return _response([event_object(exchange, spec, now) for spec in select(request)])

    async def event_by_slug(request: Request) -> Response:
        wanted = request.path_params["slug"]
        now = now_s()
        for spec in exchange.markets():
            if spec.slug == wanted:
                return _response(event_object(exchange, spec, now))
        return _response({"type": "not found error", "error": "not found"}, 404)

    return Starlette(
        routes=[
            Route("/markets", markets, methods=["GET"]),
            Route("/markets/{market_id}", market_by_id, methods=["GET"]),
            Route("/events", events, methods=["GET"]),
            Route("/events/slug/{slug}", event_by_slug, methods=["GET"]),
        ]
    )
