"""Market discovery through the Gamma API: by condition id, by slug, or by recurring Up/Down series.

Spec section 8. Gamma returns `clobTokenIds` and `outcomes` as **JSON strings**; index i of one is
outcome i of the other (`["Up","Down"]`). Recurring crypto markets have predictable slugs
`{asset}-updown-{N}m-{window_start_unix}` with starts aligned to the window length, so the next
windows are found by computing their slugs rather than by listing everything. A market Gamma lists may
not be known to the CLOB yet (the hydration window): callers retry with backoff.

Errors are mapped once, at this edge (as httpx maps its transports' errors): whatever goes wrong with a
Gamma lookup (no answer in time, a transport failure, a non-2xx status, a body that is not JSON or not
the documented shape) reaches the caller as one `DiscoveryError`, never as a `ValueError` or an httpx
exception. One market object that cannot be traded is skipped with a warning; the rest of the answer
still counts.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from bot.engine.markets import MarketInfo
from bot.protocol.errors import OutcomeUnknown
from bot.protocol.rest import venue_deadline

__all__ = ["DiscoveryError", "GammaClient", "parse_gamma_market", "series_slugs", "series_window_s"]

log = logging.getLogger(__name__)


class DiscoveryError(Exception):
    """A Gamma lookup that gave nothing usable: no answer, a transport or HTTP error, or a malformed body.

    Transient by nature (Gamma sits behind a CDN): callers retry with backoff and never stop a market for it.
    """


def _json_list(value: Any, name: str) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise DiscoveryError(f"{name} is not a JSON list") from exc
        if isinstance(parsed, list):
            return parsed
    raise DiscoveryError(f"{name} is not a list")


def _ts(value: Any) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise DiscoveryError(f"bad timestamp {value!r}") from exc


def _slug_start(slug: str) -> float | None:
    tail = slug.rsplit("-", 1)[-1]
    return float(tail) if tail.isdigit() else None


def parse_gamma_market(d: Mapping[str, Any]) -> MarketInfo:
    """A Gamma market object → MarketInfo. Raises DiscoveryError when it cannot be traded."""
    if not isinstance(d, Mapping):
        raise DiscoveryError(f"a market is a {type(d).__name__}, not an object")
    try:
        cid = str(d["conditionId"])
        slug = str(d.get("slug", ""))
        tokens = [str(t) for t in _json_list(d.get("clobTokenIds"), "clobTokenIds")]
        outcomes = [str(o) for o in _json_list(d.get("outcomes", '["Up","Down"]'), "outcomes")]
    except KeyError as exc:
        raise DiscoveryError(f"missing {exc}") from None
    if len(tokens) != 2 or len(outcomes) != 2:
        raise DiscoveryError(f"market {slug or cid} is not binary")
    end_s = _ts(d.get("endDate"))
    if end_s is None:
        raise DiscoveryError(f"market {slug or cid} has no endDate")
    start_s = _ts(d.get("eventStartTime")) or _slug_start(slug) or _ts(d.get("startDate")) or end_s - 900.0
    # Up (or Yes) first: index i of clobTokenIds is outcomes[i].
    first_up = outcomes[0].lower() in ("up", "yes")
    up, down = (tokens[0], tokens[1]) if first_up else (tokens[1], tokens[0])
    fee = d.get("feeSchedule") or {}
    tick = d.get("orderPriceMinTickSize")
    fees_enabled = bool(d.get("feesEnabled", bool(fee)))
    return MarketInfo(
        condition_id=cid,
        slug=slug,
        up_token_id=up,
        down_token_id=down,
        start_s=start_s,
        end_s=end_s,
        tick_size=_tick_text(tick) if tick not in (None, "") else None,
        min_order_size_shares=float(d.get("orderMinSize") or 5.0),
        neg_risk=bool(d.get("negRisk", False)),
        fee_rate=float(fee.get("rate", 0.0)) if fees_enabled else 0.0,
        fee_exponent=float(fee.get("exponent", 1.0)),
        accepting_orders=bool(d.get("acceptingOrders", True)) and not bool(d.get("closed", False)),
        accepting_orders_since_s=_ts(d.get("acceptingOrdersTimestamp")),
        **_incentives(d, fee if fees_enabled else {}),
    )


def _incentives(d: Mapping[str, Any], fee: Mapping[str, Any]) -> dict[str, float]:
    """The market's reward terms and rebate share (spec 12.2/12.3); a malformed value is no pool."""
    try:
        rewards = d.get("clobRewards") or []
        rate = sum(float(r.get("rewardsDailyRate") or 0) for r in rewards if isinstance(r, Mapping))
        return {
            "rewards_max_spread_cents": float(d.get("rewardsMaxSpread") or 0),
            "rewards_min_size_shares": float(d.get("rewardsMinSize") or 0),
            "rewards_rate_per_day": rate,
            "maker_rebate_share": float(fee.get("rebateRate") or 0),
        }
    except (TypeError, ValueError, AttributeError):
        log.warning("malformed reward terms on market %s; treated as no pool", d.get("slug"))
        return {}


def _tick_text(value: Any) -> str:
    text = f"{float(value):.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def series_window_s(series: str, paper_window_s: float | None) -> float:
    """Real window of a series `{asset}-updown-{N}m` (the paper simulator compresses it)."""
    minutes = int(series.rsplit("-", 1)[-1][:-1])
    return paper_window_s if paper_window_s is not None else minutes * 60.0


def series_slugs(series: str, now_s: float, window_s: float, ahead: int = 2) -> list[str]:
    """Slugs of the current window and the next `ahead - 1`, starts aligned to the window length."""
    start = math.floor(now_s / window_s) * window_s
    return [f"{series}-{int(start + k * window_s)}" for k in range(ahead)]


class GammaClient:
    """Read-only Gamma lookups on one `httpx.AsyncClient` (transport seam for tests and paper mode)."""

    def __init__(self, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None, timeout_s: float = 5.0) -> None:
        # Deadlines are Trio scopes (venue_deadline), not httpx timeouts.
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=None)
        self._timeout_s = timeout_s

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, params: Mapping[str, Any]) -> Any:
        """The decoded JSON body of `GET path`; DiscoveryError for every way that can fail."""
        try:
            with venue_deadline(self._timeout_s, f"GET gamma {path}"):
                response = await self._http.get(path, params=params)
            response.raise_for_status()
            # A CDN error page arrives as a 200 with HTML: `json()` raises ValueError (UnicodeDecodeError
            # and JSONDecodeError are both ValueErrors).
            return response.json()
        except (httpx.HTTPError, OutcomeUnknown, OSError, ValueError) as exc:
            raise DiscoveryError(f"GET gamma {path}: {type(exc).__name__}: {exc}") from exc

    async def markets_by_slug(self, slugs: Sequence[str]) -> list[MarketInfo]:
        """Every listed market among `slugs` (a slug Gamma does not know is simply absent).

        Raises DiscoveryError when any lookup fails: a partial answer would look like "not listed yet".
        """
        found: list[MarketInfo] = []
        for slug in slugs:
            found.extend(self._parse_list(await self._get("/markets", {"slug": slug})))
        return found

    async def market_by_condition(self, condition_id: str) -> MarketInfo | None:
        body = await self._get("/markets", {"condition_ids": condition_id})
        markets = self._parse_list(body)
        return markets[0] if markets else None

    async def series_markets(self, series: str, now_s: float, window_s: float, ahead: int = 2) -> list[MarketInfo]:
        return await self.markets_by_slug(series_slugs(series, now_s, window_s, ahead))

    @staticmethod
    def _parse_list(body: Any) -> list[MarketInfo]:
        """Markets of a `/markets` answer: a JSON list, or an object whose `data` is one."""
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise DiscoveryError(f"gamma answered a {type(body).__name__} that holds no list of markets")
        out: list[MarketInfo] = []
        for item in items:
            try:
                out.append(parse_gamma_market(item))
            except DiscoveryError as exc:
                log.warning("skipping gamma market: %s", exc)
        return out
