"""One listed market of the simulator: its book, tick, window state, and the market-channel payloads
it publishes (spec 6.2): `book`, `price_change` (current schema, entries for BOTH tokens),
`best_bid_ask`, `last_trade_price`, `tick_size_change`, `new_market`, `market_resolved`.

Book changes of one exchange call are collected (`dirty` levels, `traded`) and summarised once at
the end of the call: one `price_change` for placements and cancels, fresh `book` snapshots after a
trade, and `best_bid_ask` wherever the top of book moved.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from bot.sim.book import BID, Fill, MirroredBook, SimOrder
from bot.sim.model import MarketSpec
from bot.sim.orders_wire import book_summary, top_of_book
from bot.sim.rules import tick_units
from bot.sim.wire import UNIT, fmt_units, ms_string, units_from_decimal

__all__ = ["SimMarket"]


def _gamma_id(text: str) -> str:
    # Gamma ids are small decimal strings; the same derivation as bot/sim/gamma.py keeps them equal.
    return str(int.from_bytes(hashlib.sha256(text.encode()).digest()[:3], "big"))


@dataclass
class SimMarket:
    """State of one market beside its spec. `closed`: past end_ts; `resolved`: orders were cancelled."""

    spec: MarketSpec
    listed_at_s: float
    tick: str = ""
    tick_units: int = 0
    min_size_units: int = 0
    book: MirroredBook = field(default_factory=MirroredBook)
    last_trade_units: dict[str, int] = field(default_factory=dict)
    closed: bool = False
    resolved: bool = False
    dirty: set[tuple[str, int]] = field(default_factory=set)  # (book side, Yes price) changed this call
    traded: bool = False
    last_bbo: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tick = self.tick or self.spec.tick_size
        self.tick_units = tick_units(self.tick)
        self.min_size_units = units_from_decimal(self.spec.min_order_size)
        for token in self.tokens():
            self.last_bbo[token] = top_of_book(self.book, yes=self.is_yes(token))

    @property
    def condition_id(self) -> str:
        return self.spec.condition_id

    def is_yes(self, token_id: str) -> bool:
        return token_id == self.spec.yes_token_id

    def outcome(self, token_id: str) -> str:
        return self.spec.outcomes[0] if self.is_yes(token_id) else self.spec.outcomes[1]

    def tokens(self) -> tuple[str, str]:
        return (self.spec.yes_token_id, self.spec.no_token_id)

    def accepting_from_s(self) -> float:
        ts = self.spec.accepting_orders_ts
        return self.listed_at_s if ts is None else ts

    def accepts_at(self, now_s: float) -> bool:
        return not self.closed and self.accepting_from_s() <= now_s < self.spec.end_ts

    # --- payloads -------------------------------------------------------------------------------

    def summary(self, token_id: str, now_s: float) -> dict[str, Any]:
        """`GET /book` of one token (spec 1.3)."""
        last = self.last_trade_units.get(token_id)
        return book_summary(
            self.book,
            market=self.condition_id,
            asset_id=token_id,
            yes=self.is_yes(token_id),
            now_s=now_s,
            min_order_size=fmt_units(self.min_size_units),
            tick_size=self.tick,
            neg_risk=self.spec.neg_risk,
            last_trade_price="" if last is None else fmt_units(last),
        )

    def set_tick(self, new_tick: str, now_s: float) -> list[dict[str, Any]]:
        """Change the tick; returns the `tick_size_change` payloads of both tokens."""
        units = tick_units(new_tick)
        old_tick, self.tick, self.tick_units = self.tick, new_tick, units
        return [
            {
                "event_type": "tick_size_change",
                "asset_id": token,
                "market": self.condition_id,
                "old_tick_size": old_tick,
                "new_tick_size": new_tick,
                "timestamp": ms_string(now_s),
            }
            for token in self.tokens()
        ]

    def record_trades(self, taker: SimOrder, fills: list[Fill], now_s: float) -> list[dict[str, Any]]:
        """Update last trade prices; `last_trade_price` per execution price on BOTH tokens (one book)."""
        by_price: dict[int, int] = {}
        for fill in fills:
            by_price[fill.taker_price] = by_price.get(fill.taker_price, 0) + fill.shares
        other = self.spec.no_token_id if taker.is_yes else self.spec.yes_token_id
        other_side = "SELL" if taker.is_buy else "BUY"
        payloads = []
        for price, shares in by_price.items():
            for token, token_price, side in (
                (taker.token_id, price, taker.side),
                (other, UNIT - price, other_side),
            ):
                self.last_trade_units[token] = token_price
                payloads.append(
                    {
                        "event_type": "last_trade_price",
                        "asset_id": token,
                        "market": self.condition_id,
                        "price": fmt_units(token_price),
                        "side": side,
                        "size": fmt_units(shares),
                        "fee_rate_bps": "0",
                        "timestamp": ms_string(now_s),
                    }
                )
        self.traded = True
        return payloads

    def changes(self, now_s: float) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        """(token ids, payload) summarising this call's book changes; resets the change tracking."""
        out: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        tokens = self.tokens()
        if self.traded:
            out.extend(((token,), {"event_type": "book", **self.summary(token, now_s)}) for token in tokens)
        elif self.dirty:
            out.append((tokens, self._price_change(now_s)))
        self.dirty.clear()
        self.traded = False
        for token in tokens:
            bbo = top_of_book(self.book, yes=self.is_yes(token))
            if bbo != self.last_bbo.get(token):
                self.last_bbo[token] = bbo
                payload = {
                    "event_type": "best_bid_ask",
                    "market": self.condition_id,
                    "asset_id": token,
                    "best_bid": fmt_units(bbo[0]),
                    "best_ask": fmt_units(bbo[1]),
                    "spread": fmt_units(bbo[1] - bbo[0]),
                    "timestamp": ms_string(now_s),
                }
                out.append(((token,), payload))
        return out

    def _price_change(self, now_s: float) -> dict[str, Any]:
        tokens = self.tokens()
        hashes = {token: self.summary(token, now_s)["hash"] for token in tokens}
        tops = {token: top_of_book(self.book, yes=self.is_yes(token)) for token in tokens}
        entries = []
        for side, yes_price in sorted(self.dirty):
            size = fmt_units(self.book.level_shares(side, yes_price))
            yes_side, no_side = ("BUY", "SELL") if side == BID else ("SELL", "BUY")
            for token, price, token_side in (
                (tokens[0], yes_price, yes_side),
                (tokens[1], UNIT - yes_price, no_side),
            ):
                bid, ask = tops[token]
                entries.append(
                    {
                        "asset_id": token,
                        "price": fmt_units(price),
                        "size": size,
                        "side": token_side,
                        "hash": hashes[token],
                        "best_bid": fmt_units(bid),
                        "best_ask": fmt_units(ask),
                    }
                )
        return {
            "event_type": "price_change",
            "market": self.condition_id,
            "timestamp": ms_string(now_s),
            "price_changes": entries,
        }

    def new_market_payload(self, now_s: float) -> dict[str, Any]:
        """The custom-feature `new_market` event (spec 6.2)."""
        spec = self.spec
        return {
            "event_type": "new_market",
            "id": _gamma_id(spec.condition_id),
            "question": spec.question,
            "market": spec.condition_id,
            "slug": spec.slug,
            "description": "",
            "assets_ids": list(self.tokens()),
            "outcomes": list(spec.outcomes),
            "event_message": {
                "id": _gamma_id(spec.slug),
                "ticker": spec.slug,
                "slug": spec.slug,
                "title": spec.question,
                "description": "",
            },
            "timestamp": ms_string(now_s),
            "condition_id": spec.condition_id,
            "clob_token_ids": list(self.tokens()),
            "order_price_min_tick_size": self.tick,
            "active": True,
        }

    def resolved_payload(self, winning_token_id: str, now_s: float) -> dict[str, Any]:
        """The custom-feature `market_resolved` event (spec 6.2)."""
        if winning_token_id not in self.tokens():
            raise ValueError(f"{winning_token_id} is not a token of {self.condition_id}")
        return {
            "event_type": "market_resolved",
            "id": _gamma_id(self.condition_id),
            "market": self.condition_id,
            "assets_ids": list(self.tokens()),
            "winning_asset_id": winning_token_id,
            "winning_outcome": self.outcome(winning_token_id),
            "timestamp": ms_string(now_s),
        }
