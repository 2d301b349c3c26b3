"""Order amounts (10⁻⁶ units) from price and size, in integer arithmetic, with the official client's rules.

Spec: docs/protocol/polymarket-clob.md sections 3.4 (limit) and 4 (market). The rules are those of
py-clob-client-v2's `OrderBuilder.get_order_amounts` / `get_market_order_amounts`
(order_builder/builder.py, helpers.py); the arithmetic is exact integers, not the client's floats:

- Limit: price rounded half-even to the tick's price decimals; shares floored to `size` decimals (2); the
  pUSD leg is shares × price, which always fits the tick's `amount` decimals exactly.
- Market (V2): the price cap is floored to the tick's decimals (not rounded); the amount floored to 2
  decimals; a BUY `amount` is pUSD to spend and its shares are `amount / price`, rounded up at
  `amount + 4` decimals and then down to `amount` decimals; a SELL `amount` is shares and its pUSD
  `shares × price`.

Where the client's floats are exact, the amounts are the client's, unit for unit (the oracle test in
tests/protocol/test_signing_oracle.py pins every body and order id). Where its floats are not, ours are
the amounts its rules intend: it floors `0.57 * 100 == 56.99999999999999` to a cap of 0.56, one tick
worse than asked, and a completion capped at the best ask is then killed against that very ask. The
divergent inputs are listed, with the reason, in tests/protocol/test_amounts_divergence.py.

The engine calls the integer API (`limit_order_units`, `market_order_units`); the number-typed API
(`limit_order_amounts`, `market_order_amounts`) reads a float through its shortest repr (0.57 → "0.57"),
never its binary expansion, and then runs the same integer code.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from bot.protocol.constants import ROUNDING_CONFIG, RoundConfig, Side
from bot.protocol.money import MICRO, parse_micro, tick_grid

__all__ = [
    "limit_order_amounts",
    "limit_order_units",
    "market_order_amounts",
    "market_order_units",
    "price_in_range",
    "price_on_tick_grid",
    "round_config",
    "tick_decimals",
]

# Binary floats carry noise far below any tick (0.1 + 0.2 == 0.30000000000000004, ~1e-12 of a price
# unit after scaling); a float within this fraction of the tick's last decimal of a grid point is on it.
_FLOAT_NOISE_UNITS = 1e-9
# The client rounds a market BUY's shares up at `amount + 4` decimals before it floors them to `amount`.
_TRIM_GUARD_DECIMALS = 4


def round_config(tick_size: str) -> RoundConfig:
    """The rounding row for a tick size given as the venue's string ("0.01"); ValueError if unknown."""
    try:
        return ROUNDING_CONFIG[tick_size]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown tick size {tick_size!r}; expected one of {sorted(ROUNDING_CONFIG)}"
        ) from None


def tick_decimals(tick_size: str) -> int:
    """Decimal places of a tick size ("0.01" → 2, "0.0025" → 4); ValueError if unknown."""
    round_config(tick_size)
    return len(tick_size.partition(".")[2])


def _exact(value: float | Decimal | str | int, name: str) -> Decimal:
    if type(value) is bool:
        raise ValueError(f"{name} is not a number: {value!r}")
    if type(value) is float:
        value = repr(value)
    try:
        result = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"{name} is not a number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return result


def price_on_tick_grid(price: float | Decimal | str | int, tick_size: str) -> bool:
    """True iff `price` is a multiple of the tick: exactly for `str`/`Decimal`/`int`, and for a `float`
    up to binary noise (within 1e-9 of the tick's last decimal), so 0.1 + 0.2 counts as 0.3.

    Says nothing about the allowed range (see `price_in_range`). ValueError on an unknown tick or a
    non-finite or non-numeric price.
    """
    round_config(tick_size)
    grid = tick_grid(tick_size)
    if type(price) is float:
        if not math.isfinite(price):
            raise ValueError(f"price must be finite, got {price!r}")
        scale = 10 ** tick_decimals(tick_size)
        scaled = price * scale
        nearest = round(scaled)
        return abs(scaled - nearest) <= _FLOAT_NOISE_UNITS and nearest % (grid.tick_micro * scale // MICRO) == 0
    return _exact(price, "price") % Decimal(tick_size) == 0


def price_in_range(price: float | Decimal | str | int, tick_size: str) -> bool:
    """True iff tick ≤ price ≤ 1 − tick (a float up to binary noise, like the reference's `price_valid`)."""
    round_config(tick_size)
    tick = Decimal(tick_size)
    if type(price) is float:
        return float(tick) <= price <= 1 - float(tick)
    value = _exact(price, "price")
    return tick <= value <= 1 - tick


# --- the integer rules -------------------------------------------------------------------------------


def _check_side(side: Side) -> None:
    if side != Side.BUY and side != Side.SELL:
        raise ValueError(f"side must be Side.BUY or Side.SELL, got {side!r}")


def _units_per(decimals: int) -> int:
    """Micro-units in one unit of the last of `decimals` decimal places (2 → 10_000)."""
    return 10 ** (6 - decimals)


def limit_order_units(side: Side, size_micro: int, price_micro: int, tick_size: str) -> tuple[int, int]:
    """(makerAmount, takerAmount) for a limit order of `size_micro` shares at `price_micro`, exactly.

    BUY: maker = pUSD paid, taker = shares received. SELL: maker = shares given, taker = pUSD received.
    The price must have at most the tick's price decimals (a grid price does); the size is floored to the
    size decimals. ValueError on an unknown tick or side, a negative input or a price with more decimals.
    """
    config = round_config(tick_size)
    _check_side(side)
    if size_micro < 0 or price_micro < 0:
        raise ValueError(f"negative size or price: {size_micro}, {price_micro}")
    if price_micro % _units_per(config.price):
        raise ValueError(f"price {price_micro}e-6 has more than {config.price} decimals")
    shares = size_micro - size_micro % _units_per(config.size)
    # shares (size decimals) × price (price decimals) has size + price ≤ amount decimals: always exact.
    pusd = shares * price_micro // MICRO
    if side == Side.BUY:
        return pusd, shares
    return shares, pusd


def market_order_units(side: Side, amount_micro: int, price_micro: int, tick_size: str) -> tuple[int, int]:
    """(makerAmount, takerAmount) for a market (FOK/FAK) order, exactly.

    BUY: `amount_micro` is **pUSD to spend**; maker = that pUSD floored to cents, taker = amount / price
    shares (never amount × price). SELL: `amount_micro` is shares; taker = shares × price pUSD. The cap is
    floored to the tick's decimals. ValueError on an unknown tick or side, a negative input, or a BUY cap
    that floors to zero.
    """
    config = round_config(tick_size)
    _check_side(side)
    if amount_micro < 0 or price_micro < 0:
        raise ValueError(f"negative amount or price: {amount_micro}, {price_micro}")
    price = price_micro - price_micro % _units_per(config.price)
    amount = amount_micro - amount_micro % _units_per(config.size)
    if side == Side.BUY:
        if price <= 0:
            raise ValueError(f"market BUY price cap {price_micro}e-6 floors to 0")
        # shares = amount / price: round up at amount + 4 decimals, then down to amount decimals.
        guard = 10 ** (config.amount + _TRIM_GUARD_DECIMALS)
        shares_at_guard = -(-amount * guard // price)  # ceil(amount / price × 10**(amount_dp + 4))
        shares = shares_at_guard // 10**_TRIM_GUARD_DECIMALS * _units_per(config.amount)
        return amount, shares
    return amount, amount * price // MICRO


# --- the number-typed API (ops commands, doctor, tests): exact decimals, then the integer rules ------


def _micro(value: float | Decimal | str | int, name: str) -> int:
    return parse_micro(str(_exact(value, name)))


def _price_micro_rounded(price: float | Decimal | str | int, decimals: int) -> int:
    """The price rounded half-even to `decimals` decimals, in micro-units."""
    return parse_micro(str(round(_exact(price, "price"), decimals)))


def limit_order_amounts(
    side: Side, size_shares: float | Decimal | str | int, price: float | Decimal | str | int, tick_size: str
) -> tuple[int, int]:
    """(makerAmount, takerAmount) in 10⁻⁶ units for a limit order (see `limit_order_units`).

    No range or grid checks here (see `OrderSigner.build_limit`); ValueError on an unknown tick or side.
    """
    config = round_config(tick_size)
    _check_side(side)
    size = max(_exact(size_shares, "size_shares"), Decimal(0))
    size_micro = int(size.scaleb(6).to_integral_value(rounding="ROUND_FLOOR"))
    return limit_order_units(side, size_micro, max(_price_micro_rounded(price, config.price), 0), tick_size)


def market_order_amounts(
    side: Side, amount: float | Decimal | str | int, price: float | Decimal | str | int, tick_size: str
) -> tuple[int, int]:
    """(makerAmount, takerAmount) in 10⁻⁶ units for a market (FOK/FAK) order (see `market_order_units`).

    ValueError on an unknown tick or side, or a BUY price that floors to 0.
    """
    round_config(tick_size)
    _check_side(side)
    amount_exact = max(_exact(amount, "amount"), Decimal(0))
    price_exact = max(_exact(price, "price"), Decimal(0))
    amount_micro = int(amount_exact.scaleb(6).to_integral_value(rounding="ROUND_FLOOR"))
    price_micro = int(price_exact.scaleb(6).to_integral_value(rounding="ROUND_FLOOR"))
    return market_order_units(side, amount_micro, price_micro, tick_size)
