"""Trade records, their settlement lifecycle and their wire shapes (spec 1.2 `Trade`, 6.3 `trade`).

One trade per taker match, listing every maker order it met. It is MATCHED at once, then MINED and
CONFIRMED after configurable delays (both measured from the match); a trade marked to fail goes
MATCHED → MINED → FAILED and its balance movements are reversed by the engine.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.sim.wire import fmt_units, ms_string

__all__ = [
    "BalanceDelta",
    "MakerFillRecord",
    "TradeBook",
    "TradeRecord",
    "TRADE_CONFIRMED",
    "TRADE_FAILED",
    "TRADE_MATCHED",
    "TRADE_MINED",
]

TRADE_MATCHED = "MATCHED"
TRADE_MINED = "MINED"
TRADE_CONFIRMED = "CONFIRMED"
TRADE_FAILED = "FAILED"

TRADER_TAKER = "TAKER"
TRADER_MAKER = "MAKER"

# Legacy field, "0" in V2 trade messages (spec 9 "Fees (V2)").
_LEGACY_FEE_RATE_BPS = "0"


@dataclass(frozen=True)
class BalanceDelta:
    """One balance movement a trade caused; reversing the trade applies the negation."""

    address: str
    pusd_units: int = 0
    token_id: str | None = None
    token_units: int = 0


@dataclass(frozen=True)
class MakerFillRecord:
    """One maker order's part of a trade, in the maker's own token and price space."""

    order_id: str
    owner: str
    maker_address: str
    matched_units: int
    price_units: int
    asset_id: str
    outcome: str
    side: str

    def wire(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "owner": self.owner,
            "maker_address": self.maker_address,
            "matched_amount": fmt_units(self.matched_units),
            "price": fmt_units(self.price_units),
            "fee_rate_bps": _LEGACY_FEE_RATE_BPS,
            "asset_id": self.asset_id,
            "outcome": self.outcome,
            "side": self.side,
        }


@dataclass
class TradeRecord:
    """A taker match. Top-level asset/side/price/size describe the TAKER order (spec 6.3)."""

    trade_id: str
    taker_order_id: str
    market: str
    asset_id: str
    side: str
    size_units: int
    price_units: int  # volume-weighted execution price in the taker token's space
    outcome: str
    taker_owner: str
    taker_address: str
    match_time_s: float
    maker_fills: list[MakerFillRecord]
    deltas: list[BalanceDelta]
    taker_fee_units: int
    will_fail: bool = False
    status: str = TRADE_MATCHED
    last_update_s: float = 0.0
    transaction_hash: str = ""
    bucket_index: int = 0

    def maker_owners(self) -> list[str]:
        """Distinct owners of the maker orders, in first-fill order."""
        return list(dict.fromkeys(fill.owner for fill in self.maker_fills))

    def views(self) -> list[tuple[str, str, str]]:
        """(owner, trader_side, address) for everyone who sees this trade."""
        seen = [(self.taker_owner, TRADER_TAKER, self.taker_address)]
        for owner in self.maker_owners():
            address = next(fill.maker_address for fill in self.maker_fills if fill.owner == owner)
            seen.append((owner, TRADER_MAKER, address))
        return seen

    def rest(self, owner: str, trader_side: str, address: str) -> dict[str, Any]:
        """The `/data/trades` item as `owner` sees it (spec 1.2)."""
        return {
            "id": self.trade_id,
            "taker_order_id": self.taker_order_id,
            "market": self.market,
            "asset_id": self.asset_id,
            "side": self.side,
            "size": fmt_units(self.size_units),
            "fee_rate_bps": _LEGACY_FEE_RATE_BPS,
            "price": fmt_units(self.price_units),
            "status": self.status,
            "match_time": str(int(self.match_time_s)),
            "last_update": str(int(self.last_update_s)),
            "outcome": self.outcome,
            "bucket_index": self.bucket_index,
            "owner": owner,
            "maker_address": address,
            "transaction_hash": self.transaction_hash,
            "trader_side": trader_side,
            "maker_orders": [fill.wire() for fill in self.maker_fills],
        }

    def ws(self, owner: str, trader_side: str, address: str, now_s: float) -> dict[str, Any]:
        """The user-channel `trade` event as `owner` sees it (spec 6.3).

        Top-level `owner`, `trade_owner` and `maker_address` are the TAKER's whoever receives the event:
        in the real maker's view (ws/user_trade1.json, `trader_side: "MAKER"`) they are not the maker's
        own, which is only in its `maker_orders` entry (issue 15 §6). `owner`/`address` only pick the
        receiver (the hub routes by `UserData.owner`); they do not change the payload's top level.
        """
        del owner, address
        return {
            "event_type": "trade",
            "type": "TRADE",
            "id": self.trade_id,
            "taker_order_id": self.taker_order_id,
            "market": self.market,
            "asset_id": self.asset_id,
            "side": self.side,
            "size": fmt_units(self.size_units),
            "price": fmt_units(self.price_units),
            "fee_rate_bps": _LEGACY_FEE_RATE_BPS,
            "status": self.status,
            "match_time": str(int(self.match_time_s)),
            "last_update": str(int(self.last_update_s)),
            "outcome": self.outcome,
            "owner": self.taker_owner,
            "trade_owner": self.taker_owner,
            "maker_address": self.taker_address,
            "transaction_hash": self.transaction_hash,
            "bucket_index": self.bucket_index,
            "trader_side": trader_side,
            "timestamp": ms_string(now_s),
            "maker_orders": [fill.wire() for fill in self.maker_fills],
        }

    def involves_asset(self, owner: str, asset_id: str) -> bool:
        if self.taker_owner == owner and self.asset_id == asset_id:
            return True
        return any(fill.owner == owner and fill.asset_id == asset_id for fill in self.maker_fills)


@dataclass(order=True)
class _Due:
    at_s: float
    seq: int
    trade_id: str = field(compare=False)


class TradeBook:
    """All trades, indexed by owner, with the pending lifecycle steps on a heap."""

    def __init__(
        self, *, mined_delay_s: float, confirmed_delay_s: float, new_tx_hash: Callable[[], str]
    ) -> None:
        self._mined_delay_s = mined_delay_s
        self._confirmed_delay_s = max(confirmed_delay_s, mined_delay_s)
        self._new_tx_hash = new_tx_hash
        self._trades: dict[str, TradeRecord] = {}
        self._by_owner: defaultdict[str, list[str]] = defaultdict(list)
        self._due: list[_Due] = []
        self._seq = 0
        self._counts: defaultdict[str, int] = defaultdict(int)

    def __repr__(self) -> str:
        return f"<TradeBook trades={len(self._trades)} pending={len(self._due)}>"

    def add(self, trade: TradeRecord) -> None:
        trade.last_update_s = trade.match_time_s
        self._trades[trade.trade_id] = trade
        for owner, _side, _address in trade.views():
            if trade.trade_id not in self._by_owner[owner][-1:]:
                self._by_owner[owner].append(trade.trade_id)
        self._schedule(trade.trade_id, trade.match_time_s + self._mined_delay_s)
        self._counts[TRADE_MATCHED] += 1

    def _schedule(self, trade_id: str, at_s: float) -> None:
        self._seq += 1
        heapq.heappush(self._due, _Due(at_s, self._seq, trade_id))

    def get(self, trade_id: str) -> TradeRecord | None:
        return self._trades.get(trade_id)

    def for_owner(self, owner: str) -> list[TradeRecord]:
        return [self._trades[trade_id] for trade_id in self._by_owner.get(owner, ())]

    def next_deadline(self) -> float | None:
        return self._due[0].at_s if self._due else None

    def advance(self, now_s: float, on_change: Callable[[TradeRecord], None]) -> None:
        """Apply every lifecycle step due by `now_s` in time order, calling `on_change` after each."""
        while self._due and self._due[0].at_s <= now_s:
            due = heapq.heappop(self._due)
            trade = self._trades[due.trade_id]
            if trade.status == TRADE_MATCHED:
                trade.status = TRADE_MINED
                if not trade.will_fail:
                    trade.transaction_hash = self._new_tx_hash()
                self._schedule(trade.trade_id, trade.match_time_s + self._confirmed_delay_s)
            elif trade.status == TRADE_MINED:
                trade.status = TRADE_FAILED if trade.will_fail else TRADE_CONFIRMED
            else:
                continue
            trade.last_update_s = due.at_s
            self._counts[trade.status] += 1
            on_change(trade)

    def statistics(self) -> dict[str, Any]:
        return {"trades": len(self._trades), "pending_steps": len(self._due), "by_status": dict(self._counts)}
