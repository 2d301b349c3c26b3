"""The concurrent re-price (issue 14 §3): the cancel first, the replacements signed while it is in flight and
posted beside it within the overlap caps, both counted until the cancel is answered, nothing posted twice.

The venue door is a scripted gateway on the fake clock: its cancel is "written" at once and answered only
when the test says so, so the overlap can be inspected while it lasts. Ladder: 2 tokens x 3 levels of 10
shares on the 0.01 grid; the re-price moves every level by 5 ticks. Money in micro-units, as the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trio

from bot.engine.gateway import CancelOutcome, PostOutcome, PostOutcomeKind
from bot.engine.journal import NullJournal
from bot.engine.market import MarketRunner
from bot.engine.order_manager import ManagerParams, OrderManager, OverlapCaps, SyncReport
from bot.engine.strategy import Ladder, Quote
from bot.protocol.money import MICRO
from bot.sim.faults import HttpFault
from statemachines.market import ExitReason
from statemachines.order import Order, OrderState
from tests.scenarios.harness import QUIET_FLOW, Scenario, scenario

UP, DOWN = "up-token", "down-token"
LEVELS = 3
SIZE_MICRO = 10 * MICRO
TICK = "0.01"
TICK_MICRO = MICRO // 100


@dataclass
class _Signed:
    order_id: str


@dataclass
class ScriptedGateway:
    """Signs with serial ids; a cancel is written at once and answered when `answer` is set."""

    log: list[tuple[float, str, Any]] = field(default_factory=list)
    answer: trio.Event = field(default_factory=trio.Event)
    refuse: set[str] = field(default_factory=set)  # ids whose cancel the venue refuses (cancel fails)
    post_written_after_s: float = 0.0
    serial: int = 0

    def sign_buy(self, *, token_id: str, price_ticks: int, size_micro: int, tick_size: str, neg_risk: bool,
                 expiration_s: int) -> _Signed:
        self.serial += 1
        self.log.append((trio.current_time(), "sign", (token_id, price_ticks)))
        return _Signed(f"0x{self.serial:064x}")

    async def cancel_ids(self, order_ids: list[str], *, on_sent: Any = None) -> CancelOutcome:
        self.log.append((trio.current_time(), "cancel", list(order_ids)))
        if on_sent is not None:
            on_sent()
        await self.answer.wait()
        self.answer = trio.Event()
        return CancelOutcome(canceled=[i for i in order_ids if i not in self.refuse],
                             failed={i: "refused" for i in order_ids if i in self.refuse})

    async def post_orders(self, orders: list[_Signed], *, order_type: str, post_only: bool,
                          on_sent: Any = None) -> list[PostOutcome]:
        await trio.sleep(self.post_written_after_s)
        if on_sent is not None:
            on_sent()
        self.log.append((trio.current_time(), "post", [o.order_id for o in orders]))
        return [PostOutcome(PostOutcomeKind.LIVE, "live") for _ in orders]

    def of(self, kind: str) -> list[Any]:
        return [what for _, k, what in self.log if k == kind]


def _manager(gateway: ScriptedGateway, *, concurrent: bool = True) -> OrderManager:
    params = ManagerParams(LEVELS, 1, 25.0, 15, 1000, 1.0, False, concurrent_reprice=concurrent)
    return OrderManager(condition_id="0xabc", params=params, gateway=gateway,  # type: ignore[arg-type]
                        clock_s=trio.current_time, journal=NullJournal(), on_failure=lambda _o: None,
                        on_success=lambda: None)


def _ladder(top_ticks: int) -> Ladder:
    return Ladder(tuple(Quote(token, level, top_ticks - level, SIZE_MICRO, TICK)
                        for token in (UP, DOWN) for level in range(LEVELS)))


def _notional(orders: list[Order]) -> int:
    """pUSD × 10⁶ at their worst case (every share at its price; exact on this grid)."""
    return sum(o.remaining_micro * o.price_micro // MICRO for o in orders)


def _shares(orders: list[Order], token: str) -> int:
    return sum(o.remaining_micro for o in orders if o.token_id == token)


# Room for the whole overlap: 6 old + 6 new orders, 30 shares per token each side.
WIDE = OverlapCaps(notional_micro=1000 * MICRO, open_shares_micro={UP: 100 * MICRO, DOWN: 100 * MICRO})


async def _sync(manager: OrderManager, top_ticks: int, caps: Any = WIDE, report: SyncReport | None = None) -> None:
    await manager.sync(_ladder(top_ticks), tick_size=TICK, neg_risk=False, expiration_s=0, report=report, caps=caps)


async def _quoted(manager: OrderManager, top_ticks: int = 45) -> None:
    await _sync(manager, top_ticks)
    assert sum(1 for o in manager.open_orders() if o.state is OrderState.LIVE) == 2 * LEVELS


def _per_level(manager: OrderManager) -> dict[tuple[str, int | None], list[Order]]:
    levels: dict[tuple[str, int | None], list[Order]] = {}
    for order in manager.open_orders():
        levels.setdefault((order.token_id, order.level), []).append(order)
    return levels


async def test_the_replacements_are_signed_after_the_cancel_is_written_and_posted_before_its_answer(autojump_clock):
    gateway = ScriptedGateway()
    manager = _manager(gateway)
    await _quoted(manager)
    old = {key: o.order_id for key, o in manager.slots.items()}
    gateway.log.clear()
    report = SyncReport()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_sync, manager, 40, WIDE, report)
        await trio.sleep(1.0)  # the cancel stays unanswered this long
        # The DELETE went first; every sign came after it; the POST left before the cancel's answer.
        kinds = [k for _, k, _ in gateway.log]
        assert kinds == ["cancel", *["sign"] * (2 * LEVELS), "post"]
        assert sorted(gateway.of("cancel")[0]) == sorted(old.values())
        # During the overlap: the predecessors are cancelling, off their slots, still open; both count.
        assert sorted(o.order_id for o in manager.retiring.values()) == sorted(old.values())
        assert all(o.state is OrderState.CANCELLING for o in manager.retiring.values())
        assert all(o.order_id not in old.values() for o in manager.slots.values())
        open_now = manager.open_orders()
        assert {o.order_id for o in open_now} >= set(old.values())
        assert _notional(open_now) == (26_400_000 + 23_400_000) <= WIDE.notional_micro
        # Never two orders on a level that are not being cancelled.
        for orders in _per_level(manager).values():
            assert len(orders) <= 2 and sum(o.state is not OrderState.CANCELLING for o in orders) <= 1
        gateway.answer.set()
    assert report.overlapped == 2 * LEVELS and report.posts_sent == 2 * LEVELS
    assert manager.retiring == {}
    assert all(manager.by_id[oid].state is OrderState.CANCELLED for oid in old.values())
    # One POST for the six levels, nothing after the answer.
    assert len(gateway.of("post")) == 1 and len(gateway.of("post")[0]) == 2 * LEVELS
    assert {key: o.price_micro for key, o in manager.slots.items()} == {
        (t, lv): (40 - lv) * TICK_MICRO for t in (UP, DOWN) for lv in range(LEVELS)
    }


async def test_a_replacement_that_would_break_a_cap_waits_for_its_predecessors_answer(autojump_clock):
    gateway = ScriptedGateway()
    manager = _manager(gateway)
    await _quoted(manager)
    resting = _notional(manager.open_orders())
    # Room for exactly two replacements beside the old ladder (the levels 0: 4.0 pUSD each), and Up's
    # shares allow one more order only.
    caps = OverlapCaps(notional_micro=resting + 8 * MICRO,
                       open_shares_micro={UP: 3 * SIZE_MICRO + SIZE_MICRO, DOWN: 6 * SIZE_MICRO})
    gateway.log.clear()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_sync, manager, 40, caps)
        await trio.sleep(1.0)
        (first_post,) = gateway.of("post")
        posted = {(manager.by_id[i].token_id, manager.by_id[i].level) for i in first_post}
        assert posted == {(UP, 0), (DOWN, 0)}  # lowest levels first, each within both caps
        open_now = manager.open_orders()
        assert _notional(open_now) <= caps.notional_micro
        for token in (UP, DOWN):
            assert _shares(open_now, token) <= caps.open_shares_micro[token]
        # The levels that waited still hold their old order, cancelling, and nothing else.
        for token in (UP, DOWN):
            for level in (1, 2):
                assert manager.slots[(token, level)].state is OrderState.CANCELLING
        gateway.answer.set()
    second_post = gateway.of("post")[1]
    assert {(manager.by_id[i].token_id, manager.by_id[i].level) for i in second_post} == {
        (t, lv) for t in (UP, DOWN) for lv in (1, 2)
    }
    # Every level was posted exactly once by this re-price.
    assert len(gateway.of("post")) == 2
    assert len(manager.open_orders()) == 2 * LEVELS


async def test_the_caps_are_asked_only_when_a_replacement_could_overlap(autojump_clock):
    gateway = ScriptedGateway()
    manager = _manager(gateway)
    asked: list[int] = []

    def caps() -> OverlapCaps:
        asked.append(1)
        return OverlapCaps(notional_micro=0)  # no room: nothing overlaps

    await _sync(manager, 45, caps)  # free levels only: no cancel, no caps
    assert asked == []
    gateway.answer.set()
    await _sync(manager, 40, caps)
    assert asked == [1]
    assert [k for _, k, _ in gateway.log if k != "sign"] == ["post", "cancel", "post"]


async def _overlap_whose_cancel_is_refused(gateway: ScriptedGateway) -> tuple[OrderManager, str]:
    """A quoted ladder re-priced to 40 ticks whose DELETE the venue refuses for Up's level 0: the manager
    and the refused (retiring) order's id."""
    manager = _manager(gateway)
    await _quoted(manager)
    refused = manager.slots[(UP, 0)].order_id
    gateway.refuse = {refused}
    gateway.answer.set()
    await _sync(manager, 40)
    return manager, refused


async def test_a_retiring_order_whose_cancel_failed_is_cancelled_again_and_its_level_never_posted_twice(autojump_clock):
    gateway = ScriptedGateway()
    manager, refused = await _overlap_whose_cancel_is_refused(gateway)
    # The refused one is live again, still retiring (never back on its slot); its level holds the replacement.
    assert manager.by_id[refused].state is OrderState.LIVE
    assert list(manager.retiring) == [refused]
    replacement = manager.slots[(UP, 0)]
    assert replacement.order_id != refused and replacement.state is OrderState.LIVE
    assert refused in {o.order_id for o in manager.open_orders()}  # the caps and the cancel-all see it
    posts_before = len(gateway.of("post"))
    gateway.refuse = set()
    gateway.answer.set()
    await _sync(manager, 40)
    assert gateway.of("cancel")[-1] == [refused]
    assert len(gateway.of("post")) == posts_before  # the same ladder: nothing new to post
    assert manager.by_id[refused].state is OrderState.CANCELLED and manager.retiring == {}
    assert manager.slots[(UP, 0)] is replacement


async def test_a_level_whose_old_order_still_retires_gets_no_second_overlap(autojump_clock):
    """Never more than one replacement in flight beside its predecessor: a level whose first predecessor's
    cancel was refused (live, retiring) re-prices again only through the sequential path."""
    gateway = ScriptedGateway()
    manager, refused = await _overlap_whose_cancel_is_refused(gateway)
    first_replacement = manager.slots[(UP, 0)]
    assert list(manager.retiring) == [refused]
    gateway.log.clear()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_sync, manager, 35)  # every level moves again, the refused one still open
        await trio.sleep(1.0)
        levels = _per_level(manager)
        # (Up, 0): the refused order and its replacement, both cancelling; no third order.
        assert {o.order_id for o in levels[(UP, 0)]} == {refused, first_replacement.order_id}
        assert all(o.state is OrderState.CANCELLING for o in levels[(UP, 0)])
        for orders in levels.values():
            assert len(orders) <= 2 and sum(o.state is not OrderState.CANCELLING for o in orders) <= 1
        (posted,) = gateway.of("post")
        assert (UP, 0) not in {(manager.by_id[i].token_id, manager.by_id[i].level) for i in posted}
        gateway.refuse = set()
        gateway.answer.set()
    assert manager.retiring == {}
    assert {key: o.price_micro for key, o in manager.slots.items()} == {
        (t, lv): (35 - lv) * TICK_MICRO for t in (UP, DOWN) for lv in range(LEVELS)
    }
    assert len(manager.open_orders()) == 2 * LEVELS


async def test_without_caps_or_with_the_switch_off_no_replacement_is_posted_before_the_cancels_answer(autojump_clock):
    for concurrent, caps in ((True, None), (False, WIDE)):
        gateway = ScriptedGateway()
        manager = _manager(gateway, concurrent=concurrent)
        await _quoted(manager)
        gateway.log.clear()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_sync, manager, 40, caps)
            await trio.sleep(1.0)
            assert gateway.of("post") == [] and manager.retiring == {}
            assert len([o for o in manager.open_orders() if o.state is OrderState.CANCELLING]) == 2 * LEVELS
            gateway.answer.set()
        assert [k for _, k, _ in gateway.log if k != "sign"] == ["cancel", "post"]
        assert len(manager.open_orders()) == 2 * LEVELS


async def test_quotes_sent_at_is_when_the_new_quotes_post_was_written_not_before_signing(autojump_clock):
    gateway = ScriptedGateway(post_written_after_s=0.25)
    manager = _manager(gateway)
    gateway.answer.set()
    await _quoted(manager)
    await trio.sleep(1.0)
    gateway.answer.set()
    report = SyncReport()
    started = trio.current_time()
    await _sync(manager, 40, WIDE, report)
    assert report.first_request_at_s == started
    assert report.quotes_sent_at == started + 0.25


# --- against the simulated venue: the runner's other paths see retiring orders as ours ----------------------

QUIET = dict(flow=QUIET_FLOW, window_s=100, quote_cutoff_s=30.0, record=True)


async def _overlapped(sc: Scenario) -> tuple[MarketRunner, set[str]]:
    """A re-price of Up whose DELETE the venue holds unanswered; its replacements rest beside it."""
    runner = await sc.first_runner()
    up = runner.info.up_token_id
    await trio.sleep(1.0)
    before = {o.order_id for o in runner.manager.live_ladder(up)}
    assert len(before) == LEVELS
    sc.sim.admin.http.append(HttpFault(kind="hang", families=["cancel_orders"], count=1))
    sc.trader().limit(up, "BUY", 0.50, 5)  # two ticks up: every Up level re-prices
    await trio.sleep(0.1)
    assert set(runner.manager.retiring) == before
    on_venue = {o["id"] for o in sc.our_open_orders(up)}
    assert before < on_venue and len(on_venue) == 2 * LEVELS  # the old ones were never cancelled
    assert runner.manager.counts["overlapped"] == LEVELS
    return runner, before


async def test_a_retiring_order_whose_cancel_went_unanswered_is_cancelled_again_and_never_a_stray(autojump_clock):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner, before = await _overlapped(sc)
        up = runner.info.up_token_id
        # The DELETE times out (outcome unknown): re-sent after `cancel_retry_s`, then confirmed.
        await sc.wait_until(lambda: runner.manager.retiring == {})
        assert all(runner.manager.by_id[oid].state is OrderState.CANCELLED for oid in before)
        assert len(sc.http.of("DELETE", "/orders")) >= 2
        # Reconciliations meanwhile saw them as ours: no stray, no repair; every level posted once.
        assert runner.stats.reconcile_repairs == 0
        assert len(sc.our_open_orders(up)) == LEVELS
        assert {o["id"] for o in sc.our_open_orders(up)} == {o.order_id for o in runner.manager.live_ladder(up)}
        await sc.stop_and_wait(ExitReason.OPERATOR)
        assert sc.our_open_orders() == []


async def test_orders_retiring_when_the_market_stops_are_covered_by_its_cancel_all(autojump_clock):
    async with scenario(**QUIET) as sc, trio.open_nursery() as nursery:
        sc.start(nursery)
        runner, before = await _overlapped(sc)
        assert await sc.stop_and_wait(ExitReason.OPERATOR) is not ExitReason.CANCEL_UNVERIFIED
        assert sc.our_open_orders() == []
        assert all(runner.manager.by_id[oid].is_terminal for oid in before)
        assert runner.manager.open_orders() == []


def test_the_overlap_caps_are_the_strategys_caps_in_micro_units():
    """Notional: the market's cap (or the account's budget, if lower) minus the inventory's cost; shares, per
    token: the unpaired cap minus that token's lead (a lagging token gets the lag back as room)."""
    from types import SimpleNamespace

    from bot.engine.market import MarketRunner
    from bot.engine.quoting import QuotingLoop

    positions = {UP: SimpleNamespace(shares_micro=12 * MICRO, cost_micro=5_400_000),
                 DOWN: SimpleNamespace(shares_micro=4 * MICRO, cost_micro=2_000_001)}
    budget: list[int | None] = [None]
    ahead: list[tuple[SimpleNamespace, int]] = []
    runner = SimpleNamespace(
        settings=SimpleNamespace(max_notional_per_market_pusd=50.0, max_unpaired_shares=20.0),
        account_budget=lambda: budget[0],
        info=SimpleNamespace(up_token_id=UP, down_token_id=DOWN, token_ids=(UP, DOWN)),
        inventory=SimpleNamespace(position=positions.__getitem__, held_on=lambda order_id: 0),
        manager=SimpleNamespace(matched_ahead=lambda held_on: ahead),
    )
    runner.matched_ahead = lambda: MarketRunner.matched_ahead(runner)  # type: ignore[arg-type]  # the runner's sum
    caps = QuotingLoop(runner).overlap_caps()  # type: ignore[arg-type]
    assert caps.notional_micro == 50 * MICRO - 5_400_000 - 2_000_001
    assert caps.open_shares_micro == {UP: 20 * MICRO - 8 * MICRO, DOWN: 20 * MICRO + 8 * MICRO}
    # 3 Up shares the venue reported matched at 0.45, their trade not in yet: bought already, so held.
    ahead.append((SimpleNamespace(side="BUY", token_id=UP, price_micro=450_000), 3 * MICRO))
    caps = QuotingLoop(runner).overlap_caps()  # type: ignore[arg-type]
    assert caps.notional_micro == 50 * MICRO - 5_400_000 - 2_000_001 - 1_350_000
    assert caps.open_shares_micro == {UP: 20 * MICRO - 8 * MICRO - 3 * MICRO, DOWN: 20 * MICRO + 8 * MICRO}
    ahead.clear()
    budget[0] = 30 * MICRO  # the account's budget binds
    assert QuotingLoop(runner).overlap_caps().notional_micro == 30 * MICRO - 7_400_001  # type: ignore[arg-type]


async def test_the_cancel_and_the_post_leave_before_any_per_order_bookkeeping_and_the_marks_follow_the_post(
    autojump_clock,
):
    """The latency (issue 14 §3): between the decision and the DELETE, and between the signing and the POST,
    no transition and no journal line per cancelled order (~25-38 µs each, ten per re-price). The cancelled
    orders turn `cancelling` once the POST was written, before the cancel's answer is applied."""
    lines: list[tuple[str, dict[str, Any]]] = []

    class _Journal(NullJournal):
        def write(self, kind: str, **fields: Any) -> None:
            lines.append((kind, fields))

    seen: dict[str, Any] = {}

    class _Gateway(ScriptedGateway):
        async def cancel_ids(self, order_ids: list[str], *, on_sent: Any = None) -> CancelOutcome:
            seen["cancelled"] = list(order_ids)
            seen["at_call"] = {manager.by_id[i].state for i in order_ids}
            seen["lines_at_call"] = len(lines)
            return await super().cancel_ids(order_ids, on_sent=on_sent)

        async def post_orders(self, orders: list[_Signed], *, on_sent: Any = None, **kwargs: Any) -> list[PostOutcome]:
            if "cancelled" not in seen:
                return await super().post_orders(orders, on_sent=on_sent, **kwargs)
            seen["at_post"] = {manager.by_id[i].state for i in seen["cancelled"]}

            def written() -> None:
                on_sent()
                seen["post_written"] = {manager.by_id[i].state for i in seen["cancelled"]}
                seen["answered_by_post"] = self.answer.is_set()
            return await super().post_orders(orders, on_sent=written, **kwargs)

    gateway = _Gateway()
    params = ManagerParams(LEVELS, 1, 25.0, 15, 1000, 1.0, False, concurrent_reprice=True)
    manager = OrderManager(condition_id="0xabc", params=params, gateway=gateway,  # type: ignore[arg-type]
                           clock_s=trio.current_time, journal=_Journal(), on_failure=lambda _o: None,
                           on_success=lambda: None)
    await _quoted(manager)
    lines.clear()
    gateway.log.clear()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_sync, manager, 40)
        await trio.sleep(1.0)
        assert seen["at_call"] == {OrderState.LIVE} and seen["lines_at_call"] == 0
        assert seen["at_post"] == {OrderState.LIVE}
        assert seen["post_written"] == {OrderState.CANCELLING} and not seen["answered_by_post"]
        assert [k for _, k, _ in gateway.log] == ["cancel", *["sign"] * (2 * LEVELS), "post"]
        gateway.answer.set()
    marks = [f for kind, f in lines if kind == "transition" and f["trigger"] == "cancel_requested"]
    assert sorted(f["order_id"] for f in marks) == sorted(seen["cancelled"])  # each marked once, journalled
    assert all(manager.by_id[i].state is OrderState.CANCELLED for i in seen["cancelled"])


async def test_a_cancel_with_nothing_to_post_marks_its_orders_once_written(autojump_clock):
    gateway = ScriptedGateway()
    manager = _manager(gateway)
    await _quoted(manager)
    old = [o.order_id for o in manager.slots.values()]
    gateway.log.clear()
    states: list[set[OrderState]] = []
    original = gateway.cancel_ids

    async def cancel_ids(order_ids: list[str], *, on_sent: Any = None) -> CancelOutcome:
        def written() -> None:
            on_sent()
            states.append({manager.by_id[i].state for i in order_ids})
        return await original(order_ids, on_sent=written)

    gateway.cancel_ids = cancel_ids  # type: ignore[method-assign]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_sync, manager, 40, OverlapCaps(notional_micro=0))  # no room: nothing overlaps
        await trio.sleep(1.0)
        assert states == [{OrderState.CANCELLING}]  # marked at the write, the answer still awaited
        assert not gateway.of("post")
        gateway.answer.set()
    assert all(manager.by_id[i].state is OrderState.CANCELLED for i in old)
