"""The fault matrix: one row per way the venue or the process can fail, each run against the real bot.

Guarantee pinned by every row: whatever the fault, when the run is over the venue holds **zero** orders of
ours, every fill the venue records for our key was counted exactly once (and nothing else was), and the
runner's inventory equals the venue's record. Rows add their own expectations (why the bot stopped, what
it had to do on the way).

A row is data (`FaultRow`): a name, an `inject` callable run at `at_s` virtual seconds into the window,
settings overrides, and an `Expect`. To add a fault, append a row; `run_row` does the rest. Everything
runs on Trio's clock against the in-process simulator (`tests.scenarios.harness`), so a row takes a
fraction of a second of wall time and its times are exact.
"""

from __future__ import annotations

import inspect
import os
import signal
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from bot.engine.market import MarketRunner
from bot.main_job import _stop_after, _watch_signals  # the real signal and --duration wiring
from bot.sim.faults import HttpFault, SimAction
from bot.sim.flow import FlowParams, SeriesSchedule
from bot.sim.model import OrderRejected, SimConfig
from statemachines.market import ExitReason
from tests.reliability.venue_audit import VenueMonitor, audit_fills, venue_fills
from tests.scenarios.harness import EPOCH_S, Scenario, scenario

__all__ = ["FAULT_MATRIX", "Expect", "FaultContext", "FaultRow", "RowResult", "run_row"]

# A short window keeps a row cheap: 80 s with a 20 s cutoff leaves 60 s of quoting, so a fault at
# 20 s has 40 s to play out (backoffs, restarts, reconnects) before the cutoff.
WINDOW_S = 80
QUOTE_CUTOFF_S = 20.0
CUTOFF_AT_S = WINDOW_S - QUOTE_CUTOFF_S
FAULT_AT_S = 20.0
# Wait at most this long past `at_s` for orders of ours to rest before injecting (a fault on an empty
# book proves little); the row then injects anyway.
_WAIT_FOR_ORDERS_S = 20.0
_POLL_S = 0.5
# Whole-run bound: window, lead, the exit cancel-all bound, and slack.
_RUN_BOUND_S = 2 * WINDOW_S + 60
# A busier market than the default flow, so our ladder gets filled often and the fill accounting has
# something to check after every fault: more takers, deeper sweeps, more sellers.
BUSY_FLOW = FlowParams(taker_rate_per_s=1.5, taker_sweep_ticks=5, taker_sell_probability=0.4)
# Small levels and loose inventory caps keep our ladder on the book (and filled) all window long; with
# the defaults the inventory skew cap parks one side after the first few fills.
BASE_SETTINGS: dict[str, Any] = {
    "quote_cutoff_s": QUOTE_CUTOFF_S,
    "size_per_level_shares": 5.0,
    "max_inventory_skew_shares": 400.0,
    "max_unpaired_shares": 400.0,
}
# A row that must survive its fault has our orders resting again within this long of the cutoff.
_RESUME_SLACK_S = 10.0
_STORM_EXTRA_EVENTS = 5  # beyond the threshold, so the storm is unmistakable
_INJECTED = "injected fault"


class InjectedFault(RuntimeError):
    """The exception a crash row plants in an engine task."""


@dataclass
class FaultContext:
    """What an `inject` callable gets: the scenario, the market's runner and the simulator's controls."""

    sc: Scenario
    runner: MarketRunner
    nursery: trio.Nursery
    reconciliations_before: int = 0
    fills_before: int = 0

    @property
    def owner(self) -> str:
        creds = self.sc.supervisor.creds
        assert creds is not None
        return creds.api_key

    @property
    def condition_id(self) -> str:
        return self.runner.info.condition_id

    def act(self, **action: Any) -> dict[str, Any]:
        """Apply a simulator action now (the `/_sim/admin/actions` endpoint, in-process)."""
        return self.sc.sim.controller.apply(SimAction(**action))

    def http(self, **fault: Any) -> None:
        """Add an HTTP fault rule (the `/_sim/admin/faults/http` endpoint, in-process)."""
        self.sc.sim.admin.http.append(HttpFault(**fault))


@dataclass(frozen=True)
class RowOutcome:
    """What a run produced, for the row's own check."""

    ctx: FaultContext
    reason: ExitReason | None
    error: BaseException | None
    market_reason: ExitReason | None
    summary: dict[str, Any]
    fault_at_s: float


@dataclass(frozen=True)
class Expect:
    """What must be true after a row, beyond the universal guarantees.

    `reasons`: acceptable overall exit reasons (None: a supervisor-level crash, `supervisor.run` raised).
    `market_reasons`: acceptable exit reasons of the market's runner (empty: not checked).
    `resumes`: the bot survives the fault and quotes again: our orders rest on the venue until (nearly)
    the cutoff.
    `check`: row-specific problems (an empty list when all is well).
    """

    reasons: tuple[ExitReason | None, ...] = (ExitReason.MARKET_END,)
    market_reasons: tuple[ExitReason, ...] = ()
    resumes: bool = False
    check: Callable[[RowOutcome], list[str]] | None = None


Inject = Callable[[FaultContext], Awaitable[None] | None]


@dataclass(frozen=True)
class FaultRow:
    """One scenario: inject `inject` at `at_s` into the window, with `settings` and `sim` overrides."""

    name: str
    inject: Inject | None
    expect: Expect = field(default_factory=Expect)
    settings: Mapping[str, Any] = field(default_factory=dict)
    sim: Mapping[str, Any] = field(default_factory=dict)
    at_s: float = FAULT_AT_S
    needs_live_orders: bool = True
    file_journal: bool = False  # a real journal file (teed from the in-memory one), for journal faults
    doc: str = ""
    # A bug outside this harness that makes the row fail today (file, line, fix): the test expects the
    # failure (strict), so the fix turns it into a pass that must be acknowledged here.
    known_issue: str = ""


@dataclass
class RowResult:
    """One row's verdict; `as_dict` is the report's table row."""

    name: str
    problems: list[str]
    open_orders_left: int
    time_to_flat_s: float | None
    fills_checked: int
    exit_reason: str

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "result": "pass" if self.passed else "FAIL",
            "open_orders_left": self.open_orders_left,
            "time_to_flat_s": self.time_to_flat_s,
            "fills_checked": self.fills_checked,
            "exit": self.exit_reason,
            "problems": list(self.problems),
        }


# --- injections -------------------------------------------------------------------------------------


def _raise_once(target: Any, name: str) -> None:
    """Replace `target.name` (a method, sync or async) by one that raises on its next call."""
    original = getattr(target, name)
    if inspect.iscoroutinefunction(original):

        async def boom_async(*args: Any, **kwargs: Any) -> Any:
            raise InjectedFault(f"{_INJECTED} in {name}")

        setattr(target, name, boom_async)
    else:

        def boom(*args: Any, **kwargs: Any) -> Any:
            raise InjectedFault(f"{_INJECTED} in {name}")

        setattr(target, name, boom)


def _signal(*signums: int) -> Inject:
    def inject(ctx: FaultContext) -> None:
        for signum in signums:
            signal.raise_signal(signum)

    return inject


def _journal_fails(ctx: FaultContext) -> None:
    """From now on the journal file's descriptor is /dev/full: every write fails with ENOSPC, for real."""
    inner = ctx.sc.journal._inner
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, inner._fd)
    os.close(full)


def _cancels_hang_then_sigterm(ctx: FaultContext) -> None:
    """No cancel is ever answered again, then the operator stops the bot: the exit cancel-all cannot verify."""
    ctx.http(kind="hang", families=["cancels"], count=100_000)
    signal.raise_signal(signal.SIGTERM)


def _journal_reopened(outcome: RowOutcome) -> list[str]:
    inner = outcome.ctx.sc.journal._inner
    return [] if inner is not None and inner.failure is None and inner.lines_written > 0 else ["journal not writable"]


def _dead_man_cleared(outcome: RowOutcome) -> list[str]:
    left = outcome.ctx.sc.supervisor.orders_left_after_sweep
    return [] if left == 0 else [f"after the dead-man sweep the venue listed {left} order(s)"]


def _crash_user_consumer(ctx: FaultContext) -> None:
    _raise_once(ctx.runner.user_handler, "on_order_event")
    _raise_once(ctx.runner.user_handler, "on_trade_event")


def _crash_reconcile_loop(ctx: FaultContext) -> None:
    _raise_once(ctx.runner.reconciler, "reconcile")
    ctx.runner.reconcile_wanted.set()


class _BrokenHeartbeatSender:
    async def post_heartbeat(self, heartbeat_id: str) -> str:
        raise InjectedFault(f"{_INJECTED} in the heartbeat task")


def _crash_heartbeat(ctx: FaultContext) -> None:
    heartbeat = ctx.sc.supervisor.heartbeat
    assert heartbeat is not None
    heartbeat._sender = _BrokenHeartbeatSender()


def _crash_user_hub(ctx: FaultContext) -> None:
    hub = ctx.sc.supervisor.user_hub
    assert hub is not None
    _raise_once(hub, "_route")


def _storm(ctx: FaultContext) -> None:
    ctx.act(kind="storm", count=ctx.sc.settings.storm_threshold + _STORM_EXTRA_EVENTS,
            market=ctx.condition_id, api_key=ctx.owner)


def _user_ws_drop(ctx: FaultContext) -> None:
    # The events around the outage are lost too: the venue does not replay (spec 6.1).
    ctx.sc.sim.admin.user_events.drop = 4
    ctx.act(kind="ws_disconnect", channel="user")


_OUTAGE_S = 8.0  # longer than a trade's whole lifecycle (MATCHED, MINED, CONFIRMED within 3 s)
_DROP_EVERYTHING = 10**9


async def _user_ws_outage(ctx: FaultContext) -> None:
    # Every user event of the outage is lost (the drop counter counts every owner's events, so it is
    # opened wide and closed again after the outage): only REST can tell the bot about those fills.
    faults = ctx.sc.sim.admin.user_events
    faults.drop = _DROP_EVERYTHING
    ctx.act(kind="ws_disconnect", channel="user")
    await trio.sleep(_OUTAGE_S)
    faults.drop = 0
    ctx.act(kind="ws_disconnect", channel="user")


def _duplicate_and_reorder(ctx: FaultContext) -> None:
    faults = ctx.sc.sim.admin.user_events
    faults.duplicate = 40
    faults.reorder = 40


def _drain_balance(ctx: FaultContext) -> None:
    accounts = ctx.sc.exchange.accounts
    address = ctx.sc.signer.address
    accounts.credit_pusd(address, -accounts.available_pusd(address))


def _tolerate_engine_restart(flow: Any) -> None:
    # Simulator bug (reported): MarketFlow._requote lets the 425 of `cancel_market` escape during a
    # restart and kills the venue's driver. The synthetic makers just skip that requote here, so the
    # row tests the bot, not the flow.
    requote = flow._requote

    def tolerant(index: int, now: float) -> None:
        try:
            requote(index, now)
        except OrderRejected:
            return

    flow._requote = tolerant


def _engine_restart(ctx: FaultContext) -> None:
    for flow in ctx.sc.sim.venue.flows:
        _tolerate_engine_restart(flow)
    ctx.act(kind="restart", restart_s=5.0, post_only_mode_s=10.0)


async def _gtd_expiry(ctx: FaultContext) -> None:
    # Every cancel fails from 1 s before the cutoff: only the venue's GTD expiry can clear the book.
    await trio.sleep_until(CUTOFF_AT_S - 1.0)
    ctx.http(kind="status", status=503, families=["cancels"], count=60)


def _gamma_garbage(ctx: FaultContext) -> None:
    # From now on every Gamma answer is a CDN's HTML error page (a 200 that is not JSON).
    ctx.http(kind="garbage", families=["gamma"], count=_DROP_EVERYTHING)


_DURATION_AFTER_CRASH_S = 20.0


def _crash_then_duration(ctx: FaultContext) -> None:
    # The market's quote loop crashes now; `--duration` elapses later while the series runs on.
    _raise_once(ctx.runner.manager, "sync")
    ctx.nursery.start_soon(_stop_after, _DURATION_AFTER_CRASH_S, ctx.sc.supervisor)


# The condition id of the series window the matrix trades (harness seed 1, window at t = 0).
_FIRST_MARKET = SeriesSchedule(asset="btc", window_s=WINDOW_S, nominal_minutes=15, seed=1).spec_for(EPOCH_S)


# --- row-specific checks ----------------------------------------------------------------------------


def _discovery_failed(out: RowOutcome) -> list[str]:
    failures = out.ctx.sc.supervisor.stats.discovery_failures
    return [] if failures >= 1 else ["no discovery pass met the garbage"]


def _cutoff_verified(out: RowOutcome) -> list[str]:
    runs = [run for run in out.summary.get("cancel_all_runs", []) if run[0] == "cutoff"]
    return [] if runs and runs[0][2] else [f"no verified cutoff cancel-all: {runs}"]


def _expired_by_venue(out: RowOutcome) -> list[str]:
    expired = out.ctx.sc.exchange.statistics()["counts"].get("gtd_expired", 0)
    return [] if expired >= 1 else ["no order was expired by the venue (GTD)"]


def _storm_counted(out: RowOutcome) -> list[str]:
    return [] if out.summary.get("storms", 0) >= 1 else ["the storm was not detected"]


def _reconciled_after_fault(out: RowOutcome) -> list[str]:
    done = out.ctx.runner.stats.reconciliations - out.ctx.reconciliations_before
    return [] if done >= 1 else ["no reconciliation after the user WS reconnect"]


def _fills_reversed(out: RowOutcome) -> list[str]:
    return [] if out.summary.get("fills_reversed", 0) >= 1 else ["no FAILED fill was reversed"]


def _outcome_unknown_seen(out: RowOutcome) -> list[str]:
    return [] if out.summary.get("outcome_unknown", 0) >= 1 else ["no POST outcome was unknown"]


def _market_reconnected(out: RowOutcome) -> list[str]:
    hub = out.ctx.sc.supervisor.market_hub
    reconnects = hub.statistics()["reconnects"] if hub is not None else 0
    return [] if reconnects >= 1 else ["the market stream never reconnected"]


_BATCH_RETRY_AFTER_S = 2
# After a 429 the next POST may wait Retry-After plus one quote tick and the scheduler's slack.
_RETRY_SLACK_S = 1.0


def _posts_again_after_retry_after(out: RowOutcome) -> list[str]:
    http = out.ctx.sc.http
    assert http is not None
    posts = [r for r in http.records if r.method == "POST" and r.path in ("/order", "/orders")]
    throttled = [r for r in posts if r.status == 429]
    if not throttled:
        return ["no POST was rate limited"]
    t_429 = throttled[0].t_done or throttled[0].t
    later = [r.t for r in posts if r.t > t_429]
    bound = t_429 + _BATCH_RETRY_AFTER_S + _RETRY_SLACK_S
    if not later or later[0] > bound:
        first = later[0] if later else None
        return [f"429 at t={t_429:.3f} (Retry-After {_BATCH_RETRY_AFTER_S} s): next POST at t={first}, "
                f"expected by t={bound:.3f}"]
    return []


def _backed_off(out: RowOutcome) -> list[str]:
    stats = out.ctx.runner.backoff.statistics()
    return [] if stats["failures_total"] else ["no failure was recorded"]


# --- the matrix -------------------------------------------------------------------------------------

_CRASH = Expect(reasons=(ExitReason.CRASH,), market_reasons=(ExitReason.CRASH,))
_SUPERVISOR_CRASH = Expect(reasons=(None,))

FAULT_MATRIX: tuple[FaultRow, ...] = (
    FaultRow("cutoff", None, Expect(check=_cutoff_verified), at_s=CUTOFF_AT_S,
             doc="no fault: the cutoff itself is the way out"),
    FaultRow("sigint", _signal(signal.SIGINT), Expect(reasons=(ExitReason.SIGNAL,)),
             doc="a real SIGINT through the run command's signal receiver"),
    FaultRow("sigterm", _signal(signal.SIGTERM), Expect(reasons=(ExitReason.SIGNAL,))),
    FaultRow("double_sigint", _signal(signal.SIGINT, signal.SIGINT), Expect(reasons=(ExitReason.SIGNAL,)),
             doc="a second Ctrl-C during the cancel-all cannot skip it"),
    FaultRow("crash_quote_loop", lambda ctx: _raise_once(ctx.runner.manager, "sync"), _CRASH),
    FaultRow("crash_user_event_consumer", _crash_user_consumer, _CRASH),
    FaultRow("crash_book_change", lambda ctx: _raise_once(ctx.runner.quoting, "observe_book_change"), _CRASH,
             doc="the market's own reading of a book change fails (in its quoting task)"),
    FaultRow("crash_reconcile_loop", _crash_reconcile_loop, _CRASH),
    FaultRow("crash_user_hub", _crash_user_hub, _SUPERVISOR_CRASH,
             doc="a supervisor-level task dies: every market still cancels"),
    FaultRow("crash_market_data_fanout", lambda ctx: _raise_once(ctx.runner.books, "notify"), _SUPERVISOR_CRASH),
    FaultRow("crash_heartbeat_task", _crash_heartbeat, _SUPERVISOR_CRASH),
    FaultRow("unknown_order_storm", _storm, Expect(reasons=(ExitReason.STORM,), check=_storm_counted)),
    FaultRow("unknown_order_storm_rebuild", _storm, Expect(resumes=True, check=_storm_counted),
             settings={"storm_action": "rebuild"}),
    FaultRow("market_ws_drop", lambda ctx: ctx.act(kind="ws_disconnect", channel="market"),
             Expect(resumes=True, check=_market_reconnected)),
    FaultRow("user_ws_drop", _user_ws_drop, Expect(resumes=True, check=_reconciled_after_fault),
             doc="user channel cut, the events around it lost; reconcile after the reconnect"),
    FaultRow("user_ws_outage", _user_ws_outage, Expect(resumes=True, check=_reconciled_after_fault),
             doc=f"no user event for {_OUTAGE_S:g} s, then a reconnect: the fills of the gap come back over REST"),
    FaultRow("repeated_5xx", lambda ctx: ctx.http(kind="status", status=500, families=["trading", "data"], count=20),
             Expect(resumes=True, check=_backed_off)),
    FaultRow("rate_limit_storm", lambda ctx: ctx.http(kind="rate_limit", retry_after_s=3,
                                                      families=["orders", "cancels"], count=15),
             Expect(resumes=True, check=_backed_off), doc="429 + Retry-After: pause that long, then quote again"),
    FaultRow("rate_limited_batch", lambda ctx: ctx.http(kind="rate_limit", retry_after_s=_BATCH_RETRY_AFTER_S,
                                                        families=["post_orders"], count=1),
             Expect(resumes=True, check=_posts_again_after_retry_after),
             doc="one 429 on a batch: every leg is throttled, but the pause is Retry-After, not one per leg"),
    FaultRow("post_timeout_landed", lambda ctx: ctx.http(kind="hang", landed=True, families=["post_orders"], count=3),
             Expect(resumes=True, check=_outcome_unknown_seen), doc="the POST times out but the orders rest"),
    FaultRow("post_dropped_landed", lambda ctx: ctx.http(kind="drop", landed=True, families=["post_orders"], count=3),
             Expect(resumes=True, check=_outcome_unknown_seen)),
    FaultRow("engine_restart", _engine_restart, Expect(resumes=True), doc="425 for 5 s, then 10 s of post-only mode"),
    FaultRow("cancel_only_mode", lambda ctx: ctx.act(kind="cancel_only", duration_s=10.0), Expect(resumes=True)),
    FaultRow("tick_size_change", lambda ctx: ctx.act(kind="tick_size", condition_id=ctx.condition_id,
                                                     tick_size="0.001"), Expect(resumes=True)),
    FaultRow("failed_trades", lambda ctx: ctx.act(kind="fail_trades", count=200),
             Expect(resumes=True, check=_fills_reversed)),
    FaultRow("gtd_expiry", _gtd_expiry, Expect(check=_expired_by_venue), doc="cancels fail at the cutoff; the venue's GTD expiry clears the book"),
    FaultRow("heartbeat_lapse", lambda ctx: ctx.http(kind="status", status=500, families=["heartbeat"], count=1000),
             Expect(reasons=(ExitReason.ACCOUNT,))),
    FaultRow("duplicated_reordered_user_events", _duplicate_and_reorder, Expect(resumes=True)),
    FaultRow("balance_exhausted", _drain_balance, Expect(reasons=(ExitReason.MARKET_END, ExitReason.ACCOUNT))),
    FaultRow("journal_fails_mid_run", _journal_fails, Expect(reasons=(ExitReason.JOURNAL,)), file_journal=True,
             doc="the journal file starts answering ENOSPC: every market stops through its cancel-all"),
    FaultRow("venue_500_from_the_cutoff", lambda ctx: ctx.http(kind="status", status=500, families=["cancels", "data"],
                                                                count=100_000),
             Expect(reasons=(ExitReason.CANCEL_UNVERIFIED,)), at_s=CUTOFF_AT_S - 1.0,
             doc="cancel-all bounded by the market's end, backing off; then the heartbeat is stopped on purpose"),
    FaultRow("cancels_fail_at_exit_beyond_the_bound", _cancels_hang_then_sigterm,
             Expect(reasons=(ExitReason.CANCEL_UNVERIFIED,), check=_dead_man_cleared),
             doc="SIGTERM while no cancel is answered: the exit cancel-all gives up at its bound, the dead-man switch clears"),
    FaultRow("sighup_reopens_the_journal", _signal(signal.SIGHUP), Expect(resumes=True, check=_journal_reopened),
             file_journal=True, doc="logrotate's SIGHUP: the journal is reopened and trading goes on"),
    # `max_markets`/`market` are the scenario's: BOT_MARKET=<condition id>, with no market count, so the
    # scheduler keeps asking Gamma while the market runs, and the run ends with the market.
    FaultRow("gamma_garbage_while_running", _gamma_garbage,
             Expect(resumes=True, market_reasons=(ExitReason.MARKET_END,), check=_discovery_failed),
             settings={"max_markets": None, "market": _FIRST_MARKET.condition_id},
             doc="Gamma answers HTML with status 200: discovery backs off, the market quotes to its end"),
    FaultRow("crash_during_duration", _crash_then_duration,
             Expect(reasons=(ExitReason.CRASH,), market_reasons=(ExitReason.CRASH,)),
             settings={"max_markets": None},
             doc=f"a market crashes, the series runs on, `--duration` ends it {_DURATION_AFTER_CRASH_S:g} s "
                 "later: the exit is still the crash's (exit code 3)"),
)


# --- running a row ----------------------------------------------------------------------------------


async def _wait_for_orders(sc: Scenario, until_s: float) -> None:
    while trio.current_time() < until_s:
        creds = sc.supervisor.creds
        if creds is not None and sc.exchange.open_orders(creds.api_key):
            return
        await trio.sleep(_POLL_S)


async def run_row(row: FaultRow, *, seed: int = 1) -> RowResult:
    """Run one row on the current Trio clock (use a `MockClock`); never raises for a failed guarantee."""
    sim_config = SimConfig(**row.sim) if row.sim else None
    overrides: dict[str, Any] = {**BASE_SETTINGS, **row.settings}
    problems: list[str] = []
    journal_path = Path(tempfile.mkdtemp(prefix="matrix-")) / "journal.jsonl" if row.file_journal else None
    async with scenario(seed=seed, window_s=WINDOW_S, sim_config=sim_config, flow=BUSY_FLOW, record=True,
                        journal_path=journal_path, **overrides) as sc:
        sup = sc.supervisor
        monitor = VenueMonitor(
            sc.exchange,
            owner=lambda: sup.creds.api_key if sup.creds is not None else None,
            now_s=trio.current_time,
            cutoff_trio_s=CUTOFF_AT_S,
        )
        detach = monitor.attach()
        result: dict[str, Any] = {"reason": None, "error": None}
        fault_at_s = row.at_s
        ctx: FaultContext | None = None

        finished = trio.Event()

        async def run_supervisor() -> None:
            try:
                result["reason"] = await sup.run()
            except Exception as exc:  # a supervisor-level crash: recorded, judged below
                result["error"] = exc
            finally:
                finished.set()

        with trio.fail_after(_RUN_BOUND_S), trio.open_signal_receiver(
            signal.SIGINT, signal.SIGTERM, signal.SIGHUP
        ) as signals:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_watch_signals, signals, sup, sc.journal)
                nursery.start_soon(run_supervisor)
                await trio.sleep_until(row.at_s)
                if row.needs_live_orders:
                    await _wait_for_orders(sc, row.at_s + _WAIT_FOR_ORDERS_S)
                if sup.stats.records:
                    first = sup.stats.records[0].runner
                    ctx = FaultContext(sc, first, nursery, first.stats.reconciliations, first.inventory.fills_counted)
                    fault_at_s = trio.current_time()
                    if row.inject is not None:
                        maybe = row.inject(ctx)
                        if inspect.isawaitable(maybe):
                            await maybe
                else:
                    problems.append("no market started before the fault time")
                await finished.wait()
                nursery.cancel_scope.cancel()
        detach()
        owner = sup.creds.api_key if sup.creds is not None else ""
        left = len(sc.exchange.open_orders(owner)) if owner else 0
        fills_checked = 0
        if ctx is None:
            return RowResult(row.name, problems, left, None, 0, "none")
        record = sup.stats.records[0]
        runner = record.runner
        summary = runner.summary()
        reason: ExitReason | None = result["reason"]
        error: BaseException | None = result["error"]
        if left:
            problems.append(f"{left} order(s) of ours still open on the venue")
        if reason not in row.expect.reasons:
            shown = reason.value if reason else f"raised {type(error).__name__}: {error}"
            problems.append(f"exit {shown}, expected one of {[r.value if r else 'raise' for r in row.expect.reasons]}")
        if row.expect.market_reasons and record.reason not in row.expect.market_reasons:
            problems.append(f"market exit {record.reason}, expected {[r.value for r in row.expect.market_reasons]}")
        # A concurrent re-price posts a level's replacement while its predecessor's cancel is in flight:
        # at most one of each per level (the overlap caps bound what they may add up to).
        levels = sc.settings.ladder_levels * (2 if sc.settings.concurrent_reprice else 1)
        for token, most in monitor.max_per_token.items():
            if most > levels:
                problems.append(f"token {token[:8]} had {most} live orders at once (at most {levels})")
        if monitor.late_placements:
            problems.append(f"{len(monitor.late_placements)} resting order(s) placed at/after the cutoff")
        stopped_at = (record.finished_at_s - EPOCH_S) if record.finished_at_s is not None else trio.current_time()
        venue = venue_fills(sc.exchange.trades(owner, market=runner.info.condition_id), owner)
        failed_at = {tid: at for tid, (status, at) in monitor.trade_status_at_s.items() if status == "FAILED"}
        inv = runner.inventory
        audit = audit_fills(
            counted={(f.trade_id, f.order_id): f for f in inv.counted_fills()},
            positions={t: inv.position(t).shares for t in runner.info.token_ids},
            venue=venue,
            tokens=runner.info.token_ids,
            seen_failed_until_s=stopped_at,
            failed_at_s=failed_at,
            balances={
                t: sc.exchange.accounts.tokens(sc.signer.address, t) / 1_000_000 for t in runner.info.token_ids
            },
        )
        fills_checked = audit.checked
        problems.extend(audit.problems)
        if row.expect.check is not None:
            problems.extend(row.expect.check(RowOutcome(ctx, reason, error, record.reason, summary, fault_at_s)))
        flat = monitor.flat_since_s
        if row.expect.resumes and (flat is None or flat < CUTOFF_AT_S - _RESUME_SLACK_S):
            problems.append(f"stopped quoting after the fault: flat from t={flat} s, cutoff at {CUTOFF_AT_S} s")
        time_to_flat = None if flat is None else round(max(0.0, flat - fault_at_s), 3)
        exit_text = reason.value if reason is not None else f"raised {type(error).__name__}"
        return RowResult(row.name, problems, left, time_to_flat, fills_checked, exit_text)
