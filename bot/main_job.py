"""`python -m bot run` (the default command): paper mode on the embedded simulator, or live mode.

Paper mode starts the simulator in this process's nursery, serving REST, WebSocket and discovery on
loopback, and runs the real engine against it through the real clients. Live mode talks to the
configured endpoints and refuses to start without a private key (settings validation).

The whole run sits inside one signal receiver: the first SIGINT/SIGTERM stops every market through
its shielded cancel-all; later signals are only acknowledged, so a second Ctrl-C cannot skip the
cancel-all. The process exit code says why it stopped (`bot.exit_codes`); the summary's `exit_reason` is
the same reason: the most severe of every stop and every market's exit, so a signal or `--duration`
after a market's crash still reports the crash.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import logging
import math
import os
import random
import signal
import sys
import time
from collections.abc import Container
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import trio

from bot.engine.clock import VenueClock
from bot.engine.journal import JournalOpenError, NullJournal, open_journal
from bot.engine.supervisor import Supervisor, VenueLinks
from bot.exit_codes import EXIT_CONFIG, exit_code_for, most_severe
from bot.protocol.auth import ApiCreds
from bot.protocol.errors import VenueError
from bot.protocol.messages import TradeEvent
from bot.protocol.rest import ClobRestClient, venue_deadline
from bot.protocol.signing import OrderSigner
from settings import BotMode, BotSettings
from statemachines.market import ExitReason

__all__ = ["cli_run", "paper_key", "run_bot"]

log = logging.getLogger(__name__)

# The venue's open orders are listed once more after the stop, for the summary; bounded.
_FINAL_CHECK_TIMEOUT_S = 10.0


def _paper_epoch_s(window_s: float) -> float:
    """Clock offset that puts the simulator's "now" on a window boundary, so the first market opens at once.

    The simulator and the bot share this clock (one process); paper time runs up to one window ahead
    of the wall clock, which nothing outside the process sees.
    """
    wall = time.time()
    boundary = math.ceil(wall / window_s) * window_s
    return boundary - trio.current_time()


def paper_key(seed: int) -> str:
    """The paper run's throwaway signing key, a function of the seed (paper mode only: the embedded
    simulator's accounts; it is public by construction and must never sign for a venue)."""
    return "0x" + hashlib.sha256(f"polymarket-bot paper account {seed}".encode()).hexdigest()


def _series_parts(series: str) -> tuple[str, int]:
    asset, _, minutes = series.split("-")
    return asset, int(minutes[:-1])


async def run_bot(
    settings: BotSettings,
    *,
    duration_s: float | None = None,
    max_markets: int | None = None,
    out: Any = None,
    show_status: bool | None = None,
    inprocess: bool = False,
    dry_run: bool = False,
    journal_path: Path | None = None,
    stop_hint: str = "",
    task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED,
) -> tuple[ExitReason, dict[str, Any]]:
    """Run the bot until it stops; returns (reason, summary). Paper mode embeds the simulator.

    The journal goes to `journal_path` if given, else BOT_JOURNAL_PATH (none when both are unset).
    """
    out = out or sys.stdout
    journal: Any = NullJournal()
    paper = settings.mode is BotMode.PAPER
    started_wall = time.monotonic()
    journal_path = journal_path or settings.journal_path
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async with trio.open_nursery() as nursery, AsyncExitStack() as stack:
            if paper:
                from bot.sim.flow import SeriesSchedule
                from bot.sim.model import SimConfig
                from bot.sim.server import serve_loopback
                from bot.sim.venue import SimVenue

                epoch = _paper_epoch_s(settings.paper_window_s)
                clock = VenueClock(epoch)
                asset, minutes = _series_parts(settings.series[0])
                # The venue's reward minute, compressed like the window; the engine estimates with it.
                # The venue's reward minute and minimum rest, compressed like the window; the engine
                # estimates with the same values.
                compression = settings.paper_window_s / (minutes * 60)
                sample_period_s = settings.rewards_sample_period_s or 60.0 * compression
                min_rest_s = settings.rewards_min_rest_s * compression
                settings = settings.model_copy(update={
                    "rewards_sample_period_s": sample_period_s, "rewards_min_rest_s": min_rest_s,
                    "rewards_estimate_interval_s": min(settings.rewards_estimate_interval_s, sample_period_s / 100),
                })
                venue = SimVenue(
                    clock_epoch_s=epoch,
                    config=SimConfig(paper_balance_pusd=settings.paper_balance_pusd,
                                     rewards_sample_period_s=sample_period_s, scoring_min_rest_s=min_rest_s),
                    series=[SeriesSchedule(asset=asset, window_s=int(settings.paper_window_s),
                                           nominal_minutes=minutes, seed=settings.paper_seed)],
                    seed=settings.paper_seed,
                )
                if inprocess:
                    # Tests: the same simulator without sockets, so Trio's fake clock can drive it.
                    from bot.sim.server import open_inprocess_sim

                    sim = await stack.enter_async_context(open_inprocess_sim(venue, seed=settings.paper_seed))
                    links = VenueLinks(sim.rest_url, sim.ws_market_url, sim.ws_user_url, sim.gamma_url,
                                       sim.transport, sim.transport, sim.connector)
                else:
                    server = await nursery.start(
                        partial(serve_loopback, venue, run_venue=True, seed=settings.paper_seed)
                    )
                    links = VenueLinks(server.urls.rest, server.urls.ws_market, server.urls.ws_user, server.urls.gamma)
                # A throwaway key made from the paper seed, orders stamped with paper time and salted from
                # the seed: nothing to configure, and on the fake clock the same seed gives the same
                # order ids and run (ids are walked in hash order). It signs for the embedded simulator
                # only, never for a venue.
                signer = OrderSigner(paper_key(settings.paper_seed), chain_id=settings.chain_id,
                                     now_ms=lambda: int(clock.now_s() * 1000),
                                     salt_random=random.Random(f"paper salts {settings.paper_seed}").random)
                creds = None
            else:
                clock = VenueClock()
                links = VenueLinks(
                    settings.effective_clob_url or "", settings.effective_ws_market_url or "",
                    settings.effective_ws_user_url or "", settings.effective_gamma_url,
                )
                assert settings.private_key is not None  # validated for live mode
                signer = OrderSigner(settings.private_key.get_secret_value(), chain_id=settings.chain_id,
                                     signature_type=int(settings.signature_type), funder=settings.wallet().funder)
                creds = _creds(settings)
            if journal_path is not None:
                journal = open_journal(journal_path, clock.now_s)  # JournalOpenError: exit 2
            run_started_s = clock.now_s()
            if dry_run:
                journal.write("dry_run", note="nothing is sent to the venue: posts and cancels are local")
            supervisor = Supervisor(settings, links, signer=signer, clock=clock, journal=journal, creds=creds,
                                    max_markets_total=max_markets, dry_run=dry_run)
            nursery.start_soon(_watch_signals, signals, supervisor, journal)
            if settings.record_dir is not None:
                from bot.record import record_while_trading

                nursery.start_soon(record_while_trading, supervisor, links.ws_connector, links.ws_market_url,
                                   settings.record_dir, lambda: int(clock.now_s() * 1000))
            if duration_s is not None:
                nursery.start_soon(_stop_after, duration_s, supervisor)
            if show_status is None:
                show_status = bool(getattr(out, "isatty", lambda: False)())
            await _start_observability(nursery, settings, supervisor, clock, paper, out, show_status,
                                       dry_run=dry_run, stop_hint=stop_hint)
            task_status.started(supervisor)
            # Everything loaded so far lives for the whole run: keep it out of the collector's full
            # passes, which otherwise pause the loop for tens of ms at scale (measured at 100 markets).
            gc.collect()
            gc.freeze()
            # Until `run` returns, the way out is a crash (an exception, or a cancellation from outside).
            ran = ExitReason.CRASH
            try:
                try:
                    ran = await supervisor.run()
                except Exception:
                    # An account-level task crashed; every market already ran its cancel-all. Logged
                    # through the redacting handler, then the normal summary and exit code 3.
                    log.exception("the bot crashed; every market was stopped through its cancel-all")
            finally:
                # One reason for the exit code and the summary alike.
                reason = most_severe([ran, supervisor.overall_reason()])
                left, venue_fills = await _venue_records(supervisor, links, since_s=run_started_s)
                summary = _summary(supervisor, reason, left, time.monotonic() - started_wall)
                summary["venue_fills"] = venue_fills
                summary["dry_run"] = dry_run
                journal.write("summary", **{k: v for k, v in summary.items() if k != "markets"})
                journal.close()
            nursery.cancel_scope.cancel()
    return reason, summary


def _creds(settings: BotSettings) -> ApiCreds | None:
    if settings.api_key is None or settings.api_secret is None or settings.api_passphrase is None:
        return None  # derived from the private key at start (L1)
    return ApiCreds(settings.api_key.get_secret_value(), settings.api_secret.get_secret_value(),
                    settings.api_passphrase.get_secret_value())


async def _watch_signals(signals: Any, supervisor: Supervisor, journal: Any) -> None:
    async for signum in signals:
        if signum == signal.SIGHUP:
            # logrotate: the file was moved away; append to a new one at the configured path.
            log.info("SIGHUP: reopening the journal")
            journal.reopen()
            continue
        if supervisor.stop_reason is None:
            log.warning("signal %s: stopping, cancelling every order first", signal.Signals(signum).name)
            supervisor.stop(ExitReason.SIGNAL, signal.Signals(signum).name)
        else:
            log.warning("signal %s: already stopping; the cancel-all finishes first", signal.Signals(signum).name)


async def _stop_after(duration_s: float, supervisor: Supervisor) -> None:
    await trio.sleep(duration_s)
    supervisor.stop(ExitReason.OPERATOR, f"--duration {duration_s:g} s elapsed")


async def _start_observability(
    nursery: trio.Nursery, settings: BotSettings, supervisor: Supervisor, clock: VenueClock, paper: bool,
    out: Any, tty: bool, *, dry_run: bool = False, stop_hint: str = "",
) -> None:
    """Status display (rich on a terminal, plain lines otherwise), loop-lag monitor, Prometheus metrics."""
    from bot.observability.loop_lag import LoopLagMonitor
    from bot.observability.metrics import Metrics, serve_metrics
    from bot.observability.status import StatusDisplay
    from bot.status_snapshot import snapshot

    mode = "paper" if paper else "live"
    metrics = Metrics() if settings.metrics_port is not None else None
    lag = LoopLagMonitor(on_sample=metrics.observe_loop_lag if metrics is not None else None)
    nursery.start_soon(lag.run)

    def status() -> Any:
        return snapshot(supervisor, clock, mode, lag, dry_run=dry_run, stop_hint=stop_hint)

    display = StatusDisplay(status, out=out, tty=tty)
    nursery.start_soon(display.run)
    if metrics is not None:
        port = await nursery.start(partial(serve_metrics, metrics, settings.metrics_port, host=settings.metrics_host))
        log.info("metrics on http://%s:%s/metrics", settings.metrics_host, port)
        nursery.start_soon(_feed_metrics, metrics, supervisor, status)


# The metrics follow the status at this period; Prometheus scrapes every 15 s or so.
_METRICS_PERIOD_S = 1.0


async def _feed_metrics(metrics: Any, supervisor: Supervisor, status: Any) -> None:
    seen_latency: dict[str, int] = {}
    while True:
        await trio.sleep(_METRICS_PERIOD_S)
        metrics.update(status())
        for runner in list(supervisor.runners.values()):
            metrics.sync_cancel_all_runs(runner.info.condition_id, runner.stats.cancel_all_runs)
            samples = runner.stats.tick_to_order_samples
            new = samples - seen_latency.get(runner.info.condition_id, 0)
            for value in list(runner.stats.tick_to_order_s)[-new:] if new > 0 else []:
                metrics.observe_tick_to_order(value)
            seen_latency[runner.info.condition_id] = samples


async def _venue_records(
    supervisor: Supervisor, links: VenueLinks, *, since_s: float
) -> tuple[int | None, int | None]:
    """From fresh queries after the stop: our open orders left on the venue (must be 0) and our fills
    in the venue's trade records (not FAILED) **of this run** (matched at or after `since_s`, the run's
    start on the venue's clock: a restart does not count the previous run's fills), counted the way the
    inventory counts them."""
    if supervisor.creds is None:
        return None, None
    creds = supervisor.creds
    with trio.move_on_after(_FINAL_CHECK_TIMEOUT_S, shield=True):
        try:
            async with ClobRestClient(links.rest_url, address=supervisor.signer.address, creds=creds,
                                      transport=links.http_transport,
                                      time_s=lambda: int(supervisor.clock.now_s())) as client:
                with venue_deadline(_FINAL_CHECK_TIMEOUT_S):
                    left = 0
                    fills = 0
                    for record in supervisor.stats.records:
                        info = record.info
                        left += len(await client.get_open_orders(market=info.condition_id))
                        for trade in await client.get_trades(market=info.condition_id, after_s=math.floor(since_s)):
                            if trade.status.value == "FAILED":
                                continue
                            fills += _key_fills(trade, creds.api_key, info.token_ids)
                    return left, fills
        except VenueError as exc:
            log.warning("final venue check failed: %s", exc)
    return None, None


def _key_fills(trade: TradeEvent, owner: str, tokens: Container[str]) -> int:
    """Executions of the API key's orders in a venue trade (the embedded venue's own count for the summary).

    By owner on purpose: this counts what the key traded on a venue created for this run, whatever the
    engine attributed; the engine itself attributes fills by order id (`bot.engine.fills`).
    """
    taker = trade.owner == owner and trade.trader_side is not None and trade.trader_side.value == "TAKER"
    count = 1 if taker and trade.asset_id in tokens else 0
    return count + sum(1 for m in trade.maker_orders if m.owner == owner and m.asset_id in tokens)


def _summary(supervisor: Supervisor, reason: ExitReason, left: int | None, duration_s: float) -> dict[str, Any]:
    markets = supervisor.summaries()
    runs = [run for m in markets for run in m["cancel_all_runs"]]
    pair_costs = [m["pair_cost"] for m in markets if m["pair_cost"] is not None and m["paired_shares"] > 0]
    weights = [m["paired_shares"] for m in markets if m["pair_cost"] is not None and m["paired_shares"] > 0]
    return {
        "exit_reason": reason.value,
        "duration_s": round(duration_s, 3),
        "markets_traded": len(markets),
        "orders_posted": sum(m["posted"] for m in markets),
        "orders_cancelled": sum(m["cancelled"] for m in markets),
        "rejects_expected": sum(m["rejected_expected"] for m in markets),
        "rejects_unexpected": sum(m["rejected_unexpected"] for m in markets),
        "fills": sum(m["fills"] - m["fills_reversed"] for m in markets),
        "pairs_completed": sum(m["completions_filled"] for m in markets),
        "paired_shares": sum(m["paired_shares"] for m in markets),
        "avg_pair_cost": (sum(c * w for c, w in zip(pair_costs, weights, strict=True)) / sum(weights))
        if weights else None,
        "realised_pnl_pusd": sum(m["realised_pnl_pusd"] for m in markets),
        "marked_pnl_pusd": sum(m["marked_pnl_pusd"] for m in markets),
        "liquidation_pnl_pusd": sum(m.get("liquidation_pnl_pusd", 0.0) for m in markets),
        "cancel_all_runs": len(runs),
        "cancel_all_max_s": max((r[1] for r in runs), default=0.0),
        "cancel_all_all_verified": all(r[2] for r in runs),
        "open_orders_left": left,
        "markets": markets,
    }


def format_summary(summary: dict[str, Any]) -> str:
    try:
        from bot.observability.status import format_summary as fancy
    except ImportError:
        fancy = None
    if fancy is not None:
        try:
            return fancy(summary)
        except (KeyError, TypeError, ValueError):
            log.debug("summary formatter failed; plain text", exc_info=True)
    lines = ["summary:"] + [f"  {k}: {v}" for k, v in summary.items() if k != "markets"]
    return "\n".join(lines)


# The paper main job's default: two consecutive markets of the compressed series, so the first command
# shows a whole lifecycle (quoting, cutoff, the rollover to the next window, the end) and then its summary.
PAPER_DEFAULT_MARKETS = 2
_STATE_DIR_NAME = "polymarket-maker"


def default_journal_path(environ: dict[str, str] | None = None) -> Path:
    """Live mode's journal when none is configured: `$STATE_DIRECTORY` (systemd's StateDirectory=), else
    `$XDG_STATE_HOME/polymarket-maker`, else `~/.local/state/polymarket-maker`; file `journal.jsonl`."""
    env = os.environ if environ is None else environ
    if env.get("STATE_DIRECTORY"):
        base = Path(env["STATE_DIRECTORY"].split(":")[0])
    else:
        base = Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / _STATE_DIR_NAME
    return base / "journal.jsonl"


@dataclass(frozen=True, slots=True)
class RunPlan:
    """How this run ends, where its journal goes, and the line that says so at start."""

    duration_s: float | None
    max_markets: int | None
    journal_path: Path | None
    stop_hint: str

    def start_line(self, settings: BotSettings, dry_run: bool) -> str:
        paper = settings.mode is BotMode.PAPER
        where = ("paper mode on the embedded simulator (no network, no keys)" if paper
                 else f"LIVE mode on {settings.effective_clob_url}")
        journal = (f"journal {self.journal_path}" if self.journal_path is not None
                   else "no journal (set BOT_JOURNAL_PATH or --journal PATH to keep one)")
        dry = "; DRY RUN: nothing is sent" if dry_run else ""
        return f"starting: {where}; {self.stop_hint}; {journal}{dry}"


def run_plan(args: argparse.Namespace, settings: BotSettings) -> RunPlan:
    """The run's end (`--duration`, `--markets`, `--forever`; paper default: two markets) and journal
    (`--journal`, else BOT_JOURNAL_PATH, else live mode's default in the state directory)."""
    duration = getattr(args, "duration", None)
    markets = getattr(args, "markets", None)
    forever = bool(getattr(args, "forever", False))
    paper = settings.mode is BotMode.PAPER
    if paper and not forever and duration is None and markets is None:
        markets = PAPER_DEFAULT_MARKETS
    ends = []
    if markets is not None:
        ends.append(f"ends after {markets} market{'s' if markets != 1 else ''}")
    if duration is not None:
        ends.append(f"{'or ' if ends else 'ends '}after {duration:g} s")
    end = " ".join(ends) or "runs until stopped"
    hint = f"{end} (or --duration S, --markets N, --forever); Ctrl-C stops, cancelling every order first"
    journal = getattr(args, "journal", None) or settings.journal_path
    if journal is None and not paper:
        journal = default_journal_path()
    return RunPlan(duration, markets, journal, hint)


async def cli_run(args: argparse.Namespace, settings: BotSettings | None) -> int:
    if settings is None:
        return EXIT_CONFIG
    _setup_logging(settings)
    plan = run_plan(args, settings)
    dry_run = bool(getattr(args, "dry_run", False))
    print(plan.start_line(settings, dry_run), file=sys.stderr, flush=True)
    try:
        if plan.journal_path is not None:
            try:
                plan.journal_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise JournalOpenError(f"cannot create the journal's directory {plan.journal_path.parent}: "
                                       f"{exc.strerror or exc}") from None
        reason, summary = await _run_bot_checked(plan, settings, dry_run)
    except JournalOpenError as exc:
        print(f"error: {exc} (set BOT_JOURNAL_PATH or --journal to a writable file)", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    print(format_summary(summary), flush=True)
    code = exit_code_for(reason)
    if summary.get("open_orders_left") not in (0, None):
        log.error("%s open orders left on the venue", summary["open_orders_left"])
    return code


async def _run_bot_checked(plan: RunPlan, settings: BotSettings, dry_run: bool) -> tuple[ExitReason, dict[str, Any]]:
    """`run_bot`, with a journal that cannot be opened raised as itself (not inside a nursery's group)."""
    try:
        return await run_bot(
            settings,
            duration_s=plan.duration_s,
            max_markets=plan.max_markets,
            dry_run=dry_run,
            journal_path=plan.journal_path,
            stop_hint=plan.stop_hint,
        )
    except BaseExceptionGroup as group:
        matched, rest = group.split(JournalOpenError)
        if matched is not None and rest is None:
            raise matched.exceptions[0] from None
        raise


def _setup_logging(settings: BotSettings) -> None:
    secrets_to_hide = [s.get_secret_value() for s in (settings.private_key, settings.api_secret,
                                                       settings.api_passphrase, settings.api_key) if s]
    try:
        from bot.observability.logs import setup_logging
    except ImportError:
        logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
        return
    setup_logging(settings.log_level, settings.log_json, secrets_to_hide)
