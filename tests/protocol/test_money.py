"""Money types: exact parsing to micro-units, exact text back, tick grids as integers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.protocol.constants import ROUNDING_CONFIG
from bot.protocol.money import MICRO, MicroMemo, micro_from_float, micro_text, parse_micro, tick_grid

micro_amounts = st.integers(min_value=-(10**15), max_value=10**15)


@given(micro_amounts)
def test_text_and_parse_round_trip_exactly(units):
    assert parse_micro(micro_text(units)) == units
    assert Decimal(micro_text(units)) == Decimal(units) / MICRO


@given(st.integers(min_value=0, max_value=10**15))  # below 1e9: the documented exact range
def test_a_float_parsed_from_six_decimals_gives_its_integer_back(units):
    assert micro_from_float(float(micro_text(units))) == units


@pytest.mark.parametrize(
    ("raw", "units"),
    [("0.53", 530_000), ("0.57", 570_000), ("5.1", 5_100_000), ("12", 12_000_000), (0.29, 290_000), (3, 3_000_000),
     ("1E+3", 1_000_000_000), ("0.0000005", 0), ("0.0000015", 2), ("-0.25", -250_000)],
)
def test_parse_micro_reads_decimals_exactly_and_rounds_half_even_past_six_places(raw, units):
    assert parse_micro(raw) == units


@pytest.mark.parametrize("raw", ["", "abc", "NaN", "Infinity", "1e999999999", None, True, [1]])
def test_parse_micro_refuses_what_is_not_a_finite_decimal(raw):
    with pytest.raises(ValueError):
        parse_micro(raw)


@pytest.mark.parametrize("tick", sorted(ROUNDING_CONFIG))
def test_every_grid_price_converts_to_ticks_and_back(tick):
    grid = tick_grid(tick)
    assert grid.tick_micro * grid.max_ticks == MICRO
    for ticks in range(1, grid.max_ticks):
        price = grid.price_micro(ticks)
        assert grid.floor_ticks(price) == grid.ceil_ticks(price) == ticks
        assert Decimal(grid.price_text(ticks)) == ticks * Decimal(tick)
        assert grid.floor_ticks(price + 1) == ticks and grid.ceil_ticks(price - 1) == ticks


def test_an_unknown_tick_is_refused():
    with pytest.raises(ValueError, match="unknown tick size"):
        tick_grid("0.02")


# --- the market stream's memoised parser ---------------------------------------------------------------


def _parse_in_range(text: str, limit: int) -> int | None:
    try:
        units = parse_micro(text)
    except ValueError:
        return None
    return units if 0 <= units <= limit else None


@given(st.one_of(
    st.decimals(min_value=0, max_value=10**9, places=6).map(str),
    st.decimals(min_value=0, max_value=10**9, places=2).map(lambda d: f"{d:f}"),
    st.integers(min_value=-10, max_value=10**12).map(str),
    st.text(alphabet="0123456789.-e+ _", max_size=12),
))
def test_the_memo_reads_every_text_as_parse_micro_does_within_its_range(text: str) -> None:
    memo = MicroMemo(10**15, max_items=8)
    expected = _parse_in_range(text, 10**15)
    for _ in range(2):  # parsed, then remembered: the same answer both times
        if expected is None:
            with pytest.raises(ValueError):
                memo[text]
        else:
            assert memo[text] == expected and type(memo[text]) is int
    assert (text in memo) == (expected is not None)  # refused texts are never remembered


def test_the_memo_is_bounded_and_starts_afresh_past_its_bound() -> None:
    memo = MicroMemo(MICRO, max_items=3)
    assert [memo[t] for t in ("0.1", "0.2", "0.3")] == [100_000, 200_000, 300_000] and len(memo) == 3
    assert memo["0.4"] == 400_000 and dict(memo) == {"0.4": 400_000}
    with pytest.raises(ValueError):
        memo["1.000001"]  # above its limit (a price above 1)
    with pytest.raises(ValueError):
        memo[True]  # type: ignore[index]
    assert memo[0.25] == 250_000 and 0.25 not in memo  # a JSON number is read exactly, not remembered
