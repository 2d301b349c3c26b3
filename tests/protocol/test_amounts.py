"""Amounts and rounding: spec examples, and equality with py-clob-client-v2 wherever its float arithmetic is exact."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG as REF_ROUNDING_CONFIG

from bot.protocol.amounts import (
    limit_order_amounts,
    limit_order_units,
    market_order_amounts,
    market_order_units,
    price_in_range,
    price_on_tick_grid,
    tick_decimals,
)
from bot.protocol.constants import ROUNDING_CONFIG, Side
from tests.protocol.reference_exact import (
    exact_limit_amounts,
    exact_market_amounts,
    reference_limit,
    reference_market,
)

TICKS = sorted(ROUNDING_CONFIG)


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
        # 3 × 0.1 is 0.30000000000000004 in floats; in integers it is exactly 0.3 pUSD.
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
    assert maker == amount_cents * 10_000  # exactly the cents asked for: no float floor slips a cent
    # Shares bought = pUSD / price (within the trim to amount_dp decimals), never pUSD × price.
    shares_units = Decimal(maker) / price
    one_trim_unit = Decimal(10) ** (6 - ROUNDING_CONFIG[tick].amount)
    assert abs(Decimal(taker) - shares_units) <= one_trim_unit
    assert taker > maker  # price < 1: a dollar buys more than one share


@pytest.mark.parametrize(("tick", "price_micro"), [("0.01", 570_000), ("0.0001", 300), ("0.0025", 142_500)])
def test_integer_api_equals_the_number_api(tick, price_micro) -> None:
    assert market_order_units(Side.BUY, 25_000_000, price_micro, tick) == market_order_amounts(
        Side.BUY, 25, Decimal(price_micro) / 10**6, tick
    )
    assert limit_order_units(Side.SELL, 12_345_678, price_micro, tick) == limit_order_amounts(
        Side.SELL, "12.345678", Decimal(price_micro) / 10**6, tick
    )


def test_integer_api_refuses_a_price_finer_than_the_grid_decimals() -> None:
    with pytest.raises(ValueError, match="decimals"):
        limit_order_units(Side.BUY, 10_000_000, 575_000, "0.01")


finite_sizes = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)
unit_prices = st.floats(min_value=0.0001, max_value=0.9999, allow_nan=False, allow_infinity=False)
cent_amounts = st.integers(0, 10**9).map(lambda c: c / 100)


@settings(max_examples=400, deadline=None)
@given(
    side=st.sampled_from(["BUY", "SELL"]),
    size=finite_sizes | cent_amounts,
    price=unit_prices,
    tick=st.sampled_from(TICKS),
)
def test_limit_amounts_equal_the_reference_wherever_its_floats_are_exact(side, size, price, tick) -> None:
    ours = limit_order_amounts(Side[side], size, price, tick)
    exact = exact_limit_amounts(side, size, price, tick)
    assert ours == exact  # the reference's rules, exactly
    reference = reference_limit(side, size, price, tick)
    if reference != exact:  # float noise moved one of its floors: see test_amounts_divergence.py
        return
    assert ours == reference


@settings(max_examples=400, deadline=None)
@given(
    side=st.sampled_from(["BUY", "SELL"]),
    amount=finite_sizes | cent_amounts,
    price=unit_prices,
    tick=st.sampled_from(TICKS),
)
def test_market_amounts_equal_the_reference_wherever_its_floats_are_exact(side, amount, price, tick) -> None:
    if side == "BUY" and Decimal(repr(price)) < Decimal(1).scaleb(-ROUNDING_CONFIG[tick].price):
        with pytest.raises(ValueError):
            market_order_amounts(Side.BUY, amount, price, tick)
        return
    ours = market_order_amounts(Side[side], amount, price, tick)
    exact = exact_market_amounts(side, amount, price, tick)
    assert ours == exact
    reference = reference_market(side, amount, price, tick)
    if reference != exact:
        return
    assert ours == reference


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
