"""Pure engine parts: storm guard, failure backoff, inventory accounting, completion planning."""

import pytest

from bot.engine.completion import pair_cost_limit_micro, plan_completion, taker_fee_micro
from bot.engine.fills import fills_in_trade
from bot.engine.guards import FailureBackoff, StormGuard
from bot.engine.inventory import Fill, FillStatus, Inventory
from bot.protocol.messages import parse_trade
from bot.protocol.money import tick_grid

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


def fill(status, trade="t1", order="o1", token=UP, side="BUY", shares=10_000_000, price=450_000):
    return Fill(trade, order, token, side, shares, price, 0, FillStatus(status), False)


def test_fill_counted_once_across_status_updates_and_duplicates():
    inv = Inventory(UP, DOWN)
    assert inv.apply(fill("MATCHED"))
    assert not inv.apply(fill("MATCHED"))
    assert not inv.apply(fill("MINED"))
    assert not inv.apply(fill("CONFIRMED"))
    assert inv.up.shares_micro == 10_000_000 and inv.fills_counted == 1
    assert inv.up.cost_micro == 4_500_000


def test_failed_trade_reverses_its_fill_once():
    inv = Inventory(UP, DOWN)
    inv.apply(fill("MATCHED"))
    assert inv.apply(fill("FAILED"))
    assert not inv.apply(fill("FAILED"))
    assert inv.up.shares_micro == 0 and inv.up.cost_micro == 0 and inv.fills_reversed == 1


def test_failed_seen_first_is_never_counted_even_if_matched_arrives_late():
    inv = Inventory(UP, DOWN)
    assert not inv.apply(fill("FAILED"))
    assert not inv.apply(fill("MATCHED"))
    assert inv.up.shares_micro == 0


def test_confirmed_seen_first_counts_the_fill():
    inv = Inventory(UP, DOWN)
    assert inv.apply(fill("CONFIRMED"))
    assert inv.up.shares_micro == 10_000_000


def test_pair_cost_and_marked_pnl():
    inv = Inventory(UP, DOWN)
    inv.apply(fill("MATCHED", price=450_000))
    inv.apply(fill("MATCHED", trade="t2", order="o2", token=DOWN, price=500_000))
    assert inv.pair_cost == pytest.approx(0.95)
    assert inv.marked_pnl_micro(500_000, 500_000) == 10 * (1_000_000 - 950_000)


def test_decimal_amounts_add_up_exactly_in_the_inventory():
    # Finding 2: account data parsed as Decimal was turned into float for fill accounting, where ten
    # fills of 0.1 share at 0.7 cost 0.7000000000000001 and 0.9999999999999999 shares: a "full" pair
    # was then one float ulp short. Parsed into micro-units, the sums are exact.
    trades = [
        {"event_type": "trade", "id": f"t{i}", "taker_order_id": "theirs", "market": "m", "asset_id": UP,
         "side": "SELL", "size": "0.1", "price": "0.7", "status": "MATCHED", "maker_orders": [
             {"order_id": "ours", "owner": "k", "matched_amount": "0.1", "price": "0.7", "asset_id": UP,
              "side": "BUY"}]}
        for i in range(10)
    ]
    inv = Inventory(UP, DOWN)
    for raw in trades:
        for f in fills_in_trade(parse_trade(raw), our_order_ids={"ours"}, tokens={UP, DOWN}, fee_rate=0.0,
                                fee_exponent=1.0):
            inv.apply(f)
    assert inv.up.shares_micro == 1_000_000 and inv.up.cost_micro == 700_000
    assert inv.up.shares == 1.0 and inv.up.cost_pusd == 0.7


def test_a_fill_from_before_the_seed_is_a_repeat_not_a_second_fill():
    # Finding 6: a seeded order's pre-restart trade re-sent as MINED/CONFIRMED is already in the balance.
    inv = Inventory(UP, DOWN)
    assert inv.seen_before_seed(fill("MATCHED"))
    inv.seed(UP, 10_000_000, 4_500_000)
    assert not inv.apply(fill("MINED")) and not inv.apply(fill("CONFIRMED"))
    assert inv.up.shares_micro == 10_000_000 and inv.fills_counted == 0


def test_a_fill_from_before_the_seed_whose_trade_fails_later_leaves_the_position():
    # Found by the lifecycle property (kill -9, then a seeding restart): the balance the seed read held a
    # MATCHED fill whose trade FAILED afterwards. The venue took the shares back; the inventory, which had
    # recorded the fill as a final repeat, kept them (1 share ours against a venue balance of 0).
    inv = Inventory(UP, DOWN)
    assert inv.seen_before_seed(fill("MATCHED"))
    inv.seed(UP, 10_000_000, 4_500_000, listed=frozenset({("t1", "o1")}))
    assert inv.apply(fill("FAILED"))
    assert not inv.apply(fill("FAILED")) and not inv.apply(fill("MATCHED"))
    assert inv.up.shares_micro == 0 and inv.up.cost_micro == 0 and inv.fills_counted == 0


def test_a_failed_trade_seen_between_the_seeds_balance_read_and_the_seed_is_taken_out_of_the_balance():
    # The listing and the balance both held the fill; its FAILED arrived before the seed was applied.
    inv = Inventory(UP, DOWN)
    assert not inv.apply(fill("FAILED"))
    assert not inv.seen_before_seed(fill("MATCHED"))  # already known (as failed)
    inv.seed(UP, 10_000_000, 4_500_000, listed=frozenset({("t1", "o1")}))
    assert inv.up.shares_micro == 0 and inv.up.cost_micro == 0


def test_every_change_of_the_positions_moves_the_inventorys_version():
    """The market's views kept per (orders, inventory) stamp (its resting orders, its committed money for
    the account-wide cap) are recomputed only when the stamp moved: so must it with every change of
    shares or cost, a seed's balance included (it did not, and a seeded market's cost stayed uncounted
    by the other markets until its next order change)."""
    inv = Inventory(UP, DOWN)
    stamps = [inv.version]

    def changed() -> bool:
        stamps.append(inv.version)
        return stamps[-1] != stamps[-2]

    inv.seed(UP, 10_000_000, 4_500_000)
    assert changed() and inv.up.cost_micro == 4_500_000
    assert inv.apply(fill("MATCHED", trade="t2"))
    assert changed()
    assert not inv.apply(fill("MINED", trade="t2"))
    assert not changed()  # a repeat changes nothing
    assert inv.apply(fill("FAILED", trade="t2"))
    assert changed() and inv.up.cost_micro == 4_500_000


def test_a_confirmed_fill_from_before_the_seed_is_final():
    inv = Inventory(UP, DOWN)
    assert inv.seen_before_seed(fill("CONFIRMED"))
    inv.seed(UP, 10_000_000, 4_500_000, listed=frozenset({("t1", "o1")}))
    assert not inv.apply(fill("FAILED"))
    assert inv.up.shares_micro == 10_000_000


def _plan(**kw):
    args = dict(lagging_token_id=DOWN, imbalance_micro=10_000_000, leading_cost_micro=4_500_000,
                leading_shares_micro=10_000_000, grid=tick_grid("0.01"), min_edge_micro=20_000,
                max_pair_cost_micro=None, fee_rate=0.0, fee_exponent=1.0)
    return plan_completion(**(args | kw))


def test_completion_cap_keeps_the_pair_within_one_minus_edge_net_of_fee():
    plan = _plan(fee_rate=0.07)
    assert plan is not None
    fee = taker_fee_micro(plan.price_micro, 0.07, 1.0)
    assert 450_000 + plan.price_micro + fee <= 980_000
    # One tick more would break the limit.
    higher = plan.price_micro + 10_000
    assert 450_000 + higher + taker_fee_micro(higher, 0.07, 1.0) > 980_000


def test_completion_amount_is_pusd_to_spend_not_shares():
    plan = _plan(imbalance_micro=20_000_000, leading_cost_micro=8_000_000, leading_shares_micro=20_000_000,
                 min_edge_micro=0)
    assert plan.price_ticks == 60 and plan.price_cap == 0.6
    assert plan.amount_micro == 12_000_000  # 20 shares x 0.60, never 20
    assert plan.shares_micro == 20_000_000


def test_completion_cap_is_lowered_to_the_best_ask_and_refused_under_one_dollar():
    plan = _plan(leading_cost_micro=3_000_000, min_edge_micro=0, best_ask_micro=550_000)
    assert plan.price_micro == 550_000
    assert _plan(imbalance_micro=5_000_000, leading_cost_micro=4_250_000, leading_shares_micro=5_000_000,
                 min_edge_micro=0) is None  # 5 x 0.15 = $0.75 < $1 minimum for a marketable BUY


def test_a_negative_min_edge_allows_a_set_loss():
    plan = _plan(leading_cost_micro=6_000_000, min_edge_micro=-20_000)
    assert plan.price_micro == 420_000


@pytest.mark.parametrize(("min_edge_micro", "max_pair_cost_micro", "cap_micro"), [
    (20_000, 1_020_000, 380_000),  # a looser max_pair_cost does not replace 1 - min_edge (finding 5)
    (0, 950_000, 350_000),  # a stricter one tightens it
    (20_000, None, 380_000),
])
def test_max_pair_cost_only_tightens_the_edge_rule(min_edge_micro, max_pair_cost_micro, cap_micro):
    plan = _plan(leading_cost_micro=6_000_000, min_edge_micro=min_edge_micro, max_pair_cost_micro=max_pair_cost_micro)
    assert plan.price_micro == cap_micro
    assert pair_cost_limit_micro(min_edge_micro, max_pair_cost_micro) == 600_000 + cap_micro


def test_no_completion_when_nothing_is_offered_at_or_below_the_cap():
    assert _plan(leading_cost_micro=6_000_000, best_ask_micro=450_000) is None  # the cap is 0.38, the offer 0.45
