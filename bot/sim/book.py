"""One mirrored order book per market, with price-time priority and pure fill planning.

The two outcome tokens of a binary market share ONE book, kept in the first ("Yes"/"Up") token's
price space (spec 9 "Complementary matching / mirrored books"):

| order | rests as |
|---|---|
| BUY Yes at p | bid at p |
| SELL Yes at p | ask at p |
| BUY No at q | ask at 1 − q (a BUY No meets a BUY Yes by minting a pair) |
| SELL No at q | bid at 1 − q (a SELL No meets a SELL Yes by merging a pair) |

so the No token's book is the exact mirror of the Yes book. Prices and shares are integers in 1e6 units.

Rounding of a fill's pUSD (shares × price is not always a whole unit once a pUSD-bounded BUY buys odd
share amounts): every BUY pays the ceiling, so each fill shrinks a BUY's remaining size by at least the
shares it got. Without that, a BUY with a unit of pUSD left could take shares for free forever and rest
crossed against the book. A same-token SELL receives what the BUY pays; on a merge each SELL gets the
floor. The at most one unit per fill of a mint/merge that the pair does not cover stays with the venue.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.sim.wire import UNIT

__all__ = ["ASK", "BID", "Fill", "MirroredBook", "SimOrder", "ceil_div"]

BID = "bid"
ASK = "ask"


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


@dataclass(eq=False)
class SimOrder:
    """An order the engine accepted, resting or not. `budget_units` is what it may still spend.

    BUY: `budget_units` is pUSD (the order is bounded by the pUSD it spends, spec 4), its resting size
    is budget / limit price. SELL: `budget_units` is shares.
    """

    order_id: str
    owner: str
    maker_address: str
    market: str
    token_id: str
    outcome: str
    is_yes: bool
    side: str
    order_type: str
    post_only: bool
    expiration: int
    created_at_s: float
    price_units: int
    maker_amount: int
    taker_amount: int
    seq: int
    budget_units: int
    status: str = "LIVE"
    matched_shares: int = 0
    reserved_units: int = 0
    resting: bool = False
    trade_ids: list[str] = field(default_factory=list)

    @property
    def is_buy(self) -> bool:
        return self.side == "BUY"

    @property
    def yes_price(self) -> int:
        """The order's price in the Yes token's space."""
        return self.price_units if self.is_yes else UNIT - self.price_units

    @property
    def book_side(self) -> str:
        """Which side of the Yes book the order belongs to."""
        return BID if self.is_yes == self.is_buy else ASK

    @property
    def original_size_units(self) -> int:
        """The order's size in shares as the venue reports it: takerAmount for a BUY, makerAmount for a SELL."""
        return self.taker_amount if self.is_buy else self.maker_amount

    def open_shares(self) -> int:
        """Shares the order can still trade at its limit price (its resting size)."""
        if self.is_buy:
            return self.budget_units * UNIT // self.price_units
        return self.budget_units

    def __repr__(self) -> str:
        return (
            f"<SimOrder {self.order_id[:10]} {self.side} {self.outcome}@{self.price_units / UNIT} "
            f"budget={self.budget_units} status={self.status}>"
        )


@dataclass(frozen=True)
class Fill:
    """One planned match of a taker against one resting order.

    `taker_price` is in the taker token's space, `maker_price` in the maker's (they differ on a
    mint/merge). Notionals are the pUSD each side pays (BUY) or receives (SELL), excluding fees.
    """

    maker: SimOrder
    shares: int
    taker_price: int
    maker_price: int
    taker_notional: int
    maker_notional: int
    same_token: bool


class MirroredBook:
    """Resting orders of one market on the Yes-space bid and ask sides, FIFO within a price."""

    def __init__(self) -> None:
        self._levels: dict[str, dict[int, list[SimOrder]]] = {BID: {}, ASK: {}}
        self._prices: dict[str, list[int]] = {BID: [], ASK: []}  # ascending

    def __repr__(self) -> str:
        return (
            f"<MirroredBook bid={self.best(BID)} ask={self.best(ASK)} orders={sum(1 for _ in self.orders())}>"
        )

    def add(self, order: SimOrder) -> None:
        """Append at the back of its price level (time priority)."""
        side, price = order.book_side, order.yes_price
        level = self._levels[side].get(price)
        if level is None:
            level = self._levels[side][price] = []
            bisect.insort(self._prices[side], price)
        level.append(order)
        order.resting = True

    def remove(self, order: SimOrder) -> None:
        side, price = order.book_side, order.yes_price
        level = self._levels[side][price]
        level.remove(order)
        order.resting = False
        if not level:
            del self._levels[side][price]
            prices = self._prices[side]
            del prices[bisect.bisect_left(prices, price)]

    def best(self, side: str) -> int | None:
        """Best Yes-space price on a side: highest bid, lowest ask; None when empty."""
        prices = self._prices[side]
        if not prices:
            return None
        return prices[-1] if side == BID else prices[0]

    def levels_best_first(self, side: str) -> Iterator[tuple[int, list[SimOrder]]]:
        prices = self._prices[side]
        ordered = reversed(prices) if side == BID else iter(prices)
        for price in list(ordered):
            yield price, self._levels[side][price]

    def has_level(self, side: str, yes_price: int) -> bool:
        """Whether any order rests at the level (it is in `depth`, even with 0 open shares)."""
        return yes_price in self._levels[side]

    def level_shares(self, side: str, yes_price: int) -> int:
        return sum(order.open_shares() for order in self._levels[side].get(yes_price, ()))

    def depth(self, side: str) -> list[tuple[int, int]]:
        """(Yes-space price, aggregate shares) per level, ascending price."""
        # Every book change publishes both tokens' hashes, so this walk runs per recorded event in a
        # replay: one loop, no generator per level (sizes are not kept per level, because fills change
        # orders' budgets in place and a stale aggregate would be a silent wrong book).
        levels = self._levels[side]
        out = []
        for price in self._prices[side]:
            shares = 0
            for order in levels[price]:
                shares += order.open_shares()
            out.append((price, shares))
        return out

    def orders(self) -> Iterator[SimOrder]:
        for side in (BID, ASK):
            for price in self._prices[side]:
                yield from self._levels[side][price]

    def crosses(self, book_side: str, yes_limit: int) -> bool:
        """Whether an order on `book_side` at `yes_limit` would match anything now."""
        if book_side == BID:
            ask = self.best(ASK)
            return ask is not None and ask <= yes_limit
        bid = self.best(BID)
        return bid is not None and bid >= yes_limit

    def plan(
        self,
        taker: SimOrder,
        budget_units: int,
        *,
        skip_owner: str | None = None,
    ) -> tuple[list[Fill], int]:
        """Fills a taker would get now, best price first, and the budget it would have left. Pure.

        A BUY taker's budget is pUSD: at each maker it buys as many shares as the pUSD left pays for at
        that maker's price, so crossing at better prices buys MORE shares than its takerAmount. A SELL
        taker's budget is shares. Execution is always at the maker's price.
        """
        opposite = ASK if taker.book_side == BID else BID
        limit = taker.yes_price
        fills: list[Fill] = []
        left = budget_units
        for yes_price, level in self.levels_best_first(opposite):
            if (opposite == ASK and yes_price > limit) or (opposite == BID and yes_price < limit):
                break
            taker_price = yes_price if taker.is_yes else UNIT - yes_price
            for maker in level:
                if skip_owner is not None and maker.owner == skip_owner:
                    continue
                available = maker.open_shares()
                if taker.is_buy:
                    shares = min(available, left * UNIT // taker_price)
                else:
                    shares = min(available, left)
                if shares <= 0:
                    continue
                same_token = maker.token_id == taker.token_id
                if taker.is_buy or same_token:
                    taker_notional = ceil_div(shares * taker_price, UNIT)
                else:
                    taker_notional = shares * taker_price // UNIT
                if same_token:
                    maker_notional = taker_notional
                elif maker.is_buy:
                    maker_notional = ceil_div(shares * maker.price_units, UNIT)
                else:
                    maker_notional = shares * maker.price_units // UNIT
                left -= taker_notional if taker.is_buy else shares
                fills.append(
                    Fill(
                        maker=maker,
                        shares=shares,
                        taker_price=taker_price,
                        maker_price=maker.price_units,
                        taker_notional=taker_notional,
                        maker_notional=maker_notional,
                        same_token=same_token,
                    )
                )
                if (taker.is_buy and left * UNIT < taker_price) or (not taker.is_buy and left == 0):
                    return fills, left
        return fills, left
