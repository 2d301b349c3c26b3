"""py-clob-client-v2's amount rules run in exact decimal arithmetic: what its float code means to compute.

Each function repeats the reference's operations (order_builder/builder.py, helpers.py) in the same order,
on the exact decimal a float stands for (its shortest repr, as the user typed it), with `Decimal` at a
precision no input here can exhaust. Where the reference's float result equals this one, the reference
is right and our signed amounts must equal it unit for unit; where it differs, float noise moved a
floor or a ceiling, and ours must equal this one instead.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext

from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG as REF_ROUNDING_CONFIG
from py_clob_client_v2.order_builder.builder import OrderBuilder

__all__ = ["REFERENCE", "exact_limit_amounts", "exact_market_amounts", "reference_limit", "reference_market"]

REFERENCE = OrderBuilder(signer=None)  # the amount helpers never touch the signer
_PREC = 60


def _d(x) -> Decimal:
    return Decimal(repr(x)) if type(x) is float else Decimal(str(x))


def _q(x: Decimal, dp: int, rounding: str) -> Decimal:
    return x.quantize(Decimal(1).scaleb(-dp), rounding=rounding)


def _places(x: Decimal) -> int:
    exponent = x.normalize().as_tuple().exponent
    return max(0, -exponent)


def _trim(raw: Decimal, amount_dp: int) -> Decimal:
    if _places(raw) > amount_dp:
        raw = _q(raw, amount_dp + 4, ROUND_CEILING)
        if _places(raw) > amount_dp:
            raw = _q(raw, amount_dp, ROUND_FLOOR)
    return raw


def _units(x: Decimal) -> int:
    return int(_q(x * 10**6, 0, ROUND_HALF_EVEN))


def exact_limit_amounts(side: str, size, price, tick: str) -> tuple[int, int]:
    config = REF_ROUNDING_CONFIG[tick]
    with localcontext() as ctx:
        ctx.prec = _PREC
        raw_price = _q(_d(price), config.price, ROUND_HALF_EVEN)
        shares = _q(_d(size), config.size, ROUND_FLOOR)
        pusd = _trim(shares * raw_price, config.amount)
        if side == "BUY":
            return _units(pusd), _units(shares)
        return _units(shares), _units(pusd)


def exact_market_amounts(side: str, amount, price, tick: str) -> tuple[int, int]:
    config = REF_ROUNDING_CONFIG[tick]
    with localcontext() as ctx:
        ctx.prec = _PREC
        raw_price = _q(_d(price), config.price, ROUND_FLOOR)
        raw_amount = _q(_d(amount), config.size, ROUND_FLOOR)
        if side == "BUY":
            return _units(raw_amount), _units(_trim(raw_amount / raw_price, config.amount))
        return _units(raw_amount), _units(_trim(raw_amount * raw_price, config.amount))


def reference_limit(side: str, size, price, tick: str) -> tuple[int, int]:
    _, maker, taker = REFERENCE.get_order_amounts(side, float(size), float(price), REF_ROUNDING_CONFIG[tick])
    return maker, taker


def reference_market(side: str, amount, price, tick: str) -> tuple[int, int]:
    _, maker, taker = REFERENCE.get_market_order_amounts(
        side, float(amount), float(price), REF_ROUNDING_CONFIG[tick]
    )
    return maker, taker
