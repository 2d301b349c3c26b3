"""The pair-ladder strategy: levels, pair guard, post-only safety, inventory cap, block reasons."""

import pytest

from bot.engine.strategy import BlockReason, MarketView, PairLadderParams, PairLadderStrategy, TokenView
from bot.protocol.money import micro_from_float

UP, DOWN = "111", "222"


def params(**kw):
    base = dict(
        ladder_levels=3, level_spacing_ticks=1, top_offset_ticks=0, size_per_level_shares=10.0, min_pair_edge=0.02,
        max_inventory_skew_shares=50.0, max_unpaired_shares=100.0, max_notional_per_market_pusd=1000.0,
        stale_book_s=10.0,
    )
    base.update(kw)
    return PairLadderParams(**base)


def m(x):
    """Micro-units of a decimal written in the test (0.45 → 450_000)."""
    return None if x is None else micro_from_float(x)


def token(token_id, bid, ask, *, tick="0.01", updated=99.0, inv=0.0, cost=None):
    cost = inv * 0.45 if cost is None else cost
    return TokenView(token_id, tick, m(bid), m(ask), updated, m(inv), m(cost))


def view(up_bid=0.48, up_ask=0.52, *, now=100.0, tick="0.01", up_inv=0.0, down_inv=0.0, updated=99.0, **kw):
    # Mirrored books: Down's bid is 1 - Up's ask, Down's ask is 1 - Up's bid.
    down_bid = None if up_ask is None else round(1 - up_ask, 4)
    down_ask = None if up_bid is None else round(1 - up_bid, 4)
    return MarketView(
        now_s=now, cutoff_s=kw.pop("cutoff", 1000.0), start_s=kw.pop("start", 0.0),
        up=token(UP, up_bid, up_ask, tick=tick, updated=updated, inv=up_inv),
        down=token(DOWN, down_bid, down_ask, tick=tick, updated=updated, inv=down_inv),
        min_order_size_micro=5_000_000, **kw,
    )


def prices(ladder, token):
    return [q.price for q in ladder.quotes if q.token_id == token]


def test_ladder_joins_best_bid_on_both_tokens_with_one_tick_spacing():
    ladder = PairLadderStrategy(params()).desired(view(0.45, 0.52))
    assert ladder.block_reason is None
    assert prices(ladder, UP) == [0.45, 0.44, 0.43]
    assert prices(ladder, DOWN) == [0.48, 0.47, 0.46]
    assert [q.level for q in ladder.quotes if q.token_id == UP] == [0, 1, 2]
    assert all(q.size_shares == 10.0 for q in ladder.quotes)


def test_pair_guard_lowers_both_sides_until_pair_costs_at_most_one_minus_edge():
    # Spread of one tick: joining both bids would cost 0.49 + 0.50 = 0.99 > 0.98.
    ladder = PairLadderStrategy(params()).desired(view(0.49, 0.50))
    up, down = prices(ladder, UP), prices(ladder, DOWN)
    for level in range(3):
        assert up[level] + down[level] <= 0.98 + 1e-9


def test_never_crosses_the_best_ask_even_with_a_crossed_book():
    ladder = PairLadderStrategy(params(min_pair_edge=0.0)).desired(view(0.55, 0.52))
    assert max(prices(ladder, UP)) <= 0.51


def test_size_is_at_least_the_market_minimum():
    ladder = PairLadderStrategy(params(size_per_level_shares=1.0)).desired(view())
    assert {q.size_shares for q in ladder.quotes} == {5.0}


def test_leading_side_stops_quoting_at_the_inventory_cap():
    ladder = PairLadderStrategy(params(max_inventory_skew_shares=20)).desired(view(up_inv=30, down_inv=5))
    assert prices(ladder, UP) == []
    assert prices(ladder, DOWN)
    assert ladder.token_blocks[UP] is BlockReason.INVENTORY_CAP


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"tick": None}, BlockReason.TICK_SIZE_UNKNOWN),
        ({"updated": 80.0}, BlockReason.STALE_BOOK),
        ({"updated": None}, BlockReason.NO_BOOK),
        ({"now": 1000.0}, BlockReason.CUTOFF),
        ({"completing": True}, BlockReason.COMPLETING),
        ({"backing_off": True}, BlockReason.BACKOFF),
        ({"start": 200.0}, BlockReason.NOT_STARTED),
    ],
)
def test_block_reasons_return_no_quotes(kwargs, reason):
    ladder = PairLadderStrategy(params()).desired(view(**kwargs))
    assert ladder.quotes == ()
    assert ladder.block_reason is reason


def test_notional_cap_drops_the_deepest_levels_first():
    ladder = PairLadderStrategy(params(max_notional_per_market_pusd=10.0)).desired(view(0.45, 0.52))
    assert sum(q.price * q.size_shares for q in ladder.quotes) <= 10.0
    assert {q.level for q in ladder.quotes} == {0}


def test_prices_stay_on_a_fine_tick_grid():
    ladder = PairLadderStrategy(params(min_pair_edge=0.0)).desired(view(0.452, 0.457, tick="0.001"))
    assert prices(ladder, UP) == [0.452, 0.451, 0.45]
    for q in ladder.quotes:
        assert abs(q.price * 1000 - round(q.price * 1000)) < 1e-9


def test_lagging_side_is_capped_by_what_the_leading_side_cost():
    # Up holds 20 shares bought at 0.60; Down may bid at most 1 - 0.02 - 0.60 = 0.38 even though
    # the book would let it join 0.48.
    v = view(0.45, 0.52, up_inv=20)
    v = MarketView(now_s=v.now_s, cutoff_s=v.cutoff_s, start_s=v.start_s,
                   up=token(UP, 0.45, 0.52, inv=20.0, cost=12.0), down=v.down, min_order_size_micro=5_000_000)
    ladder = PairLadderStrategy(params()).desired(v)
    assert prices(ladder, DOWN) == [0.38, 0.37, 0.36]
    assert prices(ladder, UP) == [0.45, 0.44, 0.43]


def test_account_wide_budget_caps_a_market_below_its_own_cap():
    v = view(0.45, 0.52)
    v = MarketView(now_s=v.now_s, cutoff_s=v.cutoff_s, start_s=v.start_s, up=v.up, down=v.down,
                   min_order_size_micro=5_000_000, account_budget_micro=10_000_000)
    ladder = PairLadderStrategy(params(max_notional_per_market_pusd=1000.0)).desired(v)
    assert sum(q.price * q.size_shares for q in ladder.quotes) <= 10.0
    assert {q.level for q in ladder.quotes} == {0}
