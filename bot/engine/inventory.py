"""Inventory of one market from our fills: each fill counted once, reversed if its trade FAILS.

A fill is keyed by `(trade_id, order_id)`: the venue re-sends a trade on every status change
(MATCHED → MINED → CONFIRMED, or RETRYING/FAILED), sometimes twice, sometimes out of order. The first
sighting of a key counts it, whatever its status (a missed MATCHED must not lose the fill); FAILED
reverses it once; CONFIRMED makes it final. A FAILED seen first is recorded so that a late MATCHED
for the same key is not counted.

Money is integers (`bot.protocol.money`): shares and pUSD in micro-units, so "fully filled", pair counts
and P&L add up exactly; the float properties (`shares`, `cost_pusd`, ...) are for display only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.protocol.money import MICRO, micro_to_float, notional_micro

__all__ = ["Fill", "FillStatus", "Inventory", "TokenPosition"]


class FillStatus(enum.StrEnum):
    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Fill:
    """One of our order's executions inside one trade, in the token's own space, in integers.

    `price_micro` is pUSD per share × 10⁶ (a taker's is the average over its maker legs); `notional_micro`
    is what the shares cost before fees (exact, rounded up to the unit when legs are averaged).
    """

    trade_id: str
    order_id: str
    token_id: str
    side: str  # "BUY" or "SELL"
    shares_micro: int
    price_micro: int
    fee_micro: int
    status: FillStatus
    taker: bool
    notional_micro: int = -1  # -1: shares × price (rounded up)

    @property
    def cost_micro(self) -> int:
        if self.notional_micro >= 0:
            return self.notional_micro
        return notional_micro(self.shares_micro, self.price_micro)

    # Display (journal, status).
    @property
    def shares(self) -> float:
        return micro_to_float(self.shares_micro)

    @property
    def price(self) -> float:
        return micro_to_float(self.price_micro)

    @property
    def fee_pusd(self) -> float:
        return micro_to_float(self.fee_micro)


@dataclass(slots=True)
class TokenPosition:
    shares_micro: int = 0
    cost_micro: int = 0  # includes taker fees paid

    # Display only.
    @property
    def shares(self) -> float:
        return micro_to_float(self.shares_micro)

    @property
    def cost_pusd(self) -> float:
        return micro_to_float(self.cost_micro)

    @property
    def avg_cost(self) -> float | None:
        return self.cost_micro / self.shares_micro if self.shares_micro > 0 else None


@dataclass(slots=True)
class _FillRecord:
    fill: Fill
    counted: bool  # a fill of this run, in the positions
    final: bool  # CONFIRMED or FAILED seen: later sightings change nothing
    seeded: bool = False  # held by the seed's balances (a fill from before the seed), not this run's
    failed: bool = False  # a FAILED sighting was seen


class Inventory:
    """Positions per token of one binary market, built only from counted fills (and the start's seed)."""

    def __init__(self, up_token_id: str, down_token_id: str) -> None:
        self.up_token_id = up_token_id
        self.down_token_id = down_token_id
        self._positions = {up_token_id: TokenPosition(), down_token_id: TokenPosition()}
        self._fills: dict[tuple[str, str], _FillRecord] = {}
        self.fills_counted = 0
        self.fills_reversed = 0
        self.realised_pnl_micro = 0
        self.seed_reversals: list[Fill] = []  # fills the seed's balance held whose trade FAILED after the seed
        # Per order id: the shares the positions hold from its fills (counted, or held by the seed's
        # balance). Its order's own matched size may run ahead (the order update came before the trade):
        # the caps count that difference as held too (`held_on`).
        self._held_by_order: dict[str, int] = {}
        # Moves with every change of the positions (shares, cost) and of `held_on`: the views kept per
        # stamp (the resting orders, the market's committed money) are recomputed when it moved.
        self.version = 0

    def position(self, token_id: str) -> TokenPosition:
        return self._positions[token_id]

    def seed(self, token_id: str, shares_micro: int, cost_micro: int,
             listed: frozenset[tuple[str, str]] = frozenset()) -> None:
        """Start from a balance found on the venue (restart with seeding): pre-restart fills enter here, once.

        `listed` are the fills (trade id, order id) the balance holds. A fill already counted from a user
        event and not among them came after the balance was read: it stays on top of it."""
        pos = self._positions[token_id]
        pos.shares_micro = shares_micro
        pos.cost_micro = cost_micro
        self.version += 1
        for key, record in self._fills.items():
            if record.fill.token_id != token_id:
                continue
            if key not in listed:
                if record.counted:
                    self._book(record.fill, +1)
            elif record.failed:
                # Listed and held by the balance read, but its FAILED arrived since: the venue takes it back.
                self._book(record.fill, -1)
            elif not record.counted and not record.final:
                record.seeded = True  # a FAILED still to come reverses what the balance holds

    def seen_before_seed(self, fill: Fill) -> bool:
        """Record a fill from before the seed as seen, not counted as this run's: the seeded balances hold
        it, so its later MINED and CONFIRMED are repeats, and a later FAILED takes it out of the position
        (the venue takes the shares back). True if the key was new."""
        key = (fill.trade_id, fill.order_id)
        if key in self._fills:
            return False
        self._fills[key] = _FillRecord(fill, counted=False, final=fill.status is FillStatus.CONFIRMED)
        if fill.status is not FillStatus.FAILED:
            self._hold(fill, +1)
        return True

    def held_on(self, order_id: str) -> int:
        """Micro-shares the positions hold from fills of `order_id`."""
        return self._held_by_order.get(order_id, 0)

    def _hold(self, fill: Fill, sign: int) -> None:
        self._held_by_order[fill.order_id] = self._held_by_order.get(fill.order_id, 0) + sign * fill.shares_micro
        self.version += 1

    def knows(self, fill: Fill) -> bool:
        """Whether this fill's key (trade id, order id) was seen: counted, seeded or failed."""
        return (fill.trade_id, fill.order_id) in self._fills

    def apply(self, fill: Fill) -> bool:
        """Apply one sighting of a fill. Returns True when inventory changed."""
        if fill.token_id not in self._positions:
            return False
        key = (fill.trade_id, fill.order_id)
        record = self._fills.get(key)
        if record is None:
            failed = fill.status is FillStatus.FAILED
            self._fills[key] = _FillRecord(fill, not failed, failed or fill.status is FillStatus.CONFIRMED,
                                           failed=failed)
            if not failed:
                self._book(fill, +1)
                self._hold(fill, +1)
                self.fills_counted += 1
            return not failed
        if record.final:
            return False
        if fill.status is FillStatus.FAILED:
            record.final = True
            record.failed = True
            if record.counted or record.seeded:
                self._book(record.fill, -1)
                self._hold(record.fill, -1)
                if record.seeded:
                    self.seed_reversals.append(record.fill)
                record.counted = record.seeded = False
                self.fills_reversed += 1
                return True
            return False
        if fill.status is FillStatus.CONFIRMED:
            record.final = True
        return False

    def _book(self, fill: Fill, sign: int) -> None:
        self.version += 1
        pos = self._positions[fill.token_id]
        notional = fill.cost_micro
        if fill.side == "BUY":
            pos.shares_micro += sign * fill.shares_micro
            pos.cost_micro += sign * (notional + fill.fee_micro)
        else:
            # Selling reduces shares at average cost; the difference is realised.
            if pos.shares_micro > 0:
                at_cost = pos.cost_micro * fill.shares_micro // pos.shares_micro
            else:
                at_cost = notional
            pos.shares_micro -= sign * fill.shares_micro
            pos.cost_micro -= sign * at_cost
            self.realised_pnl_micro += sign * (notional - fill.fee_micro - at_cost)

    # --- derived views -------------------------------------------------------------------------
    @property
    def up(self) -> TokenPosition:
        return self._positions[self.up_token_id]

    @property
    def down(self) -> TokenPosition:
        return self._positions[self.down_token_id]

    @property
    def imbalance_micro(self) -> int:
        """Up minus Down: positive when Up leads."""
        return self.up.shares_micro - self.down.shares_micro

    @property
    def paired_micro(self) -> int:
        return min(self.up.shares_micro, self.down.shares_micro)

    def marked_pnl_micro(self, up_mark_micro: int | None, down_mark_micro: int | None) -> int:
        """Paired shares redeem at $1; the unpaired excess is marked at the given prices (0 if unknown)."""
        paired = self.paired_micro
        value = paired
        value += (self.up.shares_micro - paired) * (up_mark_micro or 0) // MICRO
        value += (self.down.shares_micro - paired) * (down_mark_micro or 0) // MICRO
        return value - self.up.cost_micro - self.down.cost_micro + self.realised_pnl_micro

    # Display.
    @property
    def imbalance_shares(self) -> float:
        return micro_to_float(self.imbalance_micro)

    @property
    def paired_shares(self) -> float:
        return micro_to_float(self.paired_micro)

    @property
    def realised_pnl_pusd(self) -> float:
        return micro_to_float(self.realised_pnl_micro)

    @property
    def pair_cost(self) -> float | None:
        """Average cost of one Up + one Down (what a redeemed pair paid for its $1)."""
        a, b = self.up.avg_cost, self.down.avg_cost
        return None if a is None or b is None else a + b

    def marked_pnl(self, up_mark_micro: int | None, down_mark_micro: int | None) -> float:
        """Display form of `marked_pnl_micro` (marks in micro-pUSD per share, as the book holds them)."""
        return micro_to_float(self.marked_pnl_micro(up_mark_micro, down_mark_micro))

    def counted_fills(self) -> list[Fill]:
        return [r.fill for r in self._fills.values() if r.counted]

    def statistics(self) -> dict[str, float | int]:
        return {
            "up_shares": self.up.shares,
            "down_shares": self.down.shares,
            "fills_counted": self.fills_counted,
            "fills_reversed": self.fills_reversed,
        }

    def __repr__(self) -> str:
        return f"<Inventory up={self.up.shares:g} down={self.down.shares:g} fills={self.fills_counted}>"
