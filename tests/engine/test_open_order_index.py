"""The order manager's per-tick shortcuts against the scans they replace.

- The open-order index (`OrderManager._open`): `open_orders()` reads it on every tick; it must list
  exactly the open orders of `by_id`, in `by_id`'s order, after any sequence of registrations,
  adoptions, transitions (every one the order table allows), sweeps of old terminal orders and
  triggers applied outside the manager.
- The idle diff (`OrderManager._idle_plan`): a plan answered from memory equals the plan recomputed.
- The runner's resting orders (`MarketRunner._resting`, kept per `seq`): equal to a fresh build.
"""

from __future__ import annotations

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.engine.clock import VenueClock
from bot.engine.journal import NullJournal
from bot.engine.market import MarketRunner
from bot.engine.markets import MarketInfo
from bot.engine.order_manager import ManagerParams, OrderManager
from bot.engine.strategy import Ladder, Quote, RestingOrder
from settings import BotSettings
from statemachines.order import ORDER_ALLOWED, Order, OrderTrigger

_TOKENS = ("up", "down")
_TRIGGERS = tuple(OrderTrigger)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _manager(clock: _Clock) -> OrderManager:
    params = ManagerParams(ladder_levels=3, reprice_ticks=1, resize_pct=25.0, max_post_batch=15,
                           max_cancel_batch=1000, cancel_retry_s=1.0, gtd_at_cutoff=False)
    return OrderManager(condition_id="0xabc", params=params, gateway=None,  # type: ignore[arg-type]
                        clock_s=clock, journal=NullJournal(), on_failure=lambda _o: None, on_success=lambda: None)


def _scan(manager: OrderManager) -> list[Order]:
    return [o for o in manager.by_id.values() if o.is_open]


_OPS = st.lists(
    st.tuples(st.sampled_from(("register", "adopt", "transition", "direct", "forget", "advance")),
              st.integers(0, 10_000), st.integers(0, 10_000)),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(_OPS)
def test_the_open_order_index_equals_a_scan_of_every_order(ops: list[tuple[str, int, int]]) -> None:
    clock = _Clock()
    manager = _manager(clock)
    made = 0
    ended: set[str] = set()  # ended through the manager
    for op, a, b in ops:
        orders = list(manager.by_id.values())
        if op in ("register", "adopt"):
            token = _TOKENS[a % 2]
            level = None if b % 4 == 3 else b % 3
            order = Order(f"0x{made:04x}", token, side="BUY", price_micro=500_000, size_micro=10_000_000, order_type="GTC",
                          created_at_s=clock.now, level=level)
            made += 1
            if op == "adopt":  # seeded: accepted (maybe partly filled) before the manager sees it
                order.trigger(OrderTrigger.ACCEPTED, at_s=clock.now)
                if a % 3 == 0:
                    order.trigger(OrderTrigger.PARTIALLY_FILLED, matched_micro=4_000_000, at_s=clock.now)
                manager.adopt(order)
            else:
                manager.register(order)
                if level is not None and (token, level) not in manager.slots:
                    manager.slots[(token, level)] = order
        elif op in ("transition", "direct") and orders:
            order = orders[a % len(orders)]
            allowed = [t for t in _TRIGGERS if (order.state, t) in ORDER_ALLOWED]
            if not allowed:
                continue
            trigger = allowed[b % len(allowed)]
            matched = 5_000_000 if trigger is OrderTrigger.PARTIALLY_FILLED else None
            if op == "transition":
                assert manager.transition(order, trigger, reason="test", matched_micro=matched)
                if order.is_terminal:
                    ended.add(order.order_id)
            else:  # outside the manager (as the reconciler's seeding does before `adopt`)
                order.trigger(trigger, matched_micro=matched, at_s=clock.now)
        elif op == "forget":
            manager.forget_terminal(float(a % 50))
        elif op == "advance":
            clock.now += a % 30
        assert manager.open_orders() == _scan(manager)
        assert set(manager._open) <= set(manager.by_id)
        assert not ended & set(manager._open)  # an order ended through the manager has left the index


def _level_0_order(clock: _Clock) -> Order:
    return Order("0x01", "up", side="BUY", price_micro=500_000, size_micro=10_000_000, order_type="GTC",
                 created_at_s=clock.now, level=0)


def test_an_order_ended_through_the_manager_leaves_the_index() -> None:
    clock = _Clock()
    manager = _manager(clock)
    order = _level_0_order(clock)
    manager.register(order)
    assert manager._open == {"0x01": order}
    manager.transition(order, OrderTrigger.ACCEPTED, reason="live")
    manager.transition(order, OrderTrigger.FILLED, reason="filled")
    assert manager._open == {}
    assert manager.open_orders() == []


_LADDERS = st.lists(st.tuples(st.sampled_from(_TOKENS), st.integers(0, 2), st.integers(45, 52), st.integers(5, 12)),
                    max_size=6, unique_by=lambda q: (q[0], q[1]))


@settings(max_examples=300, deadline=None)
@given(_OPS, st.lists(_LADDERS, min_size=1, max_size=4), st.sampled_from(("0.01", "0.001", None)))
def test_the_diff_remembered_idle_is_the_diff_computed_afresh(
    ops: list[tuple[str, int, int]], ladders: list[list[tuple[str, int, int, int]]], tick: str | None
) -> None:
    """`plan` answers an unchanged (ladder, tick, seq) it found idle from memory: the same as recomputing."""
    clock = _Clock()
    manager = _manager(clock)
    made = 0
    for i, (op, a, b) in enumerate(ops):
        orders = list(manager.by_id.values())
        if op in ("register", "adopt"):
            token, level = _TOKENS[a % 2], b % 3
            if (token, level) in manager.slots:
                continue
            order = Order(f"0x{made:04x}", token, side="BUY", price_micro=(45 + a % 8) * 10_000, size_micro=(5 + b % 8) * 1_000_000,
                          order_type="GTC", created_at_s=clock.now, level=level)
            made += 1
            if op == "adopt":
                order.trigger(OrderTrigger.ACCEPTED, at_s=clock.now)
                manager.adopt(order)
            else:
                manager.register(order)
                manager.slots[(token, level)] = order
        elif op in ("transition", "direct") and orders:
            order = orders[a % len(orders)]
            allowed = [t for t in _TRIGGERS if (order.state, t) in ORDER_ALLOWED]
            if allowed:
                trigger = allowed[b % len(allowed)]
                matched = 2_000_000 if trigger is OrderTrigger.PARTIALLY_FILLED else None
                manager.transition(order, trigger, reason="test", matched_micro=matched)
                if trigger is OrderTrigger.CANCEL_REQUESTED:
                    manager._cancel_sent_at[order.order_id] = clock.now
        elif op == "advance":
            clock.now += a % 3
        elif op == "forget":
            manager.forget_terminal(float(a % 50))
        rows = ladders[i % len(ladders)]
        ladder = Ladder(tuple(Quote(t, level, price, size * 1_000_000, tick or "0.01") for t, level, price, size in rows))
        for _ in range(2):  # the second asks the memo (when the first found nothing to do)
            remembered = manager.plan(ladder, tick)
            manager._idle_plan = None
            assert remembered == manager.plan(ladder, tick)


def test_a_cancel_awaiting_its_resend_is_never_answered_from_memory() -> None:
    """The one input of the diff not stamped by `seq` is the time: a cancel is re-sent after a pause."""
    clock = _Clock()
    manager = _manager(clock)
    order = _level_0_order(clock)
    manager.register(order)
    manager.slots[("up", 0)] = order
    manager.transition(order, OrderTrigger.ACCEPTED, reason="live")
    manager.request_cancel(order, "test")
    manager._cancel_sent_at[order.order_id] = clock.now
    ladder = Ladder(())
    assert manager.plan(ladder, "0.01") == ([], [])  # the pause is not over
    clock.now += 1.0  # cancel_retry_s
    assert manager.plan(ladder, "0.01") == ([order], [])


def _order_key(o: RestingOrder) -> tuple[str, int, int]:
    return o.token_id, o.price_micro, o.remaining_micro


class _NoBooks:
    def book(self, token_id: str) -> None:
        return None

    async def changed(self) -> None:
        await trio.sleep_forever()


@settings(max_examples=100, deadline=None)
@given(_OPS)
def test_the_runners_resting_orders_follow_every_change_of_its_orders(ops: list[tuple[str, int, int]]) -> None:
    """`MarketRunner.resting_orders()` is kept while the manager's `seq` stays put: equal to a fresh build."""

    async def run() -> None:
        clock = VenueClock(epoch_offset_s=1_767_225_000.0)
        info = MarketInfo(condition_id="0x" + "cd" * 32, slug="s", up_token_id="up", down_token_id="down",
                          start_s=clock.now_s(), end_s=clock.now_s() + 900.0, tick_size="0.01")
        _, receive = trio.open_memory_channel[object](0)
        runner = MarketRunner(info, BotSettings(), gateway=object(), books=_NoBooks(),  # type: ignore[arg-type]
                              user_events=receive, clock=clock, journal=NullJournal())
        manager = runner.manager

        def fresh() -> tuple[RestingOrder, ...]:
            # Open BUYs, then what the venue reported matched that the inventory (empty here) does not hold.
            return tuple(RestingOrder(o.token_id, o.level, o.price_micro, o.remaining_micro, o.order_id in manager.retiring)
                         for o in manager.by_id.values() if o.is_open and o.side == "BUY")

        def ahead_fresh() -> list[RestingOrder]:
            return sorted((RestingOrder(o.token_id, None, o.price_micro, o.matched_micro)
                           for o in manager.by_id.values() if o.matched_micro and o.side == "BUY"), key=_order_key)

        def check() -> None:
            got = runner.resting_orders()
            opened = len(fresh())
            assert got[:opened] == fresh()
            assert sorted(got[opened:], key=_order_key) == ahead_fresh()

        for made, (op, a, b) in enumerate(ops):
            orders = list(manager.by_id.values())
            if op in ("register", "adopt"):
                order = Order(f"0x{made:04x}", _TOKENS[a % 2], side="BUY", price_micro=(40 + a % 9) * 10_000,
                              size_micro=10_000_000, order_type="GTC", created_at_s=clock.now_s(),
                              level=None if b % 4 == 3 else b % 3)
                if op == "adopt":
                    order.trigger(OrderTrigger.ACCEPTED)
                    manager.adopt(order)
                else:
                    manager.register(order)
            elif op in ("transition", "direct") and orders:
                order = orders[a % len(orders)]
                allowed = [t for t in _TRIGGERS if (order.state, t) in ORDER_ALLOWED]
                if allowed:
                    trigger = allowed[b % len(allowed)]
                    matched = (b % 10) * 1_000_000 if trigger is OrderTrigger.PARTIALLY_FILLED else None
                    manager.transition(order, trigger, reason="test", matched_micro=matched)
            elif op == "forget":
                manager.forget_terminal(float(a % 50))
            elif op == "advance":
                await trio.sleep(a % 30)
            check()
            check()  # asked again unchanged: from memory

    trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))
