"""The pair ladder remembers its last ladder past the guards (`PairLadderStrategy._last`): a strategy fed a
sequence of views answers each exactly as a fresh strategy would, the guards that read the time (cutoff,
start, stale book) and the state flags included."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.engine.strategy import MarketView, PairLadderParams, PairLadderStrategy, RestingOrder, TokenView
from bot.protocol.money import MICRO

UP, DOWN = "111", "222"

_PARAMS = PairLadderParams(
    ladder_levels=3, level_spacing_ticks=1, top_offset_ticks=0, size_per_level_shares=10.0, min_pair_edge=0.02,
    max_inventory_skew_shares=40.0, max_unpaired_shares=25.0, max_notional_per_market_pusd=30.0, stale_book_s=10.0,
)

_RESTING = st.lists(st.builds(RestingOrder, st.sampled_from((UP, DOWN)), st.sampled_from((None, 0, 1, 2)),
                              st.sampled_from((440_000, 450_000, 500_000)), st.sampled_from((0, 5 * MICRO, 10 * MICRO))),
                    max_size=3).map(tuple)


@st.composite
def views(draw: st.DrawFn) -> MarketView:
    """A view that passes every guard (the edits then break some)."""
    up_bid = draw(st.sampled_from((440_000, 450_000, 490_000)))
    up_ask = draw(st.sampled_from((None, 500_000, 520_000)))
    return MarketView(
        now_s=100.0, cutoff_s=1000.0, start_s=0.0,
        up=TokenView(UP, draw(st.sampled_from(("0.01", "0.001"))), up_bid, up_ask, 99.0,
                     draw(st.sampled_from((0, 10 * MICRO, 30 * MICRO))), 4 * MICRO),
        down=TokenView(DOWN, "0.01", None if up_ask is None else MICRO - up_ask, MICRO - up_bid, 95.0,
                       draw(st.sampled_from((0, 10 * MICRO))), 5 * MICRO),
        min_order_size_micro=5 * MICRO,
        account_budget_micro=draw(st.sampled_from((None, 10 * MICRO))), resting=draw(_RESTING),
    )


def _edit(view: MarketView, field: int, value: int) -> MarketView:
    """`view` with one input changed: the time, a flag, a book, an inventory, the budget or the resting orders."""
    up, down = view.up, view.down
    edits = (
        lambda: dataclasses.replace(view, now_s=(50.0, 100.0, 104.0, 109.5, 1000.0)[value % 5]),
        lambda: dataclasses.replace(view, backing_off=not view.backing_off),
        lambda: dataclasses.replace(view, up=dataclasses.replace(up, best_bid_micro=(None, 450_000, 460_000)[value % 3])),
        lambda: dataclasses.replace(view, down=dataclasses.replace(down, book_updated_at_s=(None, 90.0, 99.0)[value % 3])),
        lambda: dataclasses.replace(view, up=dataclasses.replace(up, inventory_micro=(value % 4) * 10 * MICRO)),
        lambda: dataclasses.replace(view, down=dataclasses.replace(down, inventory_cost_micro=(value % 4) * MICRO)),
        lambda: dataclasses.replace(view, up=dataclasses.replace(up, inventory_cost_micro=(value % 4) * 3 * MICRO)),
        lambda: dataclasses.replace(view, down=dataclasses.replace(down, tick_size=("0.01", "0.1")[value % 2])),
        lambda: dataclasses.replace(view, account_budget_micro=(None, 10 * MICRO, 25 * MICRO)[value % 3]),
        lambda: dataclasses.replace(view, resting=view.resting[: value % 3]),
        lambda: dataclasses.replace(view, up=dataclasses.replace(up, tick_size=("0.01", "0.001", None)[value % 3])),
    )
    return edits[field % len(edits)]()


@settings(max_examples=400, deadline=None)
@given(views(), st.lists(st.tuples(st.integers(0, 10), st.integers(0, 20), st.booleans()), max_size=25))
def test_a_remembered_ladder_is_the_ladder_computed_afresh(
    first: MarketView, steps: list[tuple[int, int, bool]]
) -> None:
    strategy = PairLadderStrategy(_PARAMS)
    view = first
    for field, value, back in steps:
        assert strategy.desired(view) == PairLadderStrategy(_PARAMS).desired(view)
        # Edit one input, or go back to the first view (the memo then answers an older question again).
        view = first if back else _edit(view, field, value)
    assert strategy.desired(view) == PairLadderStrategy(_PARAMS).desired(view)
