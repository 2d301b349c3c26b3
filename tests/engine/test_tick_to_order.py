"""The engine's `tick_to_order` measures what it names (issue 14 §2): from the market frame handled (its
book's freshness stamp, not the quoting task's wake-up a scheduler pass later) to the POST carrying the new
quotes written (after signing, not the first request started).

The quoting loop reads a scripted book feed; the order manager against a scripted gateway whose cancel is
answered, and whose POST is written, after set delays on the fake clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import trio

from bot.engine.gateway import CancelOutcome, PostOutcome, PostOutcomeKind
from bot.engine.journal import NullJournal
from bot.engine.order_manager import ManagerParams, OrderManager, SyncReport
from bot.engine.quoting import QuotingLoop
from bot.engine.strategy import Ladder, Quote

UP, DOWN = "up-token", "down-token"
TICK = "0.01"
LEVELS = 2
SIZE_MICRO = 10_000_000
CANCEL_ANSWERED_AFTER_S = 0.1
POST_WRITTEN_AFTER_S = 0.25
POST_ANSWERED_AFTER_S = 0.5


class _Books:
    """A book feed the test drives: `handled(token)` stamps a frame, `notify()` wakes the pump."""

    def __init__(self) -> None:
        self._event = trio.Event()
        self._fresh: dict[str, float] = {}

    def handled(self, token_id: str) -> None:
        self._fresh[token_id] = trio.current_time()

    def notify(self) -> None:
        self._event.set()

    async def changed(self) -> None:
        await self._event.wait()
        self._event = trio.Event()

    def book_fresh_at(self, token_id: str) -> float | None:
        return self._fresh.get(token_id)


def _runner(books: _Books) -> Any:
    """A runner for the quoting loop; `woken` holds the times it was woken."""
    woken: list[float] = []
    return SimpleNamespace(books=books, info=SimpleNamespace(token_ids=(UP, DOWN)),
                           marks=SimpleNamespace(observe=lambda _books: None),
                           wake=lambda: woken.append(trio.current_time()), woken=woken)


async def test_the_tick_starts_when_the_frame_was_handled_not_when_the_quoting_task_woke(autojump_clock):
    books = _Books()
    runner = _runner(books)
    woken = runner.woken
    loop = QuotingLoop(runner)
    await trio.sleep(1.0)
    books.handled(UP)  # the frame, at 1.0: the feed calls back in the frame's own step ...
    loop.on_book_change()
    assert woken == [1.0] and loop._changed_at is None  # ... which only wakes the quoting task
    await trio.sleep(0.004)
    loop.observe_book_change()  # the quoting task, a scheduler pass later
    assert loop._changed_at == 1.0
    # A second change before the diff ran: the tick stays the first one.
    books.handled(DOWN)
    loop.on_book_change()
    await trio.sleep(0.01)
    loop.observe_book_change()
    assert loop._changed_at == 1.0
    loop._changed_at = None  # the diff took it
    # A change that stamped no book since the last wake-up (a reconnect's invalidation): the wake-up.
    await trio.sleep(1.0)
    loop.on_book_change()
    woke_at = trio.current_time()
    loop.observe_book_change()
    assert loop._changed_at == woke_at


async def test_a_feed_that_only_signals_is_pumped_into_the_same_wake_up(autojump_clock):
    books = _Books()
    runner = _runner(books)
    woken = runner.woken
    loop = QuotingLoop(runner)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.pump_book_changes)
        await trio.sleep(1.0)
        books.handled(UP)
        books.notify()
        await trio.sleep(0.01)
        assert woken == [1.0] and loop._book_changed
        nursery.cancel_scope.cancel()


@dataclass
class _Signed:
    order_id: str


@dataclass
class _ScriptedGateway:
    """Serial ids; the cancel is answered, the POST written and then answered, after the delays above."""

    log: list[tuple[float, str]] = field(default_factory=list)
    serial: int = 0

    def sign_buy(self, *, token_id: str, price_ticks: int, size_micro: int, tick_size: str, neg_risk: bool,
                 expiration_s: int) -> _Signed:
        self.serial += 1
        self.log.append((trio.current_time(), "sign"))
        return _Signed(f"0x{self.serial:064x}")

    async def cancel_ids(self, order_ids: list[str]) -> CancelOutcome:
        self.log.append((trio.current_time(), "cancel"))
        await trio.sleep(CANCEL_ANSWERED_AFTER_S)
        return CancelOutcome(canceled=list(order_ids))

    async def post_orders(self, orders: list[_Signed], *, order_type: str, post_only: bool,
                          on_sent: Any = None) -> list[PostOutcome]:
        await trio.sleep(POST_WRITTEN_AFTER_S)
        self.log.append((trio.current_time(), "post written"))
        if on_sent is not None:
            on_sent()
        await trio.sleep(POST_ANSWERED_AFTER_S)
        return [PostOutcome(PostOutcomeKind.LIVE, "live") for _ in orders]


def _manager(gateway: _ScriptedGateway) -> OrderManager:
    params = ManagerParams(ladder_levels=LEVELS, reprice_ticks=1, resize_pct=25.0, max_post_batch=15,
                           max_cancel_batch=1000, cancel_retry_s=1.0, gtd_at_cutoff=False)
    return OrderManager(condition_id="0xabc", params=params, gateway=gateway,  # type: ignore[arg-type]
                        clock_s=trio.current_time, journal=NullJournal(), on_failure=lambda _o: None,
                        on_success=lambda: None)


def _ladder(top_ticks: int) -> Ladder:
    return Ladder(tuple(Quote(token, level, top_ticks - level, SIZE_MICRO, TICK)
                        for token in (UP, DOWN) for level in range(LEVELS)))


async def _sync(manager: OrderManager, ladder: Ladder) -> SyncReport:
    report = SyncReport()
    await manager.sync(ladder, tick_size=TICK, neg_risk=False, expiration_s=0, report=report)
    return report


async def test_quotes_sent_at_is_when_the_post_with_the_new_quotes_was_written_after_signing(autojump_clock):
    gateway = _ScriptedGateway()
    manager = _manager(gateway)
    await _sync(manager, _ladder(45))
    await trio.sleep(1.0)
    gateway.log.clear()
    started = trio.current_time()
    report = await _sync(manager, _ladder(40))  # every level moves 5 ticks: cancel, then post
    # The first request (the cancel) started at once; the new quotes left once the cancel was answered,
    # every order signed and the POST written.
    assert report.first_request_at_s == started
    assert report.quotes_sent_at == started + CANCEL_ANSWERED_AFTER_S + POST_WRITTEN_AFTER_S
    assert [kind for _, kind in gateway.log] == ["cancel", *["sign"] * (2 * LEVELS), "post written"]
    assert all(t <= report.quotes_sent_at for t, kind in gateway.log if kind == "sign")
    assert trio.current_time() == report.quotes_sent_at + POST_ANSWERED_AFTER_S


async def test_a_diff_that_posts_nothing_has_no_quotes_sent_at(autojump_clock):
    gateway = _ScriptedGateway()
    manager = _manager(gateway)
    await _sync(manager, _ladder(45))
    report = await _sync(manager, Ladder(()))  # everything cancelled, nothing new
    assert report.cancels_sent == 2 * LEVELS and report.posts_sent == 0
    assert report.first_request_at_s is not None and report.quotes_sent_at is None
