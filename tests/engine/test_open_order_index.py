"""The order manager's open-order index (`OrderManager._open`) against a scan of every order (`by_id`).

`open_orders()` reads the index on every tick; it must list exactly the open orders of `by_id`, in
`by_id`'s order, after any sequence of registrations, adoptions, transitions (every one the order
table allows), sweeps of old terminal orders and triggers applied outside the manager.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.engine.journal import NullJournal
from bot.engine.order_manager import ManagerParams, OrderManager
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
            order = Order(f"0x{made:04x}", token, side="BUY", price=0.5, size_shares=10.0, order_type="GTC",
                          created_at_s=clock.now, level=level)
            made += 1
            if op == "adopt":  # seeded: accepted (maybe partly filled) before the manager sees it
                order.trigger(OrderTrigger.ACCEPTED, at_s=clock.now)
                if a % 3 == 0:
                    order.trigger(OrderTrigger.PARTIALLY_FILLED, matched_shares=4.0, at_s=clock.now)
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
            matched = 5.0 if trigger is OrderTrigger.PARTIALLY_FILLED else None
            if op == "transition":
                assert manager.transition(order, trigger, reason="test", matched=matched)
                if order.is_terminal:
                    ended.add(order.order_id)
            else:  # outside the manager (as the reconciler's seeding does before `adopt`)
                order.trigger(trigger, matched_shares=matched, at_s=clock.now)
        elif op == "forget":
            manager.forget_terminal(float(a % 50))
        elif op == "advance":
            clock.now += a % 30
        assert manager.open_orders() == _scan(manager)
        assert set(manager._open) <= set(manager.by_id)
        assert not ended & set(manager._open)  # an order ended through the manager has left the index


def test_an_order_ended_through_the_manager_leaves_the_index() -> None:
    clock = _Clock()
    manager = _manager(clock)
    order = Order("0x01", "up", side="BUY", price=0.5, size_shares=10.0, order_type="GTC", created_at_s=clock.now,
                  level=0)
    manager.register(order)
    assert manager._open == {"0x01": order}
    manager.transition(order, OrderTrigger.ACCEPTED, reason="live")
    manager.transition(order, OrderTrigger.FILLED, reason="filled")
    assert manager._open == {}
    assert manager.open_orders() == []
