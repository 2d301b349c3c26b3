"""One listed market of the simulator: its book, tick, window state, and the market-channel payloads
it publishes (spec 6.2): `book`, `price_change` (current schema, entries for BOTH tokens),
`best_bid_ask`, `last_trade_price`, `tick_size_change`, `new_market`, `market_resolved`.

Book changes of one exchange call are collected (`dirty` levels, `traded`) and summarised once at
the end of the call: one `price_change` for placements and cancels, fresh `book` snapshots after a
trade, and `best_bid_ask` wherever the top of book moved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.sim.book import ASK, BID, Fill, MirroredBook, SimOrder
from bot.sim.book_text import BookText
from bot.sim.model import MarketSpec
from bot.sim.orders_wire import book_summary, top_of_book
from bot.sim.rules import tick_units
from bot.sim.wire import UNIT, book_hash_of_text, fmt_units, ms_string, units_from_decimal

__all__ = ["SimMarket"]

# Spec 6.2 tick_size_change: "when the book's price reaches > 0.96 or < 0.04 (tick typically 0.01 ↔ 0.001)".
_COARSE_TICK = "0.01"
_FINE_TICK = "0.001"
_TICK_HIGH_UNITS = 960_000
_TICK_LOW_UNITS = 40_000
# Polymarket shows the midpoint unless the spread is wider than 0.10, then the last trade price.
_DISPLAY_SPREAD_MAX_UNITS = 100_000


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
    # (book side, Yes price, shares, tops) of levels as they stood at the end of an earlier call of the batch
    interim: list[tuple[str, int, int, dict[str, Any]]] = field(default_factory=list)
    traded: bool = False
    last_bbo: dict[str, tuple[int, int]] = field(default_factory=dict)
    # The venue's automatic tick change at 0.96 / 0.04 (SimConfig.auto_tick_size).
    auto_tick: bool = False

    def __post_init__(self) -> None:
        self._text = BookText(self.book)  # the hashes' level text, updated from `dirty` (see changes)
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
        """From when it takes orders: its accepting time, never before the venue listed it."""
        ts = self.spec.accepting_orders_ts
        return self.listed_at_s if ts is None else max(ts, self.listed_at_s)

    def accepts_at(self, now_s: float) -> bool:
        return not self.closed and self.accepting_from_s() <= now_s < self.spec.end_ts

    # --- payloads -------------------------------------------------------------------------------

    def summary(self, token_id: str, now_s: float) -> dict[str, Any]:
        """`GET /book` of one token (spec 1.3)."""
        return book_summary(self.book, yes=self.is_yes(token_id), now_s=now_s, **self._summary_fields(token_id))

    def _summary_fields(self, token_id: str) -> dict[str, Any]:
        last = self.last_trade_units.get(token_id)
        return {
            "market": self.condition_id,
            "asset_id": token_id,
            "min_order_size": fmt_units(self.min_size_units),
            "tick_size": self.tick,
            "neg_risk": self.spec.neg_risk,
            "last_trade_price": "" if last is None else fmt_units(last),
        }

    def book_hashes(self, now_s: float) -> dict[str, str]:
        """Each token's `summary(token, now_s)["hash"]`, without a summary or a walk of the book: the
        level text is brought up to date from `dirty` (every level changed since the last call)."""
        self._text.update(self.dirty)
        timestamp = ms_string(now_s)
        hashes = {}
        for token in self.tokens():
            bids_json, asks_json = self._text.levels_json(yes=self.is_yes(token))
            hashes[token] = book_hash_of_text(timestamp=timestamp, bids_json=bids_json, asks_json=asks_json,
                                              **self._summary_fields(token))
        return hashes

    def snapshot(self, token_id: str, now_s: float) -> dict[str, Any]:
        """The market channel's `book` on subscribe: `tick_size` and `last_trade_price`, but neither
        `min_order_size` nor `neg_risk` (real capture ws/book_snapshot_captured.json)."""
        summary = self.summary(token_id, now_s)
        del summary["min_order_size"], summary["neg_risk"]
        return {**summary, "event_type": "book"}

    def post_trade_book(self, token_id: str, now_s: float) -> dict[str, Any]:
        """The market channel's `book` after a trade: none of `tick_size`, `last_trade_price`,
        `min_order_size`, `neg_risk` (real capture ws/price_change_burst_captured.json, last message)."""
        summary = self.summary(token_id, now_s)
        for key in ("min_order_size", "tick_size", "neg_risk", "last_trade_price"):
            del summary[key]
        return {**summary, "event_type": "book"}

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
        """Update last trade prices; one `last_trade_price` per match on each token (mirror book).

        Its price is the last (worst) execution price, its size the whole match. UNCONFIRMED: the
        captured post-trade burst (ws/price_change_burst_captured.json) carries no last_trade_price at
        all, and a single capture (ws/last_trade_price.json) cannot say whether the complement gets one.
        The simulator used to send one per price level; kept at one per token to stay close to that.
        """
        last_price = fills[-1].taker_price
        shares = sum(fill.shares for fill in fills)
        other = self.spec.no_token_id if taker.is_yes else self.spec.yes_token_id
        other_side = "SELL" if taker.is_buy else "BUY"
        self.traded = True
        payloads = []
        for token, price, side in (
            (taker.token_id, last_price, taker.side),
            (other, UNIT - last_price, other_side),
        ):
            self.last_trade_units[token] = price
            payloads.append(
                {
                    "event_type": "last_trade_price",
                    "asset_id": token,
                    "market": self.condition_id,
                    "price": fmt_units(price),
                    "side": side,
                    "size": fmt_units(shares),
                    "fee_rate_bps": "0",
                    "timestamp": ms_string(now_s),
                }
            )
        return payloads

    def changes(self, now_s: float) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        """(token ids, payload) summarising this call's book changes; resets the change tracking.

        Placements and cancels: one `price_change` with every changed level (spec 6.2). A trade, as in
        the captured burst (ws/price_change_burst_captured.json): one `price_change` per changed level
        (size "0" for a consumed one), then a `book` of each token. Then `best_bid_ask` where the top
        moved, and a `tick_size_change` when the price crossed 0.96 / 0.04 (`auto_tick`).
        """
        out: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        tokens = self.tokens()
        # The book does not change while it is summarised: every price_change carries the same hashes.
        hashes = self.book_hashes(now_s) if self.dirty or self.interim else {}
        if self.traded:
            if self.interim:
                out.append((tokens, self._price_change(now_s, [], hashes, self.interim)))
            out.extend((tokens, self._price_change(now_s, [level], hashes)) for level in sorted(self.dirty))
            out.extend(((token,), self.post_trade_book(token, now_s)) for token in tokens)
        elif self.dirty or self.interim:
            out.append((tokens, self._price_change(now_s, sorted(self.dirty), hashes, self.interim)))
        self.dirty.clear()
        self.interim = []
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
        if self.auto_tick:
            new_tick = self._auto_tick()
            if new_tick != self.tick:
                out.extend(((p["asset_id"],), p) for p in self.set_tick(new_tick, now_s))
        return out

    def _auto_tick(self) -> str:
        """The tick the venue's rule gives now (spec 6.2 tick_size_change: the price "> 0.96 or < 0.04"
        moves 0.01 → 0.001, and back). The price is the Up token's displayed price: the midpoint, or
        the last trade when the spread is wider than 0.10 (Polymarket's display rule). Only markets
        listed at 0.01 change; a one-sided book without trades keeps its tick."""
        base = self.spec.tick_size
        if base != _COARSE_TICK:
            return self.tick
        bid, ask = self.book.best(BID), self.book.best(ASK)  # Up-token space; None = empty side
        if bid is not None and ask is not None and ask - bid <= _DISPLAY_SPREAD_MAX_UNITS:
            price = (bid + ask) // 2
        else:
            last = self.last_trade_units.get(self.spec.yes_token_id)
            if last is None:
                return self.tick
            price = last
        extreme = price > _TICK_HIGH_UNITS or price < _TICK_LOW_UNITS
        return _FINE_TICK if extreme else base

    def close_call(self, now_s: float) -> None:
        """The end of one call inside a batch: the levels it changed, as they stand now, go first in the
        batch's `price_change` (entries apply in order; the last one of a level is its final size). They
        carry the batch's final book hash: the simulator hashes the book once per batch, not per call."""
        if self.dirty and not self.traded:
            tops = self._tops()
            book = self.book
            self.interim.extend(
                (side, yes_price, book.level_shares(side, yes_price), tops) for side, yes_price in sorted(self.dirty)
            )
            self._text.update(self.dirty)  # the hashes' level text (see book_hashes), then a fresh call
            self.dirty.clear()

    def _tops(self) -> dict[str, tuple[int, int]]:
        """Each token's (best bid, best ask) now, as `price_change` entries carry them."""
        return {token: top_of_book(self.book, yes=self.is_yes(token)) for token in self.tokens()}

    def _price_change(self, now_s: float, levels: list[tuple[str, int]], hashes: dict[str, str],
                      earlier: Sequence[tuple[str, int, int, dict[str, Any]]] = ()) -> dict[str, Any]:
        tokens = self.tokens()
        tops = self._tops()
        book = self.book
        entries: list[dict[str, Any]] = []
        for side, yes_price, shares, at_tops in [
            *earlier, *((side, yes_price, book.level_shares(side, yes_price), tops) for side, yes_price in levels)
        ]:
            size = fmt_units(shares)
            yes_side, no_side = ("BUY", "SELL") if side == BID else ("SELL", "BUY")
            for token, price, token_side in (
                (tokens[0], yes_price, yes_side),
                (tokens[1], UNIT - yes_price, no_side),
            ):
                bid, ask = at_tops[token]
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
