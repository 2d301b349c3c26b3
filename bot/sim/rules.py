"""Venue rules of the simulated exchange as pure functions: price grid, amount precision, expiration,
the V2 taker fee, the balance/allowance message, and the engine's restart/post-only/cancel-only modes.

Spec: docs/protocol/polymarket-clob.md sections 4, 5.1–5.3, 9. Every rejection raises
`OrderRejected` with the venue's exact text (constants from bot/protocol/constants.py).
"""

from __future__ import annotations

import math
from fractions import Fraction

from bot.protocol.constants import (
    ERR_AMOUNT_MISMATCH_FMT,
    ERR_BALANCE_PREFIX,
    ERR_CANCEL_ONLY,
    ERR_ENGINE_RESTARTING,
    ERR_INVALID_EXPIRATION,
    ERR_LIMIT_BUY_PRECISION_FMT,
    ERR_MARKET_PRECISION,
    ERR_POST_ONLY_MODE,
    ERR_POST_ONLY_MODE_CODE,
    ERR_SELL_PRECISION,
    ERR_TICK_FMT,
    ERR_TRADING_DISABLED,
    ROUNDING_CONFIG,
    TOKEN_DECIMALS,
)
from bot.sim.model import MODES, NewOrder, OrderRejected
from bot.sim.wire import UNIT, fmt_units, units_from_decimal

__all__ = [
    "EngineMode",
    "balance_error",
    "check_expiration",
    "check_limit_precision",
    "check_market_precision",
    "limit_price_units",
    "taker_fee_units",
    "tick_units",
]

# Spec 4 "Precision rules": FOK/FAK maker amounts carry at most 2 decimals.
_MARKET_MAKER_AMOUNT_DECIMALS = 2
# Spec 9 "Fees (V2)": the fee is rounded to 5 decimals, with 0.00001 as the smallest charged fee.
_FEE_DECIMALS = 5
# An implied price (maker/taker) within this fraction of a tick of the grid is on the grid: market
# orders' share amounts are rounded, so their implied price is a hair off the cap (spec 4).
_TICK_TOLERANCE = Fraction(1, 100)


def tick_units(tick: str) -> int:
    """A tick size string as 1e6 units; ValueError unless it is one of the venue's tick sizes."""
    if tick not in ROUNDING_CONFIG:
        raise ValueError(f"unknown tick size {tick!r}; expected one of {sorted(ROUNDING_CONFIG)}")
    return units_from_decimal(tick)


def limit_price_units(order: NewOrder, tick: str) -> int:
    """The order's implied limit price (BUY maker/taker, SELL taker/maker) snapped to the tick grid.

    OrderRejected (tick rule) when it is off the grid or outside [tick, 1 − tick].
    """
    if order.side == "BUY":
        implied = Fraction(order.maker_amount, order.taker_amount)
    else:
        implied = Fraction(order.taker_amount, order.maker_amount)
    step = Fraction(tick_units(tick), UNIT)
    grid = math.floor(implied / step + Fraction(1, 2)) * step
    if abs(implied - grid) > step * _TICK_TOLERANCE or not step <= grid <= 1 - step:
        shown = fmt_units(round(implied * UNIT))
        raise OrderRejected(ERR_TICK_FMT.format(id=order.order_id, price=shown, tick=tick))
    return int(grid * UNIT)


def check_market_precision(order: NewOrder, tick: str) -> None:
    """FOK/FAK amounts: maker ≤ 2 decimals; a BUY's shares ≤ the tick's amount decimals (spec 4)."""
    maker_step = 10 ** (6 - _MARKET_MAKER_AMOUNT_DECIMALS)
    if order.side == "BUY":
        taker_step = 10 ** (6 - ROUNDING_CONFIG[tick].amount)
        if order.maker_amount % maker_step or order.taker_amount % taker_step:
            raise OrderRejected(ERR_MARKET_PRECISION)
    elif order.maker_amount % maker_step:
        raise OrderRejected(ERR_SELL_PRECISION)


def check_limit_precision(order: NewOrder, tick: str) -> None:
    """GTC/GTD amounts as the official client builds them (spec 3.4, `ROUNDING_CONFIG`): shares with at
    most `size` (2) decimals, pUSD with at most the tick's `amount` decimals, and the pUSD leg exactly
    shares × price, the price being the implied one rounded to the tick's price decimals.

    With shares at 2 decimals and the price at `price` decimals the product always fits the `amount`
    decimals, so the official client never rounds a limit amount; anything else is a hand-rolled or
    float-damaged order, which the venue refuses (texts in bot/protocol/constants.py with their sources).
    """
    rounding = ROUNDING_CONFIG[tick]
    size_step = 10 ** (TOKEN_DECIMALS - rounding.size)
    amount_step = 10 ** (TOKEN_DECIMALS - rounding.amount)
    is_buy = order.side == "BUY"
    shares, pusd = (
        (order.taker_amount, order.maker_amount) if is_buy else (order.maker_amount, order.taker_amount)
    )
    if is_buy and (shares % size_step or pusd % amount_step):
        raise OrderRejected(ERR_LIMIT_BUY_PRECISION_FMT.format(maker_dp=rounding.amount))
    if not is_buy and shares % size_step:
        raise OrderRejected(ERR_SELL_PRECISION)
    price_step = Fraction(1, 10**rounding.price)
    price = round(Fraction(pusd, shares) / price_step) * price_step  # half-even, like the client's round
    expected = shares * price
    if expected != pusd:
        raise OrderRejected(
            ERR_AMOUNT_MISMATCH_FMT.format(
                leg="maker" if is_buy else "taker",
                price=fmt_units(int(price * UNIT)),
                size=fmt_units(shares),
                expected=fmt_units(round(expected)),
                given=fmt_units(pusd),
            )
        )


def check_expiration(
    order: NewOrder,
    now_s: float,
    *,
    security_s: float,
    reject_on_non_gtd: bool,
    accept_at_boundary: bool = False,
) -> None:
    """GTD: `expiration` must be more than `security_s` ahead; others must carry 0 (spec 5.1).

    `accept_at_boundary`: accept exactly `floor(now) + security_s` too — a third-party probe measured
    now + 60 s as the minimum the venue accepts (spec 5.1; issue 15 §9). Off by default (spec 5.1's
    "Simulator rule: reject expiration ≤ now + 60", the stricter reading; the boundary is UNCONFIRMED).
    """
    if order.order_type == "GTD":
        too_soon = (
            order.expiration < math.floor(now_s) + security_s
            if accept_at_boundary
            else order.expiration <= now_s + security_s
        )
        if too_soon:
            raise OrderRejected(ERR_INVALID_EXPIRATION)
    elif order.expiration != 0 and reject_on_non_gtd:
        raise OrderRejected(ERR_INVALID_EXPIRATION)


def taker_fee_units(shares_units: int, price_units: int, rate: float, exponent: float) -> int:
    """Taker fee = C × rate × (p(1−p))^exponent, rounded to 5 decimals, at least 0.00001 (spec 9)."""
    if rate <= 0:
        return 0
    p = price_units / UNIT
    raw = shares_units / UNIT * rate * (p * (1 - p)) ** exponent
    if raw <= 0:
        return 0
    fee = max(round(raw, _FEE_DECIMALS), 10.0**-_FEE_DECIMALS)
    return round(fee * UNIT)


def balance_error(
    balance_units: int, reserved_units: int, required_units: int, *, fees: bool
) -> OrderRejected:
    """The venue's balance/allowance rejection with its live-style suffix (spec 5.3)."""
    parts = [f"balance: {balance_units}"]
    if reserved_units:
        parts.append(f"sum of active orders: {reserved_units}")
    parts.append(f"order amount (inc. fees): {required_units}" if fees else f"order amount: {required_units}")
    return OrderRejected(f"{ERR_BALANCE_PREFIX}: the balance is not enough -> {', '.join(parts)}")


class EngineMode:
    """The engine's mode and when it ends. A restart window (425) is followed by post-only mode (spec 9).

    Placement is refused in "restarting" (425), "disabled" and "cancel_only" (503), and in "post_only"
    (503 with code and retry-after) unless the order is post-only. Cancels are refused only while
    restarting.
    """

    def __init__(self, post_only_after_restart_s: float) -> None:
        self._after_restart_s = post_only_after_restart_s
        self.mode = "normal"
        self.until_s: float | None = None

    def __repr__(self) -> str:
        return f"<EngineMode {self.mode} until={self.until_s}>"

    def set(self, mode: str, until_s: float | None) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {sorted(MODES)}")
        self.mode, self.until_s = mode, until_s

    def update(self, now_s: float) -> None:
        """Move past every window that has ended by `now_s`."""
        while self.until_s is not None and now_s >= self.until_s:
            if self.mode == "restarting":
                self.mode, self.until_s = "post_only", self.until_s + self._after_restart_s
            else:
                self.mode, self.until_s = "normal", None

    def _retry_after(self, now_s: float) -> int | None:
        return None if self.until_s is None else max(1, math.ceil(self.until_s - now_s))

    def check_place(self, post_only: bool, now_s: float) -> None:
        self.update(now_s)
        if self.mode == "restarting":
            raise OrderRejected(ERR_ENGINE_RESTARTING, 425, retry_after_s=self._retry_after(now_s))
        if self.mode == "disabled":
            raise OrderRejected(ERR_TRADING_DISABLED, 503)
        if self.mode == "cancel_only":
            raise OrderRejected(ERR_CANCEL_ONLY, 503)
        if self.mode == "post_only" and not post_only:
            raise OrderRejected(
                ERR_POST_ONLY_MODE, 503, code=ERR_POST_ONLY_MODE_CODE, retry_after_s=self._retry_after(now_s)
            )

    def check_cancel(self, now_s: float) -> None:
        self.update(now_s)
        if self.mode == "restarting":
            raise OrderRejected(ERR_ENGINE_RESTARTING, 425, retry_after_s=self._retry_after(now_s))
