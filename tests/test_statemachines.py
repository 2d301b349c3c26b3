"""The order and market machines behave exactly as their allowed-transition tables say."""

from __future__ import annotations

import enum
import os
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from transitions import MachineError

from statemachines import market as market_module
from statemachines import order as order_module
from statemachines.market import (
    MARKET_ALLOWED,
    MARKET_HISTORY_LEN,
    MARKET_TRANSITIONS,
    ExitReason,
    MarketMachine,
    MarketState,
    MarketTrigger,
)
from statemachines.order import (
    ORDER_ALLOWED,
    ORDER_TRANSITIONS,
    TERMINAL_ORDER_STATES,
    IllegalTransition,
    Order,
    OrderState,
    OrderTrigger,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
ORDER_ID = "0xab12" + "cd" * 31
CONDITION_ID = "0xcd34" + "ef" * 31
SIZE_MICRO = 10_000_000  # 10 shares


def new_order() -> Order:
    return Order(
        ORDER_ID,
        "token-up",
        side="BUY",
        price_micro=450_000,
        size_micro=SIZE_MICRO,
        order_type="GTC",
        created_at_s=100.0,
        level=0,
    )


def order_kwargs(trigger: OrderTrigger) -> dict[str, object]:
    if trigger is OrderTrigger.PARTIALLY_FILLED:
        return {"matched_micro": 2_000_000}
    return {}


def market_kwargs(trigger: MarketTrigger) -> dict[str, object]:
    if trigger is MarketTrigger.STOP:
        return {"reason": ExitReason.CRASH, "detail": "boom"}
    return {}


def shortest_paths(
    allowed: dict[tuple[enum.StrEnum, enum.StrEnum], enum.StrEnum], initial: enum.StrEnum
) -> dict[enum.StrEnum, list[enum.StrEnum]]:
    """Trigger sequence reaching each state from `initial` through the table (breadth first)."""
    paths: dict[enum.StrEnum, list[enum.StrEnum]] = {initial: []}
    queue = deque([initial])
    while queue:
        state = queue.popleft()
        for (source, trigger), dest in allowed.items():
            if source == state and dest not in paths:
                paths[dest] = [*paths[state], trigger]
                queue.append(dest)
    return paths


ORDER_PATHS = shortest_paths(ORDER_ALLOWED, OrderState.PENDING)
MARKET_PATHS = shortest_paths(MARKET_ALLOWED, MarketState.STARTING)


def order_in(state: OrderState) -> Order:
    order = new_order()
    for trigger in ORDER_PATHS[state]:
        order.trigger(trigger, **order_kwargs(trigger))  # type: ignore[arg-type]
    assert order.state is state
    return order


def market_in(state: MarketState) -> MarketMachine:
    market = MarketMachine(CONDITION_ID, at_s=0.0)
    for trigger in MARKET_PATHS[state]:
        market.trigger(trigger, **market_kwargs(trigger))  # type: ignore[arg-type]
    assert market.state is state
    return market


def test_every_state_is_reachable_from_the_initial_one() -> None:
    assert set(ORDER_PATHS) == set(OrderState)
    assert set(MARKET_PATHS) == set(MarketState)


@pytest.mark.parametrize("trigger", list(OrderTrigger), ids=str)
@pytest.mark.parametrize("state", list(OrderState), ids=str)
def test_order_state_trigger_pair_follows_the_table(state: OrderState, trigger: OrderTrigger) -> None:
    order = order_in(state)
    before = (order.state, order.matched_micro, order.last_reason, order.updated_at_s)
    dest = ORDER_ALLOWED.get((state, trigger))
    if dest is not None:
        assert order.trigger(trigger, **order_kwargs(trigger)) is dest  # type: ignore[arg-type]
        assert order.state is dest
        return
    with pytest.raises(IllegalTransition) as caught:
        order.trigger(trigger, **order_kwargs(trigger), reason="x", at_s=999.0)  # type: ignore[arg-type]
    assert str(caught.value) == f"order 0xab12… in state '{state.value}' cannot '{trigger.value}'"
    assert (caught.value.state, caught.value.trigger, caught.value.kind) == (state, trigger.value, "order")
    assert (order.state, order.matched_micro, order.last_reason, order.updated_at_s) == before


@pytest.mark.parametrize("trigger", list(MarketTrigger), ids=str)
@pytest.mark.parametrize("state", list(MarketState), ids=str)
def test_market_state_trigger_pair_follows_the_table(state: MarketState, trigger: MarketTrigger) -> None:
    market = market_in(state)
    before = (market.state, market.exit_reason, market.exit_detail, market.entered_at_s, list(market.history))
    dest = MARKET_ALLOWED.get((state, trigger))
    if dest is not None:
        assert market.trigger(trigger, **market_kwargs(trigger), at_s=5.0) is dest  # type: ignore[arg-type]
        assert market.state is dest
        assert market.history[-1][1:4] == (state, trigger, dest)
        return
    with pytest.raises(IllegalTransition) as caught:
        market.trigger(trigger, **market_kwargs(trigger), at_s=5.0)  # type: ignore[arg-type]
    assert str(caught.value) == f"market 0xcd34… in state '{state.value}' cannot '{trigger.value}'"
    assert (
        market.state,
        market.exit_reason,
        market.exit_detail,
        market.entered_at_s,
        list(market.history),
    ) == before


def test_the_contracted_order_edges_are_all_allowed() -> None:
    s, t = OrderState, OrderTrigger
    contract = {
        (s.PENDING, t.ACCEPTED): s.LIVE,
        (s.LIVE, t.ACCEPTED): s.LIVE,
        (s.CANCELLING, t.ACCEPTED): s.CANCELLING,
        (s.PENDING, t.PARTIALLY_FILLED): s.LIVE,
        (s.LIVE, t.PARTIALLY_FILLED): s.LIVE,
        (s.CANCELLING, t.PARTIALLY_FILLED): s.CANCELLING,
        (s.PENDING, t.FILLED): s.FILLED,
        (s.LIVE, t.FILLED): s.FILLED,
        (s.CANCELLING, t.FILLED): s.FILLED,
        (s.PENDING, t.REJECTED_EXPECTED): s.REJECTED_EXPECTED,
        (s.PENDING, t.REJECTED): s.FAILED,
        (s.LIVE, t.CANCEL_REQUESTED): s.CANCELLING,
        (s.PENDING, t.CANCEL_REQUESTED): s.CANCELLING,
        (s.CANCELLING, t.CANCEL_CONFIRMED): s.CANCELLED,
        (s.CANCELLING, t.CANCEL_FAILED): s.LIVE,
        (s.PENDING, t.VENUE_CANCELLED): s.CANCELLED,
        (s.LIVE, t.VENUE_CANCELLED): s.CANCELLED,
        (s.CANCELLING, t.VENUE_CANCELLED): s.CANCELLED,
        (s.PENDING, t.LOST): s.FAILED,
    }
    assert {pair: ORDER_ALLOWED.get(pair) for pair in contract} == contract


def test_the_contracted_market_edges_are_all_allowed() -> None:
    s, t = MarketState, MarketTrigger
    running = (s.STARTING, s.RECONCILING, s.QUOTING, s.COMPLETING, s.BACKOFF, s.CUTOFF)
    contract = {
        (s.STARTING, t.BEGIN_RECONCILE): s.RECONCILING,
        (s.QUOTING, t.BEGIN_RECONCILE): s.RECONCILING,
        (s.BACKOFF, t.BEGIN_RECONCILE): s.RECONCILING,
        (s.RECONCILING, t.RECONCILED): s.QUOTING,
        (s.QUOTING, t.START_COMPLETION): s.COMPLETING,
        (s.COMPLETING, t.COMPLETION_DONE): s.QUOTING,
        (s.QUOTING, t.FAILURES_EXCEEDED): s.BACKOFF,
        (s.RECONCILING, t.FAILURES_EXCEEDED): s.BACKOFF,
        (s.COMPLETING, t.FAILURES_EXCEEDED): s.BACKOFF,
        (s.BACKOFF, t.BACKOFF_ELAPSED): s.QUOTING,
        **{(state, t.REACH_CUTOFF): s.CUTOFF for state in running if state is not s.CUTOFF},
        **{(state, t.STOP): s.SHUTTING_DOWN for state in running},
        (s.SHUTTING_DOWN, t.CANCEL_ALL_DONE): s.SHUTDOWN,
    }
    assert {pair: MARKET_ALLOWED.get(pair) for pair in contract} == contract


def test_an_order_never_leaves_a_terminal_state_and_strict_ends_accept_nothing() -> None:
    for (source, _trigger), dest in ORDER_ALLOWED.items():
        if source in TERMINAL_ORDER_STATES:
            assert dest is source
    assert not [pair for pair in ORDER_ALLOWED if pair[0] is OrderState.FAILED]
    # An expected reject hears one thing only: the WS report of the same end (a killed FOK/FAK).
    assert [t for (s, t) in ORDER_ALLOWED if s is OrderState.REJECTED_EXPECTED] == [OrderTrigger.VENUE_CANCELLED]


def test_a_shut_down_market_accepts_no_trigger() -> None:
    assert not [pair for pair in MARKET_ALLOWED if pair[0] is MarketState.SHUTDOWN]


@pytest.mark.parametrize(
    ("module", "table", "trigger_enum"),
    [(order_module, ORDER_TRANSITIONS, OrderTrigger), (market_module, MARKET_TRANSITIONS, MarketTrigger)],
)
def test_the_shared_machine_is_built_from_the_table_alone(module, table, trigger_enum) -> None:  # type: ignore[no-untyped-def]
    machine = module._MACHINE
    # No `to_<state>` shortcuts: the machine's events are exactly the table's triggers.
    assert set(machine.events) == {member.value for member in trigger_enum}
    machine_edges = {
        (source, name, transition.dest)
        for name, event in machine.events.items()
        for source, transitions in event.transitions.items()
        for transition in transitions
    }
    table_edges = {(source.name, row.trigger.value, row.dest.name) for row in table for source in row.sources}
    assert machine_edges == table_edges


def test_models_are_not_registered_on_the_shared_machine() -> None:
    orders = [new_order() for _ in range(3)]
    for order in orders:
        order.trigger(OrderTrigger.ACCEPTED)
    # Nothing keeps finished orders alive, and creating one costs no registration.
    assert order_module._MACHINE.models == []
    assert market_module._MACHINE.models == []


def test_illegal_transition_is_the_librarys_machine_error_without_quotes() -> None:
    order = order_in(OrderState.FILLED)
    with pytest.raises(MachineError) as caught:
        order.trigger(OrderTrigger.CANCEL_REQUESTED)
    assert isinstance(caught.value, IllegalTransition)
    assert str(caught.value) == "order 0xab12… in state 'filled' cannot 'cancel_requested'"


def test_matched_size_grows_and_a_stale_smaller_report_is_ignored() -> None:
    order = new_order()
    order.trigger(OrderTrigger.ACCEPTED, matched_micro=0)
    order.trigger(OrderTrigger.PARTIALLY_FILLED, matched_micro=4_000_000)
    assert (order.matched_micro, order.remaining_micro) == (4_000_000, 6_000_000)
    assert (order.matched_shares, order.remaining_shares) == (4.0, 6.0)  # the display views
    order.trigger(OrderTrigger.PARTIALLY_FILLED, matched_micro=3_000_000)  # an older UPDATE arriving late
    assert (order.state, order.matched_micro, order.remaining_micro) == (OrderState.LIVE, 4_000_000, 6_000_000)
    order.trigger(OrderTrigger.ACCEPTED, matched_micro=0)  # a late PLACEMENT does not reset it
    assert order.matched_micro == 4_000_000


@given(st.lists(st.integers(min_value=0, max_value=SIZE_MICRO), min_size=1, max_size=20))
def test_matched_size_is_the_running_maximum_of_the_reports(reports: list[int]) -> None:
    order = new_order()
    for matched in reports:
        order.trigger(OrderTrigger.PARTIALLY_FILLED, matched_micro=matched)
    assert order.matched_micro == max(reports)
    assert order.remaining_micro == SIZE_MICRO - max(reports)


def test_filled_without_a_size_means_the_whole_size_and_a_terminal_order_has_nothing_remaining() -> None:
    order = order_in(OrderState.LIVE)
    order.trigger(OrderTrigger.FILLED)
    assert (order.matched_micro, order.remaining_micro, order.is_terminal, order.is_open) == (
        SIZE_MICRO,
        0,
        True,
        False,
    )


def test_a_fak_partly_filled_then_killed_keeps_its_matched_size() -> None:
    order = Order(
        ORDER_ID, "token-down", side="BUY", price_micro=520_000, size_micro=8_000_000, order_type="FAK",
        created_at_s=10.0,
    )
    order.trigger(
        OrderTrigger.VENUE_CANCELLED, matched_micro=3_000_000, reason="CANCELED_FAK remainder", at_s=10.2
    )
    assert (order.state, order.matched_micro, order.remaining_micro) == (OrderState.CANCELLED, 3_000_000, 0)
    assert (order.last_reason, order.updated_at_s) == ("CANCELED_FAK remainder", 10.2)


@pytest.mark.parametrize("bad", [-1, -1.0, float("nan"), float("inf"), 4.0, 4_000_000.0, True])
def test_a_bad_matched_size_is_refused_before_any_change(bad: float) -> None:
    # Floats are refused outright, even whole ones: money in the machine is integer micro-units.
    order = order_in(OrderState.LIVE)
    with pytest.raises(ValueError, match="matched_micro"):
        order.trigger(OrderTrigger.PARTIALLY_FILLED, matched_micro=bad)  # type: ignore[arg-type]
    assert (order.state, order.matched_micro) == (OrderState.LIVE, 0)


@pytest.mark.parametrize(("price", "size"), [(0.45, 10_000_000), (450_000, 10.0), (-1, 10_000_000), (450_000, False)])
def test_an_order_with_a_float_or_negative_price_or_size_is_refused(price: object, size: object) -> None:
    with pytest.raises(ValueError, match="_micro"):
        Order(ORDER_ID, "token-up", side="BUY", price_micro=price, size_micro=size,  # type: ignore[arg-type]
              order_type="GTC", created_at_s=0.0)


def test_a_partial_fill_needs_its_cumulative_size_and_unknown_triggers_are_refused() -> None:
    order = order_in(OrderState.LIVE)
    with pytest.raises(ValueError, match="partially_filled needs matched_micro"):
        order.trigger(OrderTrigger.PARTIALLY_FILLED)
    with pytest.raises(ValueError, match="unknown order trigger"):
        order.trigger("expired")  # type: ignore[arg-type]
    assert order.trigger("cancel_requested") is OrderState.CANCELLING  # type: ignore[arg-type]


def test_ladder_order_partly_filled_then_repriced_away() -> None:
    order = new_order()
    assert order.is_open and order.state is OrderState.PENDING
    order.trigger(OrderTrigger.ACCEPTED, at_s=100.1)  # POST answered `live`
    order.trigger(OrderTrigger.ACCEPTED, at_s=100.2)  # WS PLACEMENT repeats it
    order.trigger(OrderTrigger.PARTIALLY_FILLED, matched_micro=4_000_000, at_s=101.0)  # WS UPDATE, LIVE
    order.trigger(OrderTrigger.CANCEL_REQUESTED, at_s=102.0)  # price moved: DELETE /order
    order.trigger(OrderTrigger.CANCEL_CONFIRMED, at_s=102.1)  # REST `canceled`
    order.trigger(OrderTrigger.VENUE_CANCELLED, reason="CANCELED", at_s=102.2)  # WS CANCELLATION repeats it
    order.trigger(
        OrderTrigger.PARTIALLY_FILLED, matched_micro=5_000_000, at_s=102.3
    )  # a fill from before the cancel
    assert (order.state, order.matched_micro, order.remaining_micro) == (OrderState.CANCELLED, 5_000_000, 0)
    assert (order.is_terminal, order.is_open, order.updated_at_s, order.created_at_s) == (
        True,
        False,
        102.3,
        100.0,
    )
    # The reason it ended with is kept; the WS repeat did not rewrite it after the REST confirmation.
    assert order.last_reason is None
    with pytest.raises(IllegalTransition):
        order.trigger(OrderTrigger.CANCEL_FAILED)


def test_post_timed_out_cancel_by_id_then_the_order_turns_out_filled() -> None:
    order = new_order()  # POST timed out: outcome unknown, stays pending
    order.trigger(OrderTrigger.CANCEL_REQUESTED, at_s=106.0)  # cancel by id (the id is the hash)
    order.trigger(OrderTrigger.ACCEPTED, at_s=106.1)  # the slow POST answer finally says `live`
    assert order.state is OrderState.CANCELLING
    order.trigger(OrderTrigger.FILLED, matched_micro=SIZE_MICRO, at_s=106.2)  # it matched before the cancel
    order.trigger(OrderTrigger.FILLED, at_s=106.3)  # the trade's report repeats it
    assert (order.state, order.matched_micro) == (OrderState.FILLED, SIZE_MICRO)
    with pytest.raises(IllegalTransition, match="cannot 'cancel_confirmed'"):
        order.trigger(OrderTrigger.CANCEL_CONFIRMED)  # the cancel answers `not_canceled`, never `canceled`


def test_cancel_failed_puts_the_order_back_live() -> None:
    order = order_in(OrderState.CANCELLING)
    order.trigger(OrderTrigger.CANCEL_FAILED, reason="engine busy")
    assert (order.state, order.last_reason, order.is_open) == (OrderState.LIVE, "engine busy", True)


def test_post_only_cross_is_an_expected_reject_and_then_strict() -> None:
    order = new_order()
    order.trigger(OrderTrigger.REJECTED_EXPECTED, reason="invalid post-only order: order crosses book")
    assert (order.state, order.is_terminal) == (OrderState.REJECTED_EXPECTED, True)
    assert order.last_reason == "invalid post-only order: order crosses book"
    with pytest.raises(IllegalTransition, match="in state 'rejected_expected' cannot 'accepted'"):
        order.trigger(OrderTrigger.ACCEPTED)


def test_a_lost_order_fails_and_a_later_placement_is_loud() -> None:
    order = new_order()
    order.trigger(OrderTrigger.LOST, reason="not in open orders after the settle bound", at_s=130.0)
    assert order.state is OrderState.FAILED
    with pytest.raises(IllegalTransition):
        order.trigger(OrderTrigger.ACCEPTED)


def test_market_full_life_records_history_and_exit() -> None:
    market = MarketMachine(CONDITION_ID, at_s=0.0)
    assert (market.state, market.quote_block_reason, market.entered_at_s) == (
        MarketState.STARTING,
        "starting",
        0.0,
    )
    steps = [
        (MarketTrigger.BEGIN_RECONCILE, 1.0, MarketState.RECONCILING),
        (MarketTrigger.RECONCILED, 2.0, MarketState.QUOTING),
        (MarketTrigger.START_COMPLETION, 30.0, MarketState.COMPLETING),
        (MarketTrigger.COMPLETION_DONE, 31.0, MarketState.QUOTING),
        (MarketTrigger.FAILURES_EXCEEDED, 40.0, MarketState.BACKOFF),
        (MarketTrigger.BACKOFF_ELAPSED, 41.0, MarketState.QUOTING),
        (MarketTrigger.REACH_CUTOFF, 840.0, MarketState.CUTOFF),
    ]
    for trigger, at_s, expected in steps:
        assert market.trigger(trigger, at_s=at_s) is expected
        assert market.entered_at_s == at_s
    assert market.quote_block_reason == "cutoff"
    assert market.stop(ExitReason.MARKET_END, detail="window ended", at_s=900.0) is True
    assert (market.state, market.is_stopping, market.is_shutdown) == (MarketState.SHUTTING_DOWN, True, False)
    # A signal during the cutoff's cancel-all does not rewrite why the market ended.
    assert market.stop(ExitReason.SIGNAL, at_s=901.0) is False
    market.trigger(MarketTrigger.CANCEL_ALL_DONE, at_s=902.0)
    assert (market.state, market.exit_reason, market.exit_detail) == (
        MarketState.SHUTDOWN,
        ExitReason.MARKET_END,
        "window ended",
    )
    assert market.is_shutdown
    assert [entry.to_state for entry in market.history] == [s for _, _, s in steps] + [
        MarketState.SHUTTING_DOWN,
        MarketState.SHUTDOWN,
    ]
    assert market.history[-2] == (
        900.0,
        MarketState.CUTOFF,
        MarketTrigger.STOP,
        MarketState.SHUTTING_DOWN,
        "market_end",
    )


def test_storm_rebuild_goes_through_reconciling_and_storm_shutdown_records_storm() -> None:
    market = market_in(MarketState.COMPLETING)
    market.trigger(MarketTrigger.BEGIN_RECONCILE, reason="storm: 20 unknown orders in 10 s", at_s=50.0)
    assert market.state is MarketState.RECONCILING
    assert market.history[-1].reason == "storm: 20 unknown orders in 10 s"
    market.trigger(MarketTrigger.RECONCILED, at_s=51.0)
    assert market.quote_block_reason is None
    market.trigger(MarketTrigger.STOP, reason="storm", detail="second storm", at_s=60.0)
    assert (market.exit_reason, market.exit_detail) == (ExitReason.STORM, "second storm")
    with pytest.raises(IllegalTransition, match="market 0xcd34… in state 'shutting_down' cannot 'stop'"):
        market.trigger(MarketTrigger.STOP, reason=ExitReason.CRASH)
    assert market.exit_reason is ExitReason.STORM


def test_stop_needs_a_known_reason_and_keeps_a_bounded_detail() -> None:
    market = market_in(MarketState.QUOTING)
    with pytest.raises(ValueError, match="stop needs reason"):
        market.trigger(MarketTrigger.STOP)
    with pytest.raises(ValueError):
        market.trigger(MarketTrigger.STOP, reason="tired")
    assert market.state is MarketState.QUOTING
    market.trigger(MarketTrigger.STOP, reason=ExitReason.CRASH, detail="x" * 10_000)
    assert market.exit_detail is not None and 0 < len(market.exit_detail) < 10_000


def test_market_history_is_bounded() -> None:
    market = market_in(MarketState.QUOTING)
    for index in range(MARKET_HISTORY_LEN):
        market.trigger(MarketTrigger.FAILURES_EXCEEDED, at_s=float(index))
        market.trigger(MarketTrigger.BACKOFF_ELAPSED, at_s=float(index))
    assert len(market.history) == MARKET_HISTORY_LEN
    assert market.history[-1].at_s == float(MARKET_HISTORY_LEN - 1)


@pytest.mark.slow
def test_statemachines_import_neither_trio_nor_bot() -> None:
    code = (
        "import sys, statemachines, statemachines.order, statemachines.market, statemachines.diagrams\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('trio', 'bot'))\n"
        "print(','.join(bad))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == ""
