"""The replayed market of one binary market: the recorded depth (everyone else's orders) plus our
resting orders with their queue positions; recorded events in, our fills out. Pure and synchronous.

Everything is in the first ("Yes") token's price space, like the simulator's mirrored book: a bid on
the other token at q is an ask here at 1 − q. Depth comes from one token's `book` and `price_change`
rows (the other token's are the same book mirrored); trades from both tokens' `last_trade_price` rows,
with the mirrored copy of one match dropped.

Fill rules (the issue's, after hftbacktest):
- a recorded trade that hits our side at a price *through* ours (a taker sold below our bid) fills us
  first, up to the trade's size;
- a trade *at* our price first consumes the queue ahead of us (see `bot.replay.queue`), then fills us;
- nothing else fills a resting order of ours: no fill happens at a price the recorded market never
  traded at or through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

from bot.replay.queue import QueueModel, QueueSpot
from bot.replay.reader import KIND_BOOK, KIND_PRICE_CHANGE, KIND_TICK, KIND_TRADE, Event
from bot.sim.wire import UNIT

__all__ = ["ASK", "BID", "MakerFill", "OurOrder", "ReplayBook"]

BID = "bid"
ASK = "ask"


class MakerFill(NamedTuple):
    """`shares` of our order `order_id` traded at its price `yes_price` (Yes space), at `received_ms`."""

    order_id: str
    shares: int
    yes_price: int
    received_ms: int


@dataclass
class OurOrder:
    order_id: str
    side: str  # BID | ASK in Yes space
    yes_price: int
    open_shares: int
    spot: QueueSpot
    seq: int


@dataclass
class ReplayBook:
    """Recorded depth and our orders of one market; `apply(event)` returns the fills it causes."""

    yes_asset: str
    no_asset: str
    queue: QueueModel
    depth_asset: str = ""  # whose book/price_change rows give the depth ("" = yes_asset)
    depth: dict[str, dict[int, int]] = field(default_factory=lambda: {BID: {}, ASK: {}})
    tick_units: int | None = None
    ours: dict[str, OurOrder] = field(default_factory=dict)
    trades_seen: int = 0
    trades_mirrored: int = 0
    _seq: int = 0
    _last_trade: tuple[int, str, int, str, int, int] | None = None

    def __post_init__(self) -> None:
        self.depth_asset = self.depth_asset or self.yes_asset

    # --- our orders ---------------------------------------------------------------------------

    def add_order(self, order_id: str, side: str, yes_price: int, shares: int) -> OurOrder:
        """Our order arrives: it queues behind the displayed size at its price."""
        self._seq += 1
        ahead = self.depth[side].get(yes_price, 0)
        order = OurOrder(order_id, side, yes_price, shares, QueueSpot(ahead), self._seq)
        self.ours[order_id] = order
        return order

    def set_open(self, order_id: str, shares: int) -> None:
        """Our order's open size changed elsewhere (a fill we caused, a partial cancel); 0 removes it."""
        order = self.ours.get(order_id)
        if order is None:
            return
        if shares <= 0:
            del self.ours[order_id]
        else:
            order.open_shares = shares

    def remove_order(self, order_id: str) -> None:
        self.ours.pop(order_id, None)

    # --- recorded events ----------------------------------------------------------------------

    def apply(self, event: Event) -> list[MakerFill]:
        kind = event.kind
        if kind == KIND_PRICE_CHANGE:
            if event.asset_id == self.depth_asset and event.price is not None and event.size is not None:
                side, price = self.yes_level(event.asset_id, event.side, event.price)
                self._set_level(side, price, event.size)
            return []
        if kind == KIND_TRADE:
            return self._trade(event)
        if kind == KIND_BOOK:
            if event.asset_id == self.depth_asset:
                self._book(event)
            return []
        if kind == KIND_TICK and event.asset_id == self.depth_asset and event.new_tick:
            self.tick_units = event.new_tick
        return []

    def yes_level(self, asset_id: str, side: str | None, price: int) -> tuple[str, int]:
        """A resting level of `asset_id` (side BUY = bid) in Yes space."""
        is_bid = side == "BUY"
        if asset_id == self.yes_asset:
            return (BID if is_bid else ASK), price
        return (ASK if is_bid else BID), UNIT - price

    def _set_level(self, side: str, price: int, size: int) -> None:
        levels = self.depth[side]
        prev = levels.get(price, 0)
        if size > 0:
            levels[price] = size
        else:
            levels.pop(price, None)
        if prev != size:
            for order in self.ours.values():
                if order.side == side and order.yes_price == price:
                    self.queue.on_depth(order.spot, prev, size)

    def _book(self, event: Event) -> None:
        for raw, token_side in ((event.bids, "BUY"), (event.asks, "SELL")):
            new: dict[int, int] = {}
            for price_text, size_text in orjson.loads(raw or "[]"):
                size = _units(size_text)
                if size > 0:
                    side, price = self.yes_level(event.asset_id, token_side, _units(price_text))
                    new[price] = size
            side, _ = self.yes_level(event.asset_id, token_side, 0)
            old = self.depth[side]
            for price in set(old) | set(new):
                if old.get(price, 0) != new.get(price, 0):
                    self._set_level(side, price, new.get(price, 0))

    def _trade(self, event: Event) -> list[MakerFill]:
        if event.price is None or not event.size:
            return []
        # A taker's BUY consumes asks of its token; BUY on the other token = SELL here.
        taker_buys_yes = (event.side == "BUY") == (event.asset_id == self.yes_asset)
        hit = ASK if taker_buys_yes else BID
        price = event.price if event.asset_id == self.yes_asset else UNIT - event.price
        key = (event.received_ms, hit, price, event.transaction_hash or "", event.size, 0)
        last = self._last_trade
        if last is not None and last[:5] == key[:5] and last[5] != hash(event.asset_id):
            self.trades_mirrored += 1  # the other token's copy of the same match
            self._last_trade = None
            return []
        self._last_trade = (*key[:5], hash(event.asset_id))
        self.trades_seen += 1
        if not self.ours:
            return []
        return self._fill(hit, price, event.size, event.received_ms)

    def _fill(self, hit: str, price: int, size: int, received_ms: int) -> list[MakerFill]:
        candidates = [o for o in self.ours.values() if o.side == hit]
        if not candidates:
            return []
        if hit == BID:  # best first: highest bid; then time priority
            candidates.sort(key=lambda o: (-o.yes_price, o.seq))
        else:
            candidates.sort(key=lambda o: (o.yes_price, o.seq))
        fills: list[MakerFill] = []
        left = size
        for order in candidates:
            through = order.yes_price > price if hit == BID else order.yes_price < price
            if not through and order.yes_price != price:
                break
            if through:
                shares = min(order.open_shares, left)
            else:
                ahead = order.spot.ahead
                self.queue.on_trade(order.spot, left)
                # The recorded level shrinks by the whole recorded trade, our phantom fills included.
                order.spot.traded_since_depth += size - left
                shares = min(order.open_shares, max(0, left - ahead))
            if shares > 0:
                left -= shares
                order.open_shares -= shares
                fills.append(MakerFill(order.order_id, shares, order.yes_price, received_ms))
                if order.open_shares == 0:
                    del self.ours[order.order_id]
            if left <= 0:
                break
        return fills

    def level(self, side: str, yes_price: int) -> int:
        return self.depth[side].get(yes_price, 0)


def _units(text: str) -> int:
    whole, _, frac = str(text).partition(".")
    frac = (frac + "000000")[:6]
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole or "0")) * UNIT + int(frac))
