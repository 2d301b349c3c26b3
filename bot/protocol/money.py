"""Money as integers: prices in ticks of a tick grid, shares and pUSD in micro-units (10⁻⁶).

Why integers: the venue's amounts are 6-decimal on-chain units and its prices sit on a decimal tick grid;
binary floats cannot hold 0.29 or 0.57, and a float floor of `0.57 * 100` is 56 (one tick low). Every
money value the engine computes with is an `int` here; the wire's decimal strings are parsed exactly at
the edge (`parse_micro`, memoised for the market stream by `MicroMemo`), the signature takes the integers (`bot.protocol.amounts.limit_order_units`),
and floats appear only where a human reads a number (`micro_to_float`, `TickGrid.price_float`).

- `MICRO` = 10⁶ units per share or per pUSD (the venue's and the token contracts' 6 decimals).
- A price is also a micro-amount (pUSD per share × 10⁶) where no grid is known yet (the parse edge, the
  book); `TickGrid` turns it into ticks of the market's current tick size and back, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, Final

from bot.protocol.constants import ROUNDING_CONFIG, TOKEN_UNIT, RoundConfig

__all__ = [
    "MICRO",
    "MicroMemo",
    "TickGrid",
    "micro_from_float",
    "micro_text",
    "micro_to_float",
    "parse_micro",
    "tick_grid",
]

MICRO: Final = TOKEN_UNIT  # 10**6: one share or one pUSD in the venue's units (spec 3.4)
_MICRO_DECIMALS: Final = 6
_PLACE_SCALE: Final = tuple(10 ** (_MICRO_DECIMALS - places) for places in range(_MICRO_DECIMALS + 1))
_DIGITS_MAX: Final = 30  # integer digits beyond any amount or price (10**30): refused, not computed


def parse_micro(value: Any) -> int:
    """An exact decimal (string, int, or a JSON number) → micro-units, half-even beyond 6 decimals.

    The venue sends at most 6 decimals (its on-chain unit), so every real input is exact. A JSON float is
    read through its shortest repr (0.1 → "0.1"), never its binary expansion. ValueError for anything
    that is not a finite decimal (booleans, NaN, infinities, garbage); the sign is kept.
    """
    if type(value) is int:
        return value * MICRO
    if type(value) is float:
        value = repr(value)
    elif type(value) is not str:
        raise ValueError(f"not a decimal amount: {type(value).__name__}")
    text = value.strip()
    whole, dot, frac = text.partition(".")
    if dot and whole.lstrip("-").isdigit() and frac.isdigit() and len(frac) <= _MICRO_DECIMALS:
        # The common shape ("0.53", "12.5", "-3.25"): digits only, no Decimal needed.
        units = int(whole) * MICRO
        part = int(frac.ljust(_MICRO_DECIMALS, "0"))
        return units - part if whole.startswith("-") else units + part
    if not dot and text.lstrip("-").isdigit():
        return int(text) * MICRO
    try:
        exact = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a decimal amount: {value[:40]!r}") from None
    if not exact.is_finite():
        raise ValueError(f"amount not finite: {value[:40]!r}")
    if exact and exact.adjusted() > _DIGITS_MAX:
        # "1e999999999" would be an exact integer of a billion digits: refuse before building it.
        raise ValueError(f"amount out of range: {value[:40]!r}")
    return int((exact * MICRO).to_integral_value())  # ROUND_HALF_EVEN, the decimal default


class MicroMemo(dict[str, int]):
    """`parse_micro` with a memory: the exact micro-units of each decimal text seen, checked against a range.

    Why: the market channel repeats a few texts (every price sits on a tick grid; sizes recur), and a dict
    lookup costs what `float()` does, where parsing the digits costs several times more (measured in
    `ops/bench_marketdata.py`). Rejected: floats converted later (not exact past a few decimals, and the
    conversion is a round trip the reader must trust) and `Decimal` (slower than parsing the digits).

    `memo[text]` is the integer, or ValueError for anything `parse_micro` refuses or outside
    [0, `limit_micro`]. Only `str` keys are remembered, at most `max_items` of them: a new text past the
    bound starts the memory afresh, so it holds the texts of the recent traffic and garbage cannot grow it.
    """

    __slots__ = ("limit_micro", "max_items")

    def __init__(self, limit_micro: int, max_items: int) -> None:
        super().__init__()
        self.limit_micro = limit_micro
        self.max_items = max_items

    def __missing__(self, text: str) -> int:
        if type(text) is str:
            # The wire's shape ("12.5", "0.301", "100"): digits with at most 6 decimals, read in one int().
            dot = text.find(".")
            digits, places = (text, 0) if dot < 0 else (text[:dot] + text[dot + 1 :], len(text) - dot - 1)
            if places <= _MICRO_DECIMALS and digits.isdigit():
                units = int(digits) * _PLACE_SCALE[places]
            else:
                units = parse_micro(text)  # anything else: signs, exponents, more decimals, spaces, garbage
        elif type(text) is bool:
            raise ValueError("not a decimal amount: bool")
        else:
            units = parse_micro(text)
        if not 0 <= units <= self.limit_micro:
            raise ValueError(f"amount outside [0, {micro_text(self.limit_micro)}]: {text!r}"[:80])
        if type(text) is str:
            if len(self) >= self.max_items:
                self.clear()  # once per `max_items` new texts: amortised O(1), and no stale texts kept
            self[text] = units
        return units


def micro_from_float(value: float) -> int:
    """Micro-units of a float written as a decimal of at most 6 decimals (settings, Gamma's market metadata).

    Not for wire money: market data and account data are parsed from their text (`parse_micro`, `MicroMemo`).

    Exact for every such value below 10**9 (a billion shares or pUSD): there a float's spacing is at most
    2**-23, so the parsed float is within 0.06 units of the decimal and the product's own rounding adds at
    most 0.07 — well under half a unit. (Past ~4e9 the spacing reaches a micro-unit and it is not exact.) No epsilon: this is the nearest
    integer, not a floor.
    """
    return round(value * MICRO)


def notional_micro(shares_micro: int, price_micro: int) -> int:
    """pUSD × 10⁶ of `shares_micro` at `price_micro`, rounded up (a cap or a cost must not be undercounted)."""
    return -(-shares_micro * price_micro // MICRO)


def micro_to_float(units: int) -> float:
    """For display and metrics only: never feed the result back into money arithmetic."""
    return units / MICRO


def micro_text(units: int) -> str:
    """The exact decimal text of a micro-amount, without trailing zeros ("5.1", "0.000001", "-2")."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), MICRO)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")


@dataclass(frozen=True, slots=True)
class TickGrid:
    """One tick size as integers: a price is `ticks × tick_micro` micro-pUSD per share.

    `max_ticks` is the tick count of $1; the venue accepts prices in [1, max_ticks − 1] ticks (spec 3.4).
    """

    tick_size: str
    tick_micro: int
    decimals: int  # price decimals of the grid (ROUNDING_CONFIG's `price`)
    rounding: RoundConfig

    @property
    def max_ticks(self) -> int:
        return MICRO // self.tick_micro

    def price_micro(self, ticks: int) -> int:
        return ticks * self.tick_micro

    def floor_ticks(self, price_micro: int) -> int:
        """Ticks of the highest grid price at or below `price_micro`."""
        return price_micro // self.tick_micro

    def ceil_ticks(self, price_micro: int) -> int:
        """Ticks of the lowest grid price at or above `price_micro`."""
        return -(-price_micro // self.tick_micro)

    def on_grid(self, price_micro: int) -> bool:
        return price_micro % self.tick_micro == 0

    def price_text(self, ticks: int) -> str:
        return micro_text(ticks * self.tick_micro)

    def price_float(self, ticks: int) -> float:
        """For display, journals and metrics only."""
        return ticks * self.tick_micro / MICRO


@cache
def tick_grid(tick_size: str) -> TickGrid:
    """The grid of a tick size given as the venue's string ("0.01"); ValueError if the venue has no such tick."""
    config = ROUNDING_CONFIG.get(tick_size) if type(tick_size) is str else None
    if config is None:
        raise ValueError(f"unknown tick size {tick_size!r}; expected one of {sorted(ROUNDING_CONFIG)}")
    return TickGrid(tick_size, parse_micro(tick_size), config.price, config)
