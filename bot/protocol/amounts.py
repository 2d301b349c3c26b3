"""Order amounts (1e6 units) from price and size, bit-for-bit as py-clob-client-v2 computes them.

Spec: docs/protocol/polymarket-clob.md sections 3.4 (limit) and 4 (market). The official client's
`OrderBuilder.get_order_amounts` / `get_market_order_amounts` (order_builder/builder.py, helpers.py) is
the oracle, float quirks included: inputs are converted to `float` first and then go through the same
float operations in the same order, so our amounts equal the client's for every input (the oracle test
in tests/protocol/test_signing_oracle.py pins this). We deliberately do not "fix" the arithmetic with
Decimal: an order whose amounts differ from the reference client's by one unit would be a different
order than every other tool computes for the same price and size.

- Limit: price rounded half-even to the tick's price decimals; shares floored to 2 decimals; the
  derived pUSD amount rounded up at `amount_dp + 4` decimals (kills float noise) and, if still too
  long, down to `amount_dp`.
- Market (V2): the price cap is floored (not rounded); a BUY `amount` is pUSD to spend and the shares
  are `amount / price`; a SELL `amount` is shares and the pUSD is `shares * price`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.protocol.constants import ROUNDING_CONFIG, TOKEN_UNIT, RoundConfig, Side

__all__ = [
    "limit_order_amounts",
    "market_order_amounts",
    "price_in_range",
    "price_on_tick_grid",
    "round_config",
    "tick_decimals",
]

# Binary floats carry noise far below any tick (0.1 + 0.2 == 0.30000000000000004, ~1e-12 of a price
# unit after scaling); a float within this fraction of the tick's last decimal of a grid point is on it.
_FLOAT_NOISE_UNITS = 1e-9


@dataclass(frozen=True, slots=True)
class _TickGrid:
    scale: int  # 10 ** tick decimals
    tick_units: int  # the tick in units of 1 / scale ("0.005" → 5 of 1/1000)
    tick: Decimal
    tick_float: float


def _grid(tick_size: str) -> _TickGrid:
    decimals = len(tick_size.partition(".")[2])
    tick = Decimal(tick_size)
    return _TickGrid(10**decimals, int(tick * 10**decimals), tick, float(tick))


_GRIDS: dict[str, _TickGrid] = {tick_size: _grid(tick_size) for tick_size in ROUNDING_CONFIG}


def round_config(tick_size: str) -> RoundConfig:
    """The rounding row for a tick size given as the venue's string ("0.01"); ValueError if unknown."""
    try:
        return ROUNDING_CONFIG[tick_size]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown tick size {tick_size!r}; expected one of {sorted(ROUNDING_CONFIG)}"
        ) from None


def _tick_grid(tick_size: str) -> _TickGrid:
    try:
        return _GRIDS[tick_size]
    except (KeyError, TypeError):
        round_config(tick_size)  # raises the ValueError
        raise


def tick_decimals(tick_size: str) -> int:
    """Decimal places of a tick size ("0.01" → 2, "0.0025" → 4); ValueError if unknown."""
    return len(str(_tick_grid(tick_size).scale)) - 1


def price_on_tick_grid(price: float | Decimal | str | int, tick_size: str) -> bool:
    """True iff `price` is a multiple of the tick: exactly for `str`/`Decimal`/`int`, and for a `float`
    up to binary noise (within 1e-9 of the tick's last decimal), so 0.1 + 0.2 counts as 0.3.

    Says nothing about the allowed range (see `price_in_range`). ValueError on an unknown tick or a
    non-finite or non-numeric price.
    """
    grid = _tick_grid(tick_size)
    if type(price) is float:
        if not math.isfinite(price):
            raise ValueError(f"price must be finite, got {price!r}")
        scaled = price * grid.scale
        nearest = round(scaled)
        return abs(scaled - nearest) <= _FLOAT_NOISE_UNITS and nearest % grid.tick_units == 0
    try:
        value = Decimal(price)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"not a number: {price!r}") from None
    if not value.is_finite():
        raise ValueError(f"price must be finite, got {price!r}")
    return value % grid.tick == 0


def price_in_range(price: float | Decimal | str | int, tick_size: str) -> bool:
    """True iff tick ≤ price ≤ 1 − tick, compared as floats like the reference's `price_valid`."""
    tick = _tick_grid(tick_size).tick_float
    return tick <= float(price) <= 1 - tick


# --- the reference client's float helpers (order_builder/helpers.py), same operations, same order ----


def _round_down(x: float, dp: int) -> float:
    return math.floor(x * (10**dp)) / (10**dp)


def _round_normal(x: float, dp: int) -> float:
    return round(x * (10**dp)) / (10**dp)


def _round_up(x: float, dp: int) -> float:
    return math.ceil(x * (10**dp)) / (10**dp)


def _decimal_places(x: float) -> int:
    # Reference: abs(Decimal(str(x)).as_tuple().exponent). For a plain repr ("5300000.0", "0.53") that is
    # the number of digits after the point; exponent forms ("1e-05", "1e+16") take the exact slow path.
    text = repr(x)
    point = text.find(".")
    if point >= 0 and "e" not in text:
        return len(text) - point - 1
    exponent = Decimal(text).as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError(f"amount must be finite, got {x!r}")
    return abs(exponent)


def _to_token_units(x: float) -> int:
    units = TOKEN_UNIT * x
    if _decimal_places(units) > 0:
        units = _round_normal(units, 0)
    return int(units)


def _trim_amount(raw: float, amount_dp: int) -> float:
    # Round up at amount_dp + 4 first: 0.1 * 3 = 0.30000000000000004 must become 0.3, not 0.3 minus a unit.
    if _decimal_places(raw) > amount_dp:
        raw = _round_up(raw, amount_dp + 4)
        if _decimal_places(raw) > amount_dp:
            raw = _round_down(raw, amount_dp)
    return raw


def _float(value: float | Decimal | str | int, name: str) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is not a number: {value!r}") from None
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return result


def limit_order_amounts(
    side: Side, size_shares: float | Decimal | str | int, price: float | Decimal | str | int, tick_size: str
) -> tuple[int, int]:
    """(makerAmount, takerAmount) in 1e6 units for a limit order, equal to the reference client's.

    BUY: maker = pUSD paid, taker = shares received. SELL: maker = shares given, taker = pUSD received.
    No range or grid checks here (see `OrderSigner.build_limit`); ValueError on an unknown tick or side.
    """
    config = round_config(tick_size)
    raw_price = _round_normal(_float(price, "price"), config.price)
    shares = _round_down(_float(size_shares, "size_shares"), config.size)
    pusd = _trim_amount(shares * raw_price, config.amount)
    if side == Side.BUY:
        return _to_token_units(pusd), _to_token_units(shares)
    if side == Side.SELL:
        return _to_token_units(shares), _to_token_units(pusd)
    raise ValueError(f"side must be Side.BUY or Side.SELL, got {side!r}")


def market_order_amounts(
    side: Side, amount: float | Decimal | str | int, price: float | Decimal | str | int, tick_size: str
) -> tuple[int, int]:
    """(makerAmount, takerAmount) in 1e6 units for a market (FOK/FAK) order, equal to the reference's.

    BUY: `amount` is **pUSD to spend**; maker = that pUSD, taker = amount / price shares (never
    amount × price). SELL: `amount` is shares; maker = shares, taker = shares × price pUSD. The price is
    floored to the tick's decimals (V2). ValueError on an unknown tick or side, or a price that floors to 0.
    """
    config = round_config(tick_size)
    raw_price = _round_down(_float(price, "price"), config.price)
    raw_amount = _round_down(_float(amount, "amount"), config.size)
    if side == Side.BUY:
        if raw_price <= 0:
            raise ValueError(f"market BUY price cap {price!r} floors to {raw_price}")
        shares = _trim_amount(raw_amount / raw_price, config.amount)
        return _to_token_units(raw_amount), _to_token_units(shares)
    if side == Side.SELL:
        pusd = _trim_amount(raw_amount * raw_price, config.amount)
        return _to_token_units(raw_amount), _to_token_units(pusd)
    raise ValueError(f"side must be Side.BUY or Side.SELL, got {side!r}")
