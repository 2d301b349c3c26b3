"""The venue's side of the story: what the simulator holds for our API key, read independently of the bot.

Guarantee checked here: the bot's books agree with the venue's. Our fills are taken from the venue's own
trade records (taker legs by `trader_side`, maker legs by `owner`), not through the bot's fill code, so a
bug there cannot hide itself. `VenueMonitor` watches the simulator's event stream and records, for our key,
how many orders rest per token at every instant, when the venue last became flat, and any resting order
placed at or after the cutoff.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.sim.model import SimEvent, UserData

__all__ = ["FillAudit", "FillKey", "VenueFill", "VenueMonitor", "audit_fills", "venue_fills"]

FillKey = tuple[str, str]  # (trade id, our order id): the unit the bot's inventory counts
_SHARES_TOLERANCE = 1e-6  # one wire unit: fills are exact decimals with 6 places
_TRADE_FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class VenueFill:
    """One of our executions as the venue records it."""

    token_id: str
    side: str
    shares: float
    status: str


def venue_fills(trades: Iterable[Mapping[str, Any]], owner: str) -> dict[FillKey, VenueFill]:
    """Our fills in the venue's `/data/trades` items: the taker leg when we were the taker, and every
    maker leg whose `owner` is our API key."""
    out: dict[FillKey, VenueFill] = {}
    for trade in trades:
        status = str(trade["status"])
        if trade.get("trader_side") == "TAKER" and trade.get("owner") == owner:
            out[(trade["id"], trade["taker_order_id"])] = VenueFill(
                trade["asset_id"], trade["side"], float(trade["size"]), status
            )
        for leg in trade.get("maker_orders") or ():
            if leg.get("owner") == owner:
                out[(trade["id"], leg["order_id"])] = VenueFill(
                    leg["asset_id"], leg["side"], float(leg["matched_amount"]), status
                )
    return out


@dataclass(slots=True)
class VenueMonitor:
    """Follows the simulator's events for one API key (resolved lazily: it exists once the bot has creds).

    - `max_per_token`: the most of our orders resting on one token at any instant;
    - `flat_since_s`: the trio time the venue last went from some of our orders to none (None while some rest);
    - `late_placements`: resting placements of ours at or after `cutoff_trio_s`;
    - `trade_status_at_s`: trade id -> (status, trio time) of the latest status the venue announced.
    """

    exchange: Any
    owner: Callable[[], str | None]
    now_s: Callable[[], float]
    cutoff_trio_s: float | None = None
    max_per_token: dict[str, int] = field(default_factory=dict)
    flat_since_s: float | None = 0.0
    late_placements: list[tuple[float, str]] = field(default_factory=list)
    trade_status_at_s: dict[str, tuple[str, float]] = field(default_factory=dict)
    open_now: int = 0

    def attach(self) -> Callable[[], None]:
        """Start listening; returns the function that stops it."""
        return self.exchange.subscribe(self._on_event)

    def _on_event(self, event: SimEvent) -> None:
        owner = self.owner()
        if owner is None or not isinstance(event, UserData) or event.owner != owner:
            return
        payload = event.payload
        now = self.now_s()
        if payload.get("event_type") == "trade":
            self.trade_status_at_s[payload["id"]] = (payload["status"], now)
            return
        if payload.get("type") == "PLACEMENT" and self.cutoff_trio_s is not None and now >= self.cutoff_trio_s:
            self.late_placements.append((now, payload["id"]))
        per_token: dict[str, int] = {}
        for order in self.exchange.open_orders(owner):
            per_token[order["asset_id"]] = per_token.get(order["asset_id"], 0) + 1
        for token, count in per_token.items():
            self.max_per_token[token] = max(self.max_per_token.get(token, 0), count)
        total = sum(per_token.values())
        if total == 0 and self.open_now > 0:
            self.flat_since_s = now
        elif total > 0:
            self.flat_since_s = None
        self.open_now = total


@dataclass(slots=True)
class FillAudit:
    checked: int = 0
    problems: list[str] = field(default_factory=list)


def audit_fills(
    *,
    counted: Mapping[FillKey, Any],
    positions: Mapping[str, float],
    venue: Mapping[FillKey, VenueFill],
    tokens: Iterable[str],
    seen_failed_until_s: float | None = None,
    failed_at_s: Mapping[str, float] | None = None,
    balances: Mapping[str, float] | None = None,
) -> FillAudit:
    """Every venue fill of ours counted exactly once, nothing else counted, and positions equal to the
    venue's record.

    A trade the venue failed only after the bot stopped listening (`failed_at_s[trade] >
    seen_failed_until_s`) could not have been reversed by the bot: it is expected as counted.
    `balances` (shares per token from the venue's accounts) are compared too when given.
    """
    audit = FillAudit()
    failed_at_s = failed_at_s or {}
    expected: dict[FillKey, VenueFill] = {}
    for key, fill in venue.items():
        late_failure = (
            fill.status == _TRADE_FAILED
            and seen_failed_until_s is not None
            and failed_at_s.get(key[0], 0.0) > seen_failed_until_s
        )
        if fill.status != _TRADE_FAILED or late_failure:
            expected[key] = fill
    audit.checked = len(venue)
    missing = sorted(set(expected) - set(counted))
    extra = sorted(set(counted) - set(expected))
    if missing:
        audit.problems.append(f"{len(missing)} venue fill(s) never counted, e.g. {_short(missing[0])}")
    if extra:
        audit.problems.append(f"{len(extra)} fill(s) counted that the venue does not hold, e.g. {_short(extra[0])}")
    for token in tokens:
        venue_shares = sum(
            (f.shares if f.side == "BUY" else -f.shares) for f in expected.values() if f.token_id == token
        )
        ours = positions.get(token, 0.0)
        if abs(ours - venue_shares) > _SHARES_TOLERANCE:
            audit.problems.append(f"token {token[:8]}: inventory {ours:g} shares, venue trades {venue_shares:g}")
        if balances is not None and not _any_failed(expected, venue):
            balance = balances.get(token, 0.0)
            if abs(balance - venue_shares) > _SHARES_TOLERANCE:
                audit.problems.append(f"token {token[:8]}: venue balance {balance:g} != venue trades {venue_shares:g}")
    return audit


def _any_failed(expected: Mapping[FillKey, VenueFill], venue: Mapping[FillKey, VenueFill]) -> bool:
    """True when some expected fill is a trade the venue has since failed (its balance is already reversed)."""
    return any(venue[key].status == _TRADE_FAILED for key in expected)


def _short(key: FillKey) -> str:
    return f"trade {key[0][:10]} order {key[1][:10]}"
