"""Inventory of one market from our fills: each fill counted once, reversed if its trade FAILS.

A fill is keyed by `(trade_id, order_id)`: the venue re-sends a trade on every status change
(MATCHED → MINED → CONFIRMED, or RETRYING/FAILED), sometimes twice, sometimes out of order. The first
sighting of a key counts it, whatever its status (a missed MATCHED must not lose the fill); FAILED
reverses it once; CONFIRMED makes it final. A FAILED seen first is recorded so that a late MATCHED
for the same key is not counted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Fill", "FillStatus", "Inventory", "TokenPosition"]


class FillStatus(enum.StrEnum):
    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Fill:
    """One of our order's executions inside one trade, in the token's own space."""

    trade_id: str
    order_id: str
    token_id: str
    side: str  # "BUY" or "SELL"
    shares: float
    price: float
    fee_pusd: float
    status: FillStatus
    taker: bool


@dataclass(slots=True)
class TokenPosition:
    shares: float = 0.0
    cost_pusd: float = 0.0  # includes taker fees paid

    @property
    def avg_cost(self) -> float | None:
        return self.cost_pusd / self.shares if self.shares > 1e-12 else None


@dataclass(slots=True)
class _FillRecord:
    fill: Fill
    counted: bool
    final: bool


class Inventory:
    """Positions per token of one binary market, built only from counted fills."""

    def __init__(self, up_token_id: str, down_token_id: str) -> None:
        self.up_token_id = up_token_id
        self.down_token_id = down_token_id
        self._positions = {up_token_id: TokenPosition(), down_token_id: TokenPosition()}
        self._fills: dict[tuple[str, str], _FillRecord] = {}
        self.fills_counted = 0
        self.fills_reversed = 0
        self.pairs_completed_shares = 0.0
        self.realised_pnl_pusd = 0.0

    def position(self, token_id: str) -> TokenPosition:
        return self._positions[token_id]

    def seed(self, token_id: str, shares: float, cost_pusd: float) -> None:
        """Start from balances found on the venue (restart with seeding)."""
        pos = self._positions[token_id]
        pos.shares = shares
        pos.cost_pusd = cost_pusd

    def apply(self, fill: Fill) -> bool:
        """Apply one sighting of a fill. Returns True when inventory changed."""
        if fill.token_id not in self._positions:
            return False
        key = (fill.trade_id, fill.order_id)
        record = self._fills.get(key)
        if record is None:
            counted = fill.status is not FillStatus.FAILED
            self._fills[key] = _FillRecord(fill, counted, fill.status in (FillStatus.CONFIRMED, FillStatus.FAILED))
            if counted:
                self._book(fill, +1)
                self.fills_counted += 1
            return counted
        if record.final:
            return False
        if fill.status is FillStatus.FAILED:
            record.final = True
            if record.counted:
                self._book(record.fill, -1)
                record.counted = False
                self.fills_reversed += 1
                return True
            return False
        if fill.status is FillStatus.CONFIRMED:
            record.final = True
        return False

    def _book(self, fill: Fill, sign: int) -> None:
        pos = self._positions[fill.token_id]
        notional = fill.shares * fill.price
        if fill.side == "BUY":
            pos.shares += sign * fill.shares
            pos.cost_pusd += sign * (notional + fill.fee_pusd)
        else:
            # Selling reduces shares at average cost; the difference is realised.
            avg = pos.avg_cost or fill.price
            pos.shares -= sign * fill.shares
            pos.cost_pusd -= sign * avg * fill.shares
            self.realised_pnl_pusd += sign * (notional - fill.fee_pusd - avg * fill.shares)

    # --- derived views -------------------------------------------------------------------------
    @property
    def up(self) -> TokenPosition:
        return self._positions[self.up_token_id]

    @property
    def down(self) -> TokenPosition:
        return self._positions[self.down_token_id]

    @property
    def imbalance_shares(self) -> float:
        """Up minus Down: positive when Up leads."""
        return self.up.shares - self.down.shares

    @property
    def paired_shares(self) -> float:
        return min(self.up.shares, self.down.shares)

    @property
    def pair_cost(self) -> float | None:
        """Average cost of one Up + one Down (what a redeemed pair paid for its $1)."""
        a, b = self.up.avg_cost, self.down.avg_cost
        return None if a is None or b is None else a + b

    def marked_pnl(self, up_mark: float | None, down_mark: float | None) -> float:
        """Paired shares redeem at $1; the unpaired excess is marked at the given prices (0 if unknown)."""
        paired = self.paired_shares
        value = paired * 1.0
        value += (self.up.shares - paired) * (up_mark or 0.0)
        value += (self.down.shares - paired) * (down_mark or 0.0)
        return value - self.up.cost_pusd - self.down.cost_pusd + self.realised_pnl_pusd

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
