"""A completion capped at the best ask fills against that ask, at every price of every tick grid (issue 13,
finding 1).

Before: the cap went through the official client's float floor (`floor(0.57 * 100) == 56`), so at 0.29,
0.57 and 0.58 on the 0.01 grid (573 prices on 0.0001, 18 on 0.0025) the signed cap was one tick under the
ask, every FOK was killed, and each attempt first cancelled the whole ladder. Now the cap is signed from
integer ticks: the order's implied price, as the venue reads it (maker / taker snapped to the grid), is
the ask itself.
"""

from __future__ import annotations

import pytest

from bot.engine.completion import plan_completion
from bot.protocol.constants import ROUNDING_CONFIG, Side
from bot.protocol.money import MICRO, tick_grid
from bot.protocol.signing import OrderSigner
from bot.sim.model import NewOrder
from bot.sim.rules import limit_price_units
from tests.sim.orders import limit
from tests.sim.test_engine import NO, YES, make_exchange

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SIGNER = OrderSigner(KEY)
LAG = "2222"


def _plan_at(tick: str, ask_ticks: int):
    grid = tick_grid(tick)
    # The leading side cost nothing and the edge is zero: the pair limit never binds, the ask does.
    return plan_completion(
        lagging_token_id=LAG, imbalance_micro=20_000 * MICRO, leading_cost_micro=0, leading_shares_micro=20_000 * MICRO,
        grid=grid, min_edge_micro=0, max_pair_cost_micro=None, fee_rate=0.0, fee_exponent=1.0,
        best_ask_micro=grid.price_micro(ask_ticks),
    )


def _signed(plan, tick: str):
    return SIGNER.build_market_units(token_id=LAG, amount_micro=plan.amount_micro, price_cap_ticks=plan.price_ticks,
                                     side=Side.BUY, tick_size=tick, salt=1, timestamp_ms=0)


@pytest.mark.parametrize("tick", sorted(ROUNDING_CONFIG))
def test_every_grid_price_as_the_best_ask_is_the_signed_cap(tick):
    grid = tick_grid(tick)
    short = []
    for ask_ticks in range(1, grid.max_ticks):
        plan = _plan_at(tick, ask_ticks)
        assert plan is not None and plan.price_ticks == ask_ticks
        signed = _signed(plan, tick)
        order = NewOrder(signed.order_id, "k", "0x", "0x", LAG, "BUY", signed.maker_amount, signed.taker_amount,
                         "FOK", False, 0, 0)
        if limit_price_units(order, tick) < grid.price_micro(ask_ticks):
            short.append(grid.price_text(ask_ticks))
    assert short == []


@pytest.mark.parametrize("ask", ["0.29", "0.57", "0.58", "0.59", "0.60"])
def test_a_fok_capped_at_the_best_ask_fills_on_the_simulator(ask):
    exchange, _clock, _events = make_exchange()
    # Somebody bids for YES at 1 - ask: on the mirrored book that is an ask for NO at `ask`.
    exchange.place(limit("alice", YES, "BUY", str(round(1 - float(ask), 2)), 100))
    grid = tick_grid("0.01")
    plan = plan_completion(
        lagging_token_id=NO, imbalance_micro=10 * MICRO, leading_cost_micro=3 * MICRO,
        leading_shares_micro=10 * MICRO, grid=grid, min_edge_micro=0, max_pair_cost_micro=None,
        fee_rate=0.0, fee_exponent=1.0, best_ask_micro=grid.price_micro(round(float(ask) * 100)),
    )
    assert plan is not None and plan.price_cap == float(ask)
    signed = SIGNER.build_market_units(token_id=NO, amount_micro=plan.amount_micro, price_cap_ticks=plan.price_ticks,
                                       side=Side.BUY, tick_size="0.01")
    result = exchange.place(NewOrder(signed.order_id, "bob", "0xbob", "0xbob", NO, "BUY", signed.maker_amount,
                                     signed.taker_amount, "FOK", False, 0, 0))
    assert result.status == "matched"
