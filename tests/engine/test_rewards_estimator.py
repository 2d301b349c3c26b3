"""Our reward estimate, the rewards-aware ladder and the scoring alert, against hand-computed values."""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import pytest
import trio

from bot.engine.rewards import OurOrder, RewardEstimator, RewardTerms
from bot.engine.rewards_ladder import RewardsAwareLadder, reward_size_shares, rewards_mode_applies
from bot.engine.rewards_watch import IncentivesWatch
from bot.engine.strategy import MarketView, PairLadderParams, RestingOrder, TokenView
from settings import RewardsMode
from statemachines.order import OrderState

UP, DOWN = "111", "222"
M = 1_000_000  # micro-units per share
TERMS = RewardTerms(max_spread_cents=3.5, min_size_shares=20, rate_per_day_pusd=144.0, rebate_share=0.2)
S1 = Fraction(25, 49)  # S(3.5, 1 cent) = (2.5 / 3.5)²


def estimator() -> RewardEstimator:
    return RewardEstimator(terms=TERMS, up_token_id=UP, sample_period_s=60.0, min_rest_s=3.5)


def test_our_q_min_and_share_are_exact_and_our_own_size_is_not_counted_as_the_others() -> None:
    est = estimator()
    ours = [OurOrder(UP, 490_000, 50 * M, 0.0), OurOrder(DOWN, 490_000, 50 * M, 0.0)]  # a bid at 0.49, an ask at 0.51
    # The Up book shows the others' 100 and our 50 on each side.
    e = est.evaluate(10.0, [(490_000, 150 * M)], [(510_000, 150 * M)], ours)
    assert e.midpoint == 0.5
    assert (e.ours.q_one, e.ours.q_two, e.ours.q_min) == (S1 * 50, S1 * 50, S1 * 50)
    assert e.others_q_min == S1 * 100
    assert e.share == Fraction(1, 3)
    assert e.scoring_orders == 2


def test_one_sided_at_mid_0_50_is_a_third_and_at_mid_0_05_is_nothing() -> None:
    e = estimator().evaluate(10.0, [(490_000, 150 * M)], [(510_000, 100 * M)], [OurOrder(UP, 490_000, 50 * M, 0.0)])
    assert e.ours.q_min == S1 * 50 / 3
    e = estimator().evaluate(10.0, [(40_000, 150 * M)], [(60_000, 100 * M)], [OurOrder(UP, 40_000, 50 * M, 0.0)])
    assert e.midpoint == 0.05 and e.ours.q_one == S1 * 50 and e.ours.q_min == 0


def test_orders_below_the_min_size_beyond_the_spread_or_not_yet_rested_do_not_score() -> None:
    book = ([(490_000, 100 * M), (460_000, 50 * M)], [(510_000, 100 * M)])
    small = OurOrder(UP, 490_000, 19_990_000, 0.0)
    far = OurOrder(UP, 460_000, 50 * M, 0.0)  # 4 cents from 0.50
    young = OurOrder(DOWN, 490_000, 50 * M, 9.0)  # rested 1 s of the 3.5 s minimum at t = 10
    e = estimator().evaluate(10.0, *book, [small, far, young])
    assert e.ours.q_one == 0 and e.ours.q_two == 0 and e.scoring_orders == 0


def test_the_others_size_scores_once_it_has_rested_and_fills_take_the_oldest_first() -> None:
    est = estimator()
    ours = [OurOrder(UP, 490_000, 50 * M, 0.0), OurOrder(DOWN, 490_000, 50 * M, 0.0)]  # 50 of each level is ours
    assert est.evaluate(10.0, [(490_000, 150 * M)], [(510_000, 150 * M)], ours).others_q_min == S1 * 100  # first look: rested
    # At 11 the others' bid grew from 100 to 120: the 20 arrived somewhere in (10, 11], taken as 10.5; the
    # 100 that were there keep their rest (a whole-level re-quote guess dropped them to Q_two / 3).
    assert est.evaluate(11.0, [(490_000, 170 * M)], [(510_000, 150 * M)], ours).others_q_min == S1 * 100
    # At 12 it shrank to 80: the 40 went from the oldest (a fill takes the front of the queue).
    assert est.evaluate(12.0, [(490_000, 130 * M)], [(510_000, 150 * M)], ours).others_q_min == S1 * 60
    assert est.evaluate(13.9, [(490_000, 130 * M)], [(510_000, 150 * M)], ours).others_q_min == S1 * 60
    # At 14 the 20 have rested. They came on their own, so they are another maker's, one-sided: a third.
    assert est.evaluate(14.0, [(490_000, 130 * M)], [(510_000, 150 * M)], ours).others_q_min == S1 * 60 + S1 * 20 / 3
    # The ask level fell to our own 50: the first look's maker is now one-sided too.
    assert est.evaluate(15.0, [(490_000, 130 * M)], [(510_000, 50 * M)], ours).others_q_min == S1 * 80 / 3
    # The 100 that came back are new, so they score only once rested, and as a third maker's (one-sided).
    assert est.evaluate(16.0, [(490_000, 130 * M)], [(510_000, 150 * M)], ours).others_q_min == S1 * 80 / 3
    assert est.evaluate(19.0, [(490_000, 130 * M)], [(510_000, 150 * M)], ours).others_q_min == S1 * 180 / 3


def test_accrual_is_the_share_times_the_pool_per_sample_times_the_samples_elapsed() -> None:
    est = estimator()
    ours = [OurOrder(UP, 490_000, 50 * M, 0.0), OurOrder(DOWN, 490_000, 50 * M, 0.0)]
    e = est.evaluate(10.0, [(490_000, 150 * M)], [(510_000, 150 * M)], ours)
    assert est.accrue(10.0, e) == 0  # the first look starts the clock
    assert est.accrue(40.0, e) == Fraction(1, 3) * Fraction(144, 1440) * Fraction(1, 2)
    assert est.estimated_pusd == Fraction(1, 60)


def test_the_pool_of_the_samples_nobody_scored_goes_to_the_samples_somebody_did() -> None:
    # The venue normalises the epoch's per-sample shares again, so a sample in which nobody scored pays
    # nobody and the whole pool goes to the scored ones. Half the watched time without any scoring order
    # doubles what our scored half earns. (Without it, a paper run's estimate was 0.67–0.93 of the
    # simulator's expected accrual: the first seconds of a market, before any order has rested, count.)
    est = estimator()
    ours = [OurOrder(UP, 490_000, 50 * M, 0.0), OurOrder(DOWN, 490_000, 50 * M, 0.0)]
    e = est.evaluate(10.0, [(490_000, 150 * M)], [(510_000, 150 * M)], ours)
    est.accrue(10.0, e)
    est.accrue(40.0, e)
    nobody = est.evaluate(70.0, [], [], [])  # an empty book: no midpoint, nothing scores
    assert est.accrue(70.0, nobody) == 0
    assert est.accrued_pusd == Fraction(1, 60)
    assert (est.watched_s, est.scored_s) == (60, 30)
    assert est.estimated_pusd == Fraction(1, 30)


def test_the_time_the_market_took_orders_before_our_first_look_counts_as_scored() -> None:
    # The venue sampled the market from when it took orders (Gamma acceptingOrdersTimestamp); those
    # samples had makers we did not see. Counted as scored, they dilute the scaling of the samples
    # nobody scored: 10 s unseen (from -20, but the epoch, a UTC day, began at 0) + 30 scored + 30
    # unscored watched → × 70/40, not × 60/30.
    est = RewardEstimator(terms=TERMS, up_token_id=UP, sample_period_s=60.0, min_rest_s=3.5, sampled_since_s=-20.0)
    ours = [OurOrder(UP, 490_000, 50 * M, 0.0), OurOrder(DOWN, 490_000, 50 * M, 0.0)]
    e = est.evaluate(10.0, [(490_000, 150 * M)], [(510_000, 150 * M)], ours)
    est.accrue(10.0, e)
    est.accrue(40.0, e)
    est.accrue(70.0, est.evaluate(70.0, [], [], []))
    assert (est.watched_s, est.scored_s) == (70, 40)
    assert est.estimated_pusd == Fraction(1, 60) * Fraction(7, 4)


def test_an_order_replaced_at_the_same_price_between_two_looks_is_new_and_not_rested() -> None:
    est = estimator()
    book = ([(490_000, 100 * M)], [(510_000, 100 * M)])
    assert est.evaluate(10.0, *book, []).others_q_min == S1 * 100
    # Between two looks the bid maker cancelled and posted the same size again: the state is the same,
    # the changes the market channel sent are not. The new order scores only once rested, and alone.
    est.observe([(True, 490_000, 0, 12.0), (True, 490_000, 100 * M, 12.0)])
    assert est.evaluate(13.0, *book, []).others_q_min == S1 * 100 / 3  # the ask maker, one-sided
    assert est.evaluate(16.0, *book, []).others_q_min == S1 * 100 / 3 + S1 * 100 / 3


@pytest.mark.parametrize(("ask_arrives_s", "scores"), [(20.0, True), (20.02, True), (21.0, False)])
def test_orders_arriving_apart_are_told_apart_as_makers(ask_arrives_s: float, scores: bool) -> None:
    # Midpoint 0.95, outside [0.10, 0.90]: a maker scores only with both sides (Q_min = min(Q_one, Q_two)).
    # The public book adds a bid maker and an ask maker into one two-sided level pair; their arrivals
    # tell them apart (a maker posts its quotes in one call), so neither scores. Within 50 ms: one maker.
    est = estimator()
    est.evaluate(10.0, [], [], [])
    est.observe([(True, 930_000, 100 * M, 20.0), (False, 970_000, 100 * M, ask_arrives_s)])
    e = est.evaluate(30.0, [(930_000, 100 * M)], [(970_000, 100 * M)], [])
    assert e.midpoint == 0.95
    assert e.others_q_min == (Fraction(9, 49) * 100 if scores else 0)  # S(3.5, 2 cents) = (1.5 / 3.5)²


# --- the rewards-aware ladder ------------------------------------------------------------------------------


def micro(price: float) -> int:
    return round(price * 1_000_000)


def params(skew: float = 100.0) -> PairLadderParams:
    return PairLadderParams(
        ladder_levels=3, level_spacing_ticks=2, top_offset_ticks=1, size_per_level_shares=10.0, min_pair_edge=0.02,
        max_inventory_skew_shares=skew, max_unpaired_shares=100.0, max_notional_per_market_pusd=1000.0,
        stale_book_s=10.0,
    )


def view(up_bid: float = 0.48, up_ask: float = 0.52, *, up_inv: float = 0, down_inv: float = 0,
         resting: tuple[RestingOrder, ...] = ()) -> MarketView:
    return MarketView(
        now_s=100.0, cutoff_s=1000.0, start_s=0.0,
        up=TokenView(UP, "0.01", micro(up_bid), micro(up_ask), 99.0, micro(up_inv), micro(up_inv * 0.45)),
        down=TokenView(DOWN, "0.01", micro(1 - up_ask), micro(1 - up_bid), 99.0, micro(down_inv),
                       micro(down_inv * 0.45)),
        min_order_size_micro=5_000_000, resting=resting,
    )


def ladder(live: dict[tuple[str, int], int] | None = None, mid: int | None = 500_000,
           skew: float = 100.0) -> RewardsAwareLadder:
    """Live prices and the midpoint in micro-units, as the order cache and the book hold them."""
    return RewardsAwareLadder(
        params(skew), TERMS, up_token_id=UP, resize_pct=25.0, min_score_gain=0.25,
        midpoint=lambda: None if mid is None else Fraction(mid),
        live_price=lambda token, level: (live or {}).get((token, level)),
    )


def test_reward_size_keeps_a_partly_filled_order_above_the_minimum_until_the_manager_resizes_it() -> None:
    assert reward_size_shares(20, 10, 25.0) == 26.67  # 26.67 × 0.75 ≥ 20
    assert reward_size_shares(20, 40, 25.0) == 40
    assert reward_size_shares(20, 10, 150.0) == 20


def test_the_rewards_ladder_joins_the_bid_one_tick_apart_sized_to_score_inside_the_spread() -> None:
    quotes = ladder().desired(view()).quotes
    up = [(q.price, q.size_shares) for q in quotes if q.token_id == UP]
    # Mid 0.50, max spread 3.5 cents: 0.48 and 0.47 score (2 and 3 cents), 0.46 does not.
    assert up == [(0.48, 26.67), (0.47, 26.67), (0.46, 10.0)]
    down = [(q.price, q.size_shares) for q in quotes if q.token_id == DOWN]
    assert down == [(0.48, 26.67), (0.47, 26.67), (0.46, 10.0)]


def sizes(quotes, token: str) -> list[float]:
    return [q.size_shares for q in quotes if q.token_id == token]


def test_scoring_sizes_keep_each_sides_worst_case_excess_within_the_skew_limit() -> None:
    # Issue 18: with both scoring levels at 26.67 a side rested 63 shares at balance (80 with the plain
    # level), so one sweep left more unpaired than the plain ladder ever could, past the skew limit of 50.
    # Now level 0 (the best score) takes the reward size and level 1 keeps the plain size: 46.67 at worst.
    quotes = ladder(skew=50.0).desired(view()).quotes
    assert sizes(quotes, UP) == [26.67, 10.0, 10.0] and sizes(quotes, DOWN) == [26.67, 10.0, 10.0]


def test_the_side_already_ahead_is_not_raised_to_the_reward_size() -> None:
    # Up leads by 30: a 26.67-share level would take its worst case to 56.67, past 50: no scoring size there
    # (and the leading side's 20 shares of room are under the reward size: no Up level at all). Down lags
    # by 30: its worst case with the plain ladder is 0, so both of its scoring levels take the reward size.
    quotes = ladder(skew=50.0).desired(view(up_inv=30)).quotes
    assert all(size <= 10.0 for size in sizes(quotes, UP))
    assert sizes(quotes, DOWN) == [26.67, 26.67, 10.0]


def test_the_side_already_ahead_keeps_the_plain_ladders_prices_and_sizes() -> None:
    # Issue 18 (bench seed 1): at the touch with the reward size, the side already ahead was the first the
    # flow took as its price fell, and the market resolved with it unpaired. Up leads by 5 here: its ladder
    # is the plain one (one tick behind the bid, two apart, 10 shares); Down still quotes to score.
    quotes = ladder(skew=100.0).desired(view(up_inv=5)).quotes
    up = [(q.price, q.size_shares) for q in quotes if q.token_id == UP]
    assert up == [(0.47, 10.0), (0.45, 10.0), (0.43, 10.0)]
    down = [(q.price, q.size_shares) for q in quotes if q.token_id == DOWN]
    assert down == [(0.48, 26.67), (0.47, 26.67), (0.46, 10.0)]


def test_every_open_buy_counts_against_the_scoring_budget() -> None:
    # A 15-share completion order rests on Up (no ladder slot): with the plain ladder its worst case is 45,
    # and a scoring level would add 16.67 more.
    extra = RestingOrder(UP, None, micro(0.45), micro(15))
    quotes = ladder(skew=50.0).desired(view(resting=(extra,))).quotes
    assert sizes(quotes, UP) == [10.0, 10.0, 10.0]
    # A slot's open order counts at the larger of itself and the new quote: an open 26.67 at level 0 is
    # kept at the reward size (it adds nothing), level 1 stays plain.
    live = RestingOrder(UP, 0, micro(0.48), micro(26.67))
    quotes = ladder(skew=50.0).desired(view(resting=(live,))).quotes
    assert sizes(quotes, UP) == [26.67, 10.0, 10.0]


def test_a_scoring_live_order_is_kept_when_moving_up_would_gain_little_score() -> None:
    # Live level 0 at 0.47 (3 cents: S = 1/49); the new 0.48 (2 cents) has S = 9/49: a big gain, so move.
    assert ladder({(UP, 0): 470_000}).desired(view()).quotes[0].price == 0.48
    # With a 0.001 tick the same one-tick move barely changes the score: keep the live order.
    fine = ladder({(UP, 0): 479_000}, mid=500_000)
    v = MarketView(
        now_s=100.0, cutoff_s=1000.0, start_s=0.0,
        up=TokenView(UP, "0.001", micro(0.48), micro(0.52), 99.0),
        down=TokenView(DOWN, "0.001", micro(0.48), micro(0.52), 99.0),
        min_order_size_micro=5_000_000,
    )
    up0 = next(q for q in fine.desired(v).quotes if q.token_id == UP and q.level == 0)
    assert up0.price == 0.479 and fine.kept_for_score == 1
    # Never the other way: a live price above the new one (the market came down) is always replaced.
    above = ladder({(UP, 0): 490_000}).desired(view())
    assert above.quotes[0].price == 0.48


def test_the_mode_setting() -> None:
    no_pool = RewardTerms(3.5, 20, 0.0)
    assert rewards_mode_applies(RewardsMode.AUTO, TERMS)
    assert not rewards_mode_applies(RewardsMode.AUTO, no_pool)
    assert rewards_mode_applies(RewardsMode.ON, no_pool)
    assert not rewards_mode_applies(RewardsMode.OFF, TERMS)


# --- the scoring check ------------------------------------------------------------------------------------


class _Book:
    needs_snapshot = False
    levels_current = True

    def depth(self) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
        return ((490_000, 150 * M),), ((510_000, 150 * M),)


def _fake_runner(answer: dict[str, bool], journal: list) -> SimpleNamespace:
    orders = {
        UP: [SimpleNamespace(order_id="0xa", price_micro=490_000, size_micro=50 * M, matched_micro=0,
                             created_at_s=0.0, state=OrderState.LIVE, side="BUY")],
        DOWN: [SimpleNamespace(order_id="0xb", price_micro=490_000, size_micro=50 * M, matched_micro=0,
                               created_at_s=0.0, state=OrderState.LIVE, side="BUY")],
    }

    async def orders_scoring(ids: list[str]) -> dict[str, bool]:
        return {i: answer[i] for i in ids if i in answer}

    return SimpleNamespace(
        info=SimpleNamespace(condition_id="0xc", slug="m", up_token_id=UP, down_token_id=DOWN, token_ids=(UP, DOWN),
                             rewards_max_spread_cents=3.5, rewards_min_size_shares=20, min_order_size_shares=5,
                             rewards_rate_per_day=144.0, maker_rebate_share=0.2, accepting_orders_since_s=None),
        settings=SimpleNamespace(rewards_sample_period_s=60.0, rewards_min_rest_s=3.5),
        manager=SimpleNamespace(live_ladder=lambda token: orders[token]),
        books=SimpleNamespace(book=lambda token: _Book()),
        clock=SimpleNamespace(now_s=lambda: 100.0),
        gateway=SimpleNamespace(orders_scoring=orders_scoring),
        journal=SimpleNamespace(write=lambda kind, **kw: journal.append((kind, kw))),
    )


@pytest.mark.parametrize(("answer", "alerts"), [({"0xa": True, "0xb": True}, 0), ({"0xa": True, "0xb": False}, 1),
                                                 ({"0xa": True}, 0)])
async def test_orders_the_venue_says_do_not_score_raise_an_alert(answer: dict[str, bool], alerts: int) -> None:
    journal: list = []
    watch = IncentivesWatch(_fake_runner(answer, journal))  # type: ignore[arg-type]
    await watch.check_scoring()
    assert watch.stats.checks == 1 and watch.stats.orders_checked == 2
    assert watch.stats.not_scoring == alerts
    assert [k for k, _ in journal] == ["rewards_not_scoring"] * (1 if alerts else 0)
    await trio.lowlevel.checkpoint()
