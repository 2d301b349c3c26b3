"""The engine bugs the interleaving properties found, each pinned by the interleaving that showed it.

Every test drives the real runner through `tests/engine/interleaving.py` by hand: it answers the runner's
REST requests one by one and moves the mock clock, so the order of events is exactly the one written here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio
import trio.testing

from bot.engine.illegal import illegal_transitions
from bot.protocol.errors import error_for
from bot.protocol.rest import CancelResult
from statemachines.market import MarketState
from statemachines.order import OrderState
from tests.engine.interleaving import Options, Request, World


class _NoDraws:
    def draw(self, strategy: Any, label: str = "") -> Any:
        raise AssertionError(f"a scripted test draws nothing ({label})")


def _scripted(options: Options, script: Callable[[World], Awaitable[None]]) -> World:
    clock = trio.testing.MockClock()
    holder: list[World] = []

    async def main() -> None:
        world = World(_NoDraws(), options, clock)
        holder.append(world)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(world.run_runner)
            try:
                await script(world)
            finally:
                clock.autojump_threshold = 0  # let whatever is left run out
                nursery.cancel_scope.cancel()

    trio.run(main, clock=clock)
    return holder[0]


async def _next(world: World, kind: str) -> Request:
    """The runner's next request of `kind` (time moves to the next timer while it has none)."""
    for _ in range(200):
        await trio.testing.wait_all_tasks_blocked()
        for req in world.rest.pending:
            if req.kind == kind and not req.orphan:
                return req
        others = [r for r in world.rest.pending if not r.orphan]
        if others:
            world.rest.answer(others[0], "ok")
            continue
        world.advance(world.next_timer_s())
    raise AssertionError(f"no {kind} request came")


async def _answer(world: World, kind: str, how: str = "ok") -> Request:
    req = await _next(world, kind)
    while req in world.rest.pending:  # a listing lets overdue user events go first
        world.rest.answer(req, how)
        await trio.testing.wait_all_tasks_blocked()
    return req


async def _quoting_with_orders(world: World) -> None:
    """Answer everything until the ladder rests (every open order live, nothing in flight)."""
    for _ in range(50):
        await trio.testing.wait_all_tasks_blocked()
        manager = world.runner.manager
        pending = [r for r in world.rest.pending if not r.orphan]
        if (world.runner.machine.state is MarketState.QUOTING and not pending and manager.open_orders()
                and all(o.state is OrderState.LIVE for o in manager.open_orders())):
            return
        if pending:
            world.rest.answer(pending[0], "ok")
        else:
            world.advance(world.next_timer_s())
    raise AssertionError("the ladder never rested")


def test_a_5xx_on_the_seeding_listing_is_retried_not_a_crash():
    async def script(world: World) -> None:
        await _answer(world, "tick")
        await _answer(world, "orders", "500")
        await _answer(world, "orders")
        await _quoting_with_orders(world)
        assert world.running

    world = _scripted(Options(startup_cancel_all=False), script)
    assert world.runner.stats.first_quote_at_s is not None


def test_failures_during_the_startup_cancel_all_leave_the_market_in_backoff_not_a_refused_edge():
    async def script(world: World) -> None:
        await _answer(world, "tick")
        await _answer(world, "cancel_market", "500")  # outcome unknown: failure 1
        await _answer(world, "orders", "500")
        await _answer(world, "cancel_market", "500")  # failure 2: backoff (backoff_failures=2)
        assert world.runner.machine.state is MarketState.BACKOFF
        await _answer(world, "orders")  # verified
        await trio.testing.wait_all_tasks_blocked()
        assert world.running and world.runner.machine.state is MarketState.BACKOFF
        await _quoting_with_orders(world)

    _scripted(Options(), script)


def test_a_verified_cancel_all_ends_the_orders_whose_cancel_was_refused_on_the_way():
    async def script(world: World) -> None:
        await _quoting_with_orders(world)
        resting = len(world.runner.manager.open_orders())
        world.cancel_scope.cancel()  # a signal: the exit cancel-all runs
        await _answer(world, "cancel_market", "500")  # not landed
        await _answer(world, "orders")  # all still there
        refused = await _answer(world, "cancel", "refuse")  # cancel by id refused: live again
        assert len(refused.args) == resting
        await _answer(world, "cancel_market")
        await _answer(world, "orders")  # empty: verified
        await trio.testing.wait_all_tasks_blocked()
        assert not world.running

    world = _scripted(Options(), script)
    assert world.runner.stats.cancel_all_runs[-1][2] is True
    assert world.exchange.open_orders("interleave-key") == []
    assert world.runner.manager.open_orders() == []


def test_a_diff_whose_cancels_start_a_backoff_posts_nothing_after_them():
    async def script(world: World) -> None:
        await _quoting_with_orders(world)
        with world.exchange.batch():
            world.other.quote("0.55", "5")  # Down's bid rises, Up's ask falls: every level is repriced
        world.books.publish()
        req = await _next(world, "cancel")
        by_id = world.runner.manager.by_id
        first = next(oid for oid in req.args if by_id[oid].level == 0)
        refused = [oid for oid in req.args if oid != first]
        assert len(refused) >= world.settings.backoff_failures
        # One cancel lands (its level is free), the others are refused: the backoff starts inside the diff.
        world.exchange.cancel("interleave-key", [first])
        kinds = {oid: error_for(None, "order is being matched, try again").kind for oid in refused}
        req.value = CancelResult(canceled=[first], not_canceled=dict.fromkeys(refused, "order is being matched, try again"),
                                 not_canceled_kinds=kinds)
        world.rest.pending.remove(req)
        req.done.set()
        await trio.testing.wait_all_tasks_blocked()
        assert world.runner.machine.state is MarketState.BACKOFF
        assert not [r for r in world.rest.pending if r.kind == "post"]

    _scripted(Options(), script)


def test_an_order_the_venue_ended_before_the_listing_is_not_lost_while_its_report_is_on_the_way():
    async def script(world: World) -> None:
        await _quoting_with_orders(world)
        order = world.runner.manager.open_orders()[0]
        world.exchange.cancel("interleave-key", [order.order_id])  # its CANCELLATION waits in the queue
        world.advance(world.settings.reconcile_interval_s)
        await _answer(world, "orders")
        await _answer(world, "order")  # null: a finished order
        await trio.testing.wait_all_tasks_blocked()
        assert order.state is OrderState.LIVE and world.runner.stats.reconcile_repairs == 0
        while world.queue:
            world.deliver(world.queue.popleft()[1])
        await trio.testing.wait_all_tasks_blocked()
        assert order.state is OrderState.CANCELLED

    world = _scripted(Options(reconcile_exit=True), script)
    assert world.runner.stats.reconcile_repairs == 0


def test_a_completion_called_lost_then_reported_killed_or_filled_is_no_refused_transition():
    from tests.reliability.lifecycle import _UP

    async def script(world: World) -> None:
        await _quoting_with_orders(world)
        with world.exchange.batch():
            world.other.sell(_UP, 15)  # the other side's 5, then ours: Up leads
        while world.queue:
            world.deliver(world.queue.popleft()[1])
        with world.exchange.batch():
            world.other.quote("0.55", "5")  # Down is offered at 0.45: a completion pays
        world.books.publish()
        await trio.testing.wait_all_tasks_blocked()
        assert world.runner.inventory.imbalance_shares >= world.settings.completion_min_imbalance_shares
        for _ in range(50):  # the quotes are cancelled, then the FOK/FAK leaves
            await trio.testing.wait_all_tasks_blocked()
            taker = [r for r in world.rest.pending if r.taker_post]
            if taker:
                break
            assert world.running, (world.reason, world.runner._stop)
            pending = [r for r in world.rest.pending if not r.orphan]
            if pending:
                world.rest.answer(pending[0], "ok")
            else:
                world.advance(world.next_timer_s())
        (req,) = taker
        world.rest.answer(req, "landed500")  # it ran on the venue (killed or filled); the answer was a 500
        await trio.testing.wait_all_tasks_blocked()
        completion = world.runner.completion.order
        assert completion is not None and completion.state is OrderState.UNKNOWN
        reports = list(world.queue)  # its WS reports are held back past the next listing
        world.queue.clear()
        for _ in range(50):
            await trio.testing.wait_all_tasks_blocked()
            if completion.state is OrderState.FAILED:
                break
            pending = [r for r in world.rest.pending if not r.orphan]
            if pending:
                world.rest.answer(pending[0], "ok")
            else:
                world.advance(world.next_timer_s())
        assert completion.state is OrderState.FAILED  # called lost: absent past the grace window
        for _, item in reports:
            world.deliver(item)
        await trio.testing.wait_all_tasks_blocked()
        assert illegal_transitions() == world.illegal_before
        assert world.runner.machine.state is not MarketState.SHUTTING_DOWN and completion.state is OrderState.FAILED

    _scripted(Options(), script)


def test_a_fill_between_the_seeds_trades_listing_and_its_balance_read_is_counted_once():
    # A restart that seeds: our order from before it rests at 0.30. A taker fills it after the seed listed
    # our trades and before it read the balance; the balance holds the fill, and its user event arrives
    # after the seed. Counted from the balance and again from the event, the inventory held 10 against
    # the venue's 5 (the interleaving property's seeding case). The seed now lists the trades again around
    # the balance reads until two listings agree, and records the listed fills as seen.
    from tests.reliability.lifecycle import _UP

    async def script(world: World) -> None:
        await _answer(world, "tick")
        await _answer(world, "orders")
        await _answer(world, "trades")  # nothing of ours traded yet
        await _next(world, "balance")
        with world.exchange.batch():
            world.other.sell(_UP, 10)  # the other maker's 5 at 0.47, then our 5 at 0.30
        assert world.queue  # the fill's events wait in the user channel
        for _ in range(50):
            await trio.testing.wait_all_tasks_blocked()
            if world.runner.reconciler.seeded:
                break
            world.rest.answer([r for r in world.rest.pending if not r.orphan][0], "ok")
        assert world.runner.reconciler.seeded
        while world.queue:
            world.deliver(world.queue.popleft()[1])
        await trio.testing.wait_all_tasks_blocked()
        venue = int(world.exchange.balance(world.signer.address, "CONDITIONAL", _UP)["balance"])
        assert venue == 5_000_000
        assert world.runner.inventory.position(_UP).shares_micro == venue

    _scripted(Options(startup_cancel_all=False, resting_before_start=1), script)
