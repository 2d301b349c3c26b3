"""Amounts and rounding: spec examples, and equality with py-clob-client-v2's float arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG as REF_ROUNDING_CONFIG
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_builder.helpers import decimal_places as ref_decimal_places

from bot.protocol import amounts
from bot.protocol.amounts import (
    limit_order_amounts,
    market_order_amounts,
    price_in_range,
    price_on_tick_grid,
    tick_decimals,
)
from bot.protocol.constants import ROUNDING_CONFIG, Side

TICKS = sorted(ROUNDING_CONFIG)
# get_order_amounts / get_market_order_amounts do not touch the signer: the pure arithmetic oracle.
REFERENCE = OrderBuilder(signer=None)


def test_rounding_table_matches_the_reference_client() -> None:
    assert {tick: (c.price, c.size, c.amount) for tick, c in ROUNDING_CONFIG.items()} == {
        tick: (c.price, c.size, c.amount) for tick, c in REF_ROUNDING_CONFIG.items()
    }


@pytest.mark.parametrize(
    ("side", "size", "price", "tick", "expected"),
    [
        (Side.BUY, 10, 0.53, "0.01", (5_300_000, 10_000_000)),
        (Side.SELL, 10, 0.53, "0.01", (10_000_000, 5_300_000)),
        (Side.BUY, 12.345, 0.537, "0.001", (6_626_580, 12_340_000)),  # shares floored to 12.34
        (Side.BUY, "12.345", "0.537", "0.001", (6_626_580, 12_340_000)),  # strings are accepted
        (Side.BUY, Decimal("10"), Decimal("0.53"), "0.01", (5_300_000, 10_000_000)),
        # 3 × 0.1 = 0.30000000000000004 in floats: rounded up at amount_dp + 4, so exactly 0.3 pUSD.
        (Side.BUY, 3, 0.1, "0.1", (300_000, 3_000_000)),
    ],
)
def test_limit_amounts_match_the_spec_examples(side, size, price, tick, expected) -> None:
    assert limit_order_amounts(side, size, price, tick) == expected


def test_market_buy_amount_is_pusd_to_spend() -> None:
    # Spec 4: BUY $25 with cap 0.54 → maker 25 pUSD, taker 46.2962 shares (= 25 / 0.54, trimmed).
    assert market_order_amounts(Side.BUY, 25, 0.54, "0.01") == (25_000_000, 46_296_200)


def test_market_sell_amount_is_shares() -> None:
    assert market_order_amounts(Side.SELL, 40, 0.52, "0.01") == (40_000_000, 20_800_000)


def test_market_price_cap_is_floored_not_rounded() -> None:
    # 0.549 floors to 0.54 on a 0.01 grid (round-half would give 0.55 and fewer shares).
    assert market_order_amounts(Side.BUY, 25, 0.549, "0.01") == market_order_amounts(
        Side.BUY, 25, 0.54, "0.01"
    )


@settings(max_examples=200, deadline=None)
@given(
    tick=st.sampled_from(TICKS),
    price_ticks=st.integers(min_value=1, max_value=9999),
    amount_cents=st.integers(min_value=100, max_value=10_000_000),
)
def test_market_buy_never_computes_taker_as_amount_times_price(tick, price_ticks, amount_cents) -> None:
    tick_value = Decimal(tick)
    price = price_ticks * tick_value
    if price > 1 - tick_value:
        price = 1 - tick_value
    amount_pusd = Decimal(amount_cents) / 100
    maker, taker = market_order_amounts(Side.BUY, str(amount_pusd), str(price), tick)
    # The reference floors the amount in floats, so 19425.35 can become 19425.34: at most one cent less.
    assert 0 <= int(amount_pusd * 1_000_000) - maker <= 10_000
    # Shares bought = pUSD / price (within the trim to amount_dp decimals), never pUSD × price. The price
    # is the cap floored in floats like the reference does (which can drop a tick, see the test below).
    floored_price = Decimal(repr(amounts._round_down(float(price), ROUNDING_CONFIG[tick].price)))
    shares_units = Decimal(maker) / floored_price
    one_trim_unit = Decimal(10) ** (6 - ROUNDING_CONFIG[tick].amount)
    assert abs(Decimal(taker) - shares_units) <= one_trim_unit
    assert taker > maker  # price < 1: a dollar buys more than one share


@pytest.mark.parametrize(
    ("cap", "signed_price"), [("0.29", 0.28), ("0.57", 0.56), ("0.58", 0.57), ("0.56", 0.56)]
)
def test_market_cap_floor_drops_a_tick_on_float_noise_like_the_reference(cap, signed_price) -> None:
    # 0.57 * 100 == 56.99999999999999 in floats, so the reference's floor signs 0.56. We copy the
    # oracle on purpose; this pins the quirk so that changing it is a deliberate decision.
    maker, taker = market_order_amounts(Side.BUY, 25, cap, "0.01")
    _, ref_maker, ref_taker = REFERENCE.get_market_order_amounts(
        "BUY", 25, float(cap), REF_ROUNDING_CONFIG["0.01"]
    )
    assert (maker, taker) == (ref_maker, ref_taker)
    assert abs(maker / taker - signed_price) < 1e-5


finite_sizes = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)
unit_prices = st.floats(min_value=0.0001, max_value=0.9999, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(side=st.sampled_from(list(Side)), size=finite_sizes, price=unit_prices, tick=st.sampled_from(TICKS))
def test_limit_amounts_equal_the_reference_for_any_float(side, size, price, tick) -> None:
    _, ref_maker, ref_taker = REFERENCE.get_order_amounts(side.name, size, price, REF_ROUNDING_CONFIG[tick])
    assert limit_order_amounts(side, size, price, tick) == (ref_maker, ref_taker)


@settings(max_examples=300, deadline=None)
@given(side=st.sampled_from(list(Side)), amount=finite_sizes, price=unit_prices, tick=st.sampled_from(TICKS))
def test_market_amounts_equal_the_reference_for_any_float(side, amount, price, tick) -> None:
    config = REF_ROUNDING_CONFIG[tick]
    if side == Side.BUY and amounts._round_down(price, config.price) == 0:
        with pytest.raises(ValueError):
            market_order_amounts(side, amount, price, tick)
        return
    _, ref_maker, ref_taker = REFERENCE.get_market_order_amounts(side.name, amount, price, config)
    assert market_order_amounts(side, amount, price, tick) == (ref_maker, ref_taker)


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False) | st.floats(min_value=1e-9, max_value=1e9))
def test_decimal_places_fast_path_equals_the_reference(x) -> None:
    assert amounts._decimal_places(x) == ref_decimal_places(x)


@pytest.mark.parametrize(
    ("price", "tick", "on_grid"),
    [
        ("0.53", "0.01", True),
        ("0.535", "0.01", False),
        ("0.535", "0.005", True),
        ("0.537", "0.005", False),  # 3 price decimals but not a multiple of 0.005
        ("0.5375", "0.0025", True),
        (0.1 + 0.2, "0.1", True),  # binary noise is not a grid violation
        (0.1 + 0.2, "0.01", True),
        (0.30000001, "0.01", False),
        (Decimal("0.0001"), "0.0001", True),
        (1, "0.01", True),
    ],
)
def test_price_on_tick_grid(price, tick, on_grid) -> None:
    assert price_on_tick_grid(price, tick) is on_grid


def test_price_range_is_tick_to_one_minus_tick() -> None:
    assert price_in_range(0.01, "0.01") and price_in_range("0.99", "0.01")
    assert not price_in_range(0.0, "0.01") and not price_in_range(0.995, "0.01")


@pytest.mark.parametrize(
    ("tick", "decimals"), [("0.1", 1), ("0.01", 2), ("0.005", 3), ("0.0025", 4), ("0.001", 3), ("0.0001", 4)]
)
def test_tick_decimals(tick, decimals) -> None:
    assert tick_decimals(tick) == decimals


def test_unknown_tick_or_side_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown tick size"):
        limit_order_amounts(Side.BUY, 10, 0.5, "0.02")
    with pytest.raises(ValueError, match="unknown tick size"):
        price_on_tick_grid(0.5, "0.02")
    with pytest.raises(ValueError, match="side"):
        limit_order_amounts(2, 10, 0.5, "0.01")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a number"):
        limit_order_amounts(Side.BUY, "ten", 0.5, "0.01")
