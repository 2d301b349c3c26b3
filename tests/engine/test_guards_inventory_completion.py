"""Pure engine parts: storm guard, failure backoff, inventory accounting, completion planning."""

import pytest

from bot.engine.completion import plan_completion, taker_fee_per_share
from bot.engine.guards import FailureBackoff, StormGuard
from bot.engine.inventory import Fill, FillStatus, Inventory

UP, DOWN = "111", "222"


def test_storm_needs_threshold_unknowns_inside_the_window():
    guard = StormGuard(threshold=3, window_s=10.0)
    assert not guard.record_unknown(0.0)
    assert not guard.record_unknown(5.0)
    assert not guard.record_unknown(16.0)  # the first two fell out of the window
    assert not guard.record_unknown(17.0)
    assert guard.record_unknown(18.0)


def test_a_known_update_resets_the_storm_count():
    guard = StormGuard(threshold=2, window_s=10.0)
    assert not guard.record_unknown(0.0)
    guard.record_known()
    assert not guard.record_unknown(1.0)
    assert guard.record_unknown(2.0)


def test_backoff_starts_after_n_failures_grows_exponentially_and_is_capped():
    backoff = FailureBackoff(base_s=1.0, max_s=4.0, failures_before_backoff=3)
    assert backoff.record_failure(0.0) is None
    assert backoff.record_failure(0.0) is None
    assert backoff.record_failure(0.0) == 1.0
    assert backoff.active(0.5) and not backoff.active(1.0)
    for _ in range(2):
        backoff.record_failure(10.0)
    assert backoff.record_failure(10.0) == 12.0
    for _ in range(6):
        until = backoff.record_failure(20.0)
    assert until == 24.0  # capped at max_s


def test_success_resets_the_exponent():
    backoff = FailureBackoff(base_s=1.0, max_s=60.0, failures_before_backoff=1)
    assert backoff.record_failure(0.0) == 1.0
    assert backoff.record_failure(0.0) == 2.0
    backoff.record_success()
    assert backoff.record_failure(0.0) == 1.0


def test_retry_after_starts_a_backoff_at_once_and_is_honoured():
    backoff = FailureBackoff(base_s=1.0, max_s=60.0, failures_before_backoff=5)
    assert backoff.record_failure(0.0, retry_after_s=7.0) == 7.0


def fill(status, trade="t1", order="o1", token=UP, side="BUY", shares=10.0, price=0.45):
    return Fill(trade, order, token, side, shares, price, 0.0, FillStatus(status), False)


def test_fill_counted_once_across_status_updates_and_duplicates():
    inv = Inventory(UP, DOWN)
    assert inv.apply(fill("MATCHED"))
    assert not inv.apply(fill("MATCHED"))
    assert not inv.apply(fill("MINED"))
    assert not inv.apply(fill("CONFIRMED"))
    assert inv.up.shares == 10.0 and inv.fills_counted == 1
    assert inv.up.cost_pusd == pytest.approx(4.5)


def test_failed_trade_reverses_its_fill_once():
    inv = Inventory(UP, DOWN)
    inv.apply(fill("MATCHED"))
    assert inv.apply(fill("FAILED"))
    assert not inv.apply(fill("FAILED"))
    assert inv.up.shares == 0.0 and inv.fills_reversed == 1


def test_failed_seen_first_is_never_counted_even_if_matched_arrives_late():
    inv = Inventory(UP, DOWN)
    assert not inv.apply(fill("FAILED"))
    assert not inv.apply(fill("MATCHED"))
    assert inv.up.shares == 0.0


def test_confirmed_seen_first_counts_the_fill():
    inv = Inventory(UP, DOWN)
    assert inv.apply(fill("CONFIRMED"))
    assert inv.up.shares == 10.0


def test_pair_cost_and_marked_pnl():
    inv = Inventory(UP, DOWN)
    inv.apply(fill("MATCHED", price=0.45))
    inv.apply(fill("MATCHED", trade="t2", order="o2", token=DOWN, price=0.50))
    assert inv.pair_cost == pytest.approx(0.95)
    assert inv.marked_pnl(0.5, 0.5) == pytest.approx(10 * (1 - 0.95))


def test_completion_cap_keeps_the_pair_within_one_minus_edge_net_of_fee():
    plan = plan_completion(
        lagging_token_id=DOWN, imbalance_shares=10.0, leading_avg_cost=0.45, tick_size="0.01", min_edge=0.02,
        max_pair_cost=None, fee_rate=0.07, fee_exponent=1.0,
    )
    assert plan is not None
    fee = taker_fee_per_share(plan.price_cap, 0.07, 1.0)
    assert 0.45 + plan.price_cap + fee <= 0.98 + 1e-9
    # One tick more would break the limit.
    higher = plan.price_cap + 0.01
    assert 0.45 + higher + taker_fee_per_share(higher, 0.07, 1.0) > 0.98


def test_completion_amount_is_pusd_to_spend_not_shares():
    plan = plan_completion(
        lagging_token_id=DOWN, imbalance_shares=20.0, leading_avg_cost=0.40, tick_size="0.01", min_edge=0.0,
        max_pair_cost=None, fee_rate=0.0, fee_exponent=1.0,
    )
    assert plan.price_cap == 0.6
    assert plan.amount_pusd == pytest.approx(12.0)  # 20 shares x 0.60, never 20
    assert plan.shares_needed == 20.0


def test_completion_cap_is_lowered_to_the_best_ask_and_refused_under_one_dollar():
    plan = plan_completion(
        lagging_token_id=DOWN, imbalance_shares=10.0, leading_avg_cost=0.30, tick_size="0.01", min_edge=0.0,
        max_pair_cost=None, fee_rate=0.0, fee_exponent=1.0, best_ask=0.55,
    )
    assert plan.price_cap == 0.55
    assert plan_completion(
        lagging_token_id=DOWN, imbalance_shares=5.0, leading_avg_cost=0.85, tick_size="0.01", min_edge=0.0,
        max_pair_cost=None, fee_rate=0.0, fee_exponent=1.0,
    ) is None  # 5 x 0.15 = $0.75 < $1 minimum for a marketable BUY


def test_max_pair_cost_allows_a_set_loss():
    plan = plan_completion(
        lagging_token_id=DOWN, imbalance_shares=10.0, leading_avg_cost=0.60, tick_size="0.01", min_edge=0.0,
        max_pair_cost=1.02, fee_rate=0.0, fee_exponent=1.0,
    )
    assert plan.price_cap == 0.42


def test_no_completion_when_nothing_is_offered_at_or_below_the_cap():
    assert plan_completion(
        lagging_token_id=DOWN, imbalance_shares=10.0, leading_avg_cost=0.60, tick_size="0.01", min_edge=0.02,
        max_pair_cost=None, fee_rate=0.0, fee_exponent=1.0, best_ask=0.45,
    ) is None  # the cap is 0.38, the cheapest offer 0.45
