"""Where py-clob-client-v2's float arithmetic signs other amounts than its own rules say, and why ours differ.

The reference floors and trims in binary floats. Its rules (spec 3.4, 4) are exact decimal rules; where
float noise moves a floor, the reference signs one unit less than its rule, and we sign the rule
(`bot.protocol.amounts`, integers). Everywhere else the bodies are byte-identical (the oracle test). The
four kinds of divergent input, each pinned below with real examples:

1. **Market cap floor** (`floor(price × 10^dp)`): 0.57 × 100 = 56.99999999999999, so a cap of 0.57 is
   signed as 0.56, one tick *worse than asked*. On the 0.01 grid: 0.29, 0.57, 0.58; on 0.0025: 18 prices;
   on 0.0001: 573 prices; none on 0.1, 0.005, 0.001. A completion capped at the best ask was killed by
   that ask (issue 13, finding 1). Ours signs the cap asked for.
2. **Market amount floor** (pUSD to 2 decimals): 5.1 × 100 = 509.99999999999994, so $5.10 is signed as
   $5.09 (4586 of the cent amounts from $0.01 to $1000.00). The gateway used to add 1e-7 to dodge it.
3. **Limit size floor** (shares to 2 decimals): 16.99 shares are signed as 16.98 (the same floor).
4. **Market BUY share trim**: the reference rounds amount / price up at amount_dp + 4 decimals to absorb
   float noise, but a large quotient's noise exceeds that guard: $999.90 at 0.0022 is exactly 454500
   shares, signed as 454499.999999.

In every case float noise moves a floor down: the reference signs a lower cap, fewer pUSD or fewer
shares than its own rule; ours signs the rule, and never a price worse than the one intended.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from bot.protocol.amounts import limit_order_amounts, market_order_amounts
from bot.protocol.constants import ROUNDING_CONFIG, Side
from tests.protocol.reference_exact import (
    exact_limit_amounts,
    exact_market_amounts,
    reference_limit,
    reference_market,
)


def _cap_floor_slips(tick: str) -> list[str]:
    dp = ROUNDING_CONFIG[tick].price
    step = Decimal(tick)
    prices = (k * step for k in range(1, int(1 / step)))
    return [str(p) for p in prices if math.floor(float(p) * 10**dp) != p * 10**dp]


@pytest.mark.parametrize(
    ("tick", "count", "first"),
    [
        ("0.1", 0, []),
        ("0.01", 3, ["0.29", "0.57", "0.58"]),
        ("0.005", 0, []),
        ("0.0025", 18, ["0.1425", "0.1725", "0.2825"]),
        ("0.001", 0, []),
        ("0.0001", 573, ["0.0003", "0.0006", "0.0012"]),
    ],
)
def test_kind_1_cap_floor_signs_a_tick_low_at_these_grid_prices(tick, count, first):
    slips = _cap_floor_slips(tick)
    assert (len(slips), slips[:3]) == (count, first)
    for price in slips:
        _, ref_taker = reference_market("BUY", 100, price, tick)
        maker, taker = market_order_amounts(Side.BUY, 100, price, tick)
        assert (maker, taker) == exact_market_amounts("BUY", 100, price, tick)
        assert taker < ref_taker  # the reference buys more shares: its signed price is lower than asked
        assert Decimal(maker) / taker >= Decimal(price) > Decimal(maker) / ref_taker


def test_kind_1_the_three_prices_of_the_cent_grid():
    for price, signed_by_reference in (("0.29", "0.28"), ("0.57", "0.56"), ("0.58", "0.57")):
        maker, taker = reference_market("BUY", 25, price, "0.01")
        assert round(Decimal(maker) / taker, 2) == Decimal(signed_by_reference)
        maker, taker = market_order_amounts(Side.BUY, 25, price, "0.01")
        assert round(Decimal(maker) / taker, 2) == Decimal(price)


def test_kind_2_amount_floor_drops_a_cent():
    assert sum(math.floor(c / 100 * 100) != c for c in range(1, 100_001)) == 4586
    assert reference_market("BUY", 5.1, "0.5", "0.01")[0] == 5_090_000
    assert market_order_amounts(Side.BUY, 5.1, "0.5", "0.01")[0] == 5_100_000


def test_kind_3_limit_size_floor_drops_a_hundredth_of_a_share():
    assert reference_limit("BUY", 16.99, "0.0001", "0.0001")[1] == 16_980_000
    assert limit_order_amounts(Side.BUY, 16.99, "0.0001", "0.0001")[1] == 16_990_000
    assert exact_limit_amounts("BUY", 16.99, "0.0001", "0.0001")[1] == 16_990_000


def test_kind_4_a_large_quotient_outgrows_the_trim_guard():
    assert reference_market("BUY", 999.9, "0.0022", "0.0001") == (999_900_000, 454_499_999_999)
    assert market_order_amounts(Side.BUY, "999.9", "0.0022", "0.0001") == (999_900_000, 454_500_000_000)
