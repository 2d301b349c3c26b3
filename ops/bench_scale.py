"""Benchmark: 100 concurrent markets in one bot process: event-loop lag and resident memory.

Usage: `.venv/bin/python ops/bench_scale.py [--quick] [--markets N] [--duration-s S]` (prints JSON).

Setup: the simulator in its own process with N markets open at once and the default synthetic flow
(a walking fair value, three makers re-quoting, Poisson takers that fill our bids, so completions run
too); the real bot in a fresh process (the measured one): supervisor, N market runners with 2 x 5-level
ladders, the shared market-data shard, the user channel, heartbeat, `LoopLagMonitor` and the plain-text
status display as in the main job, over real sockets on 127.0.0.1 on the wall clock.

Measured once every market has its first quote acknowledged (the start-up burst is reported apart), for a
fixed wall duration: the loop lag (how late a 100 ms sleep wakes) p99 over the whole duration, with the
spread of the per-window p99s (10 s windows); resident memory at the end and its peak (VmRSS, VmHWM).
Also reported, as context: orders, fills, frames, REST requests, stream reconnects (the simulator drops a
WebSocket whose 1024-frame queue overflows: "slow consumer"), the engine's own tick-to-order under this
load, and what the loop spent its time on (`bench_loopback.LoopProfile`: CPU per scheduler batch, the
tasks behind long steps, garbage-collector pauses). Beside the lag stand the bot's CPU time and its wait
for a CPU (/proc schedstat): lag that the machine caused shows as wait, lag our code caused as CPU.
Production settings: the journal ON (a real file), the bot's logging as `main` sets it up (INFO, text).
Targets: lag p99 ≤ 5 ms at 100 markets (issue 14; 10 ms before), resident memory ≤ 200 MB.

The curve (`run_curve`, `--curve`): the same run at growing market counts, each in a fresh pair of
processes, reporting markets → lag p99, the bot's CPU (% of one core over the measured window), peak RSS
and the load average, until a count's p99 exceeds 10 ms; the largest count that held is reported.

Variants (`--variant`, measured, not adopted by the engine): `drain` handles every frame already queued on
a market-data connection before yielding to the scheduler (one wake-up per burst instead of one per frame);
`journal-batch` buffers journal lines and writes them with one `os.write` per scheduler pass.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any, Final

from bench_common import percentile, run_child, spread

__all__ = ["CURVE_STOP_MS", "TARGET_LAG_P99_MS", "TARGET_RSS_MB", "VARIANTS", "run", "run_curve"]

TARGET_LAG_P99_MS: Final = 5.0
CURVE_STOP_MS: Final = 10.0  # the curve grows the market count until the lag p99 exceeds this
VARIANTS: Final = ("baseline", "drain", "journal-batch")
TARGET_RSS_MB: Final = 200.0
_WINDOW_S: Final = 10.0  # the lag's spread: p99 of each window this long
_LAG_PERIOD_S: Final = 0.1  # the main job's monitor period
_QUOTE_CUTOFF_S: Final = 60.0
_STARTUP_TIMEOUT_S: Final = 120.0  # 100 markets' first quotes, on a loaded two-core machine
_END_MARGIN_S: Final = 60.0  # the windows outlast the measurement by this (start-up included)
_MS: Final = 1e3


def _apply_variant(variant: str) -> None:
    """Bench-only: patch the engine in this child process to measure a proposal (see the docstring)."""
    if variant == "drain":
        import trio
        from trio_websocket import ConnectionClosed

        from bot.protocol.ws import MarketStream

        original = MarketStream._handle_frame

        async def read_loop(self: Any, ws: Any) -> bool:
            first = True
            while True:
                with trio.move_on_after(self._dead_after_s) as silence:
                    try:
                        raw = await ws.get_message()
                    except ConnectionClosed:
                        return False
                if silence.cancelled_caught:
                    return True
                self._last_frame_at_s = trio.current_time()
                if first:
                    first = False
                    self._backoff.reset()
                await original(self, raw)
                while True:  # the frames already queued, before the next scheduler pass
                    try:
                        raw = ws._recv_channel.receive_nowait()
                    except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                        break
                    await original(self, raw)

        MarketStream._read_loop = read_loop  # type: ignore[method-assign]


class _BatchingJournal:
    """Bench variant: lines collected during one scheduler pass, written with one `os.write` after it."""

    def __init__(self, inner: Any) -> None:
        import trio

        self._inner = inner
        self._pending: list[bytes] = []
        self._token = trio.lowlevel.current_trio_token()
        self.batches = 0
        self.lines = 0

    def write(self, kind: str, **fields: Any) -> None:
        import orjson

        from bot.engine.journal import _scrub

        line = orjson.dumps({"t": round(self._inner._clock_s(), 6), "kind": kind, **_scrub(fields)},
                            option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS)
        if not self._pending:
            self._token.run_sync_soon(self._flush)
        self._pending.append(line)
        self.lines += 1

    def write_many(self, kind: str, records: Any) -> None:
        for fields in records:
            self.write(kind, **fields)

    def _flush(self) -> None:
        import os

        data, self._pending = b"".join(self._pending), []
        os.write(self._inner._fd, data)
        self.batches += 1

    def statistics(self) -> dict[str, Any]:
        return {"lines_written": self.lines, "batches": self.batches}


async def _measure(markets: int, duration_s: float, variant: str = "baseline",
                   journal_dir: str | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    import gc
    import io
    import tempfile
    from pathlib import Path

    import httpx
    import trio
    from bench_common import rss_mb, sched_s
    from bench_loopback import (
        LoopProfile,
        bench_settings,
        market_infos,
        open_sim_process,
        start_bot,
        wait_until,
    )

    from bot.engine.clock import VenueClock
    from bot.engine.journal import open_journal
    from bot.observability.loop_lag import LoopLagMonitor
    from bot.observability.status import StatusDisplay
    from bot.status_snapshot import snapshot
    from statemachines.market import ExitReason

    end_in_s = _QUOTE_CUTOFF_S + duration_s + _STARTUP_TIMEOUT_S + _END_MARGIN_S
    args = ["--markets", str(markets), "--flow", "active", "--end-in-s", str(end_in_s)]
    profile = LoopProfile()
    trio.lowlevel.add_instrument(profile)
    async with open_sim_process(args) as sim, trio.open_nursery() as nursery:
        lag_samples: list[tuple[float, float]] = []  # (trio time, lag s)
        lag = LoopLagMonitor(_LAG_PERIOD_S, max_samples=10**6,
                             on_sample=lambda lag_s: lag_samples.append((trio.current_time(), lag_s)))
        await nursery.start(lag.run)
        clock = VenueClock()
        # The configuration recommended for many markets (README): bursts of book changes are conflated
        # into one diff per 50 ms per market.
        settings = bench_settings(max_markets=markets, quote_cutoff_s=_QUOTE_CUTOFF_S,
                                  max_total_notional_pusd=1e9, min_tick_interval_s=_MIN_TICK_INTERVAL_S,
                                  **(overrides or {}))
        # As `python -m bot run` does: objects loaded at start stay out of full collections.
        gc.collect()
        gc.freeze()
        rss_before = rss_mb()
        started = trio.current_time()
        workdir = tempfile.TemporaryDirectory(prefix="bench-scale-") if journal_dir is None else None
        journal_path = Path(journal_dir or workdir.name) / "journal.jsonl"  # type: ignore[union-attr]
        file_journal = open_journal(journal_path, clock.now_s)
        journal: Any = _BatchingJournal(file_journal) if variant == "journal-batch" else file_journal
        bot = await start_bot(nursery, market_infos(sim.ready), sim.ready["urls"], settings, clock=clock,
                              journal=journal)
        display = StatusDisplay(lambda: snapshot(bot.supervisor, clock, "bench", lag), out=io.StringIO(),
                                tty=False)
        nursery.start_soon(display.run)
        all_quoting = await wait_until(
            lambda: len(bot.runners) == markets and all(r.stats.first_quote_at_s is not None for r in bot.runners),
            timeout_s=_STARTUP_TIMEOUT_S, what=f"{markets} markets' first quotes",
        )
        sched_start = sched_s()
        sim_sched_start = _process_sched_s(sim.ready["pid"])
        profile.reset()
        await trio.sleep(duration_s)
        ended = trio.current_time()
        sched_end = sched_s()
        sim_sched_end = _process_sched_s(sim.ready["pid"])
        loop_profile = profile.summary()
        profile.close()
        rss = rss_mb()
        runners = list(bot.runners)
        block_reasons = [str(r.block_reason) for r in runners]
        summaries = [r.summary() for r in runners]
        tick_to_order = [s for r in runners for s in r.stats.tick_to_order_s]
        stream_stats = [s.statistics() for s in bot.supervisor.streams]
        states = sorted({r.machine.state.value for r in runners})
        requests = len(bot.transport.records)
        # Every request through the shared pool, by the venue's answer ("none": no answer came back).
        statuses = Counter("none" if r.status is None else str(r.status) for r in bot.transport.records)
        user_stats = bot.supervisor.user_hub.stream.statistics() if bot.supervisor.user_hub else None
        async with httpx.AsyncClient() as client:  # the simulator's own counters (slow consumers, limits)
            sim_stats = (await client.get(sim.ready["urls"]["admin"] + "/stats")).json()
        journal_lines = file_journal.statistics()
        bot.supervisor.stop(ExitReason.OPERATOR, "benchmark done")
        with trio.move_on_after(_END_MARGIN_S):
            await bot.done.wait()
        nursery.cancel_scope.cancel()
    file_journal.close()
    if workdir is not None:
        workdir.cleanup()
    steady = [lag_s for t, lag_s in lag_samples if all_quoting <= t <= ended]
    startup = [lag_s for t, lag_s in lag_samples if t < all_quoting]
    windows = [
        [lag_s for t, lag_s in lag_samples if start <= t < start + _WINDOW_S]
        for start in [all_quoting + k * _WINDOW_S for k in range(int(duration_s // _WINDOW_S))]
    ]
    window_p99_ms = [percentile(w, 0.99) * _MS for w in windows if w]
    return {
        "markets": markets,
        "variant": variant,
        "settings_overrides": overrides or {},
        "journal": journal_lines if variant != "journal-batch" else journal.statistics(),
        "duration_s": duration_s,
        "startup_to_all_quoting_s": round(all_quoting - started, 3),
        "lag_samples": len(steady),
        "lag_p50_ms": round(percentile(steady, 0.50) * _MS, 3),
        "lag_p99_ms": round(percentile(steady, 0.99) * _MS, 3),
        "lag_max_ms": round(max(steady) * _MS, 3),
        "lag_p99_windows_ms": spread(window_p99_ms),
        "startup_lag_p99_ms": round(percentile(startup, 0.99) * _MS, 3) if startup else None,
        "startup_lag_max_ms": round(max(startup) * _MS, 3) if startup else None,
        "rss_before_bot_mb": rss_before["rss_mb"],
        "rss_end_mb": rss["rss_mb"],
        "peak_rss_mb": rss["peak_rss_mb"],
        "engine_tick_to_order_ms": {
            "p50": round(percentile(tick_to_order, 0.50) * _MS, 3) if tick_to_order else None,
            "p99": round(percentile(tick_to_order, 0.99) * _MS, 3) if tick_to_order else None,
            "n": len(tick_to_order),
        },
        "orders_posted": sum(s["posted"] for s in summaries),
        "fills": sum(s["fills"] for s in summaries),
        "completions_sent": sum(s["completions_sent"] for s in summaries),
        "rest_requests": requests,
        "requests_by_status": dict(sorted(statuses.items())),
        "market_frames": sum(s.frames for s in stream_stats),
        "market_stream_reconnects": sum(s.reconnects for s in stream_stats),
        "user_stream_reconnects": None if user_stats is None else user_stats.reconnects,
        "sim_ws": sim_stats.get("ws", {}),
        "market_states_at_end": states,
        "block_reasons_at_end": dict(Counter(block_reasons)),
        "loop_profile": loop_profile,
        "sim_cpu_s": round(sim_sched_end["cpu_s"] - sim_sched_start["cpu_s"], 3),
        "cpu_s": round(sched_end["cpu_s"] - sched_start["cpu_s"], 3),
        "runqueue_wait_s": round(sched_end["runqueue_wait_s"] - sched_start["runqueue_wait_s"], 3),
    }


def _process_sched_s(pid: int) -> dict[str, float]:
    """CPU time of another process (the simulator), from /proc/<pid>/schedstat."""
    try:
        with open(f"/proc/{pid}/schedstat", encoding="utf-8") as schedstat:
            run_ns, wait_ns, _ = (int(x) for x in schedstat.read().split())
    except (OSError, ValueError):
        return {"cpu_s": float("nan"), "runqueue_wait_s": float("nan")}
    return {"cpu_s": run_ns / 1e9, "runqueue_wait_s": wait_ns / 1e9}


_MIN_TICK_INTERVAL_S = 0.05


def run(quick: bool = False, *, markets: int = 100, duration_s: float | None = None,
        variant: str = "baseline") -> dict[str, Any]:
    """Measure in a child process (its memory is the bot's alone); return lag, memory and the verdict."""
    import os

    duration = duration_s if duration_s is not None else (8.0 if quick else 60.0)
    load_before = [round(x, 2) for x in os.getloadavg()]
    result = run_child(
        "bench_scale.py", ["--markets", str(markets), "--duration-s", str(duration), "--variant", variant],
        timeout_s=duration + _STARTUP_TIMEOUT_S + 3 * _END_MARGIN_S,
    )
    result["load_average"] = load_before
    result["cpu_pct"] = round(100.0 * result["cpu_s"] / duration, 1)
    result.update(
        {
            "benchmark": f"{markets} concurrent markets in one process: loop lag and resident memory",
            "targets": {"lag_p99_ms_max": TARGET_LAG_P99_MS, "rss_mb_max": TARGET_RSS_MB},
            "meets_target": result["lag_p99_ms"] <= TARGET_LAG_P99_MS and result["peak_rss_mb"] <= TARGET_RSS_MB,
        }
    )
    return result


def run_curve(quick: bool = False, *, counts: list[int] | None = None,
              duration_s: float | None = None) -> dict[str, Any]:
    """markets → lag p99, CPU, RSS, load; stops at the first count whose p99 exceeds `CURVE_STOP_MS`."""
    duration = duration_s if duration_s is not None else (5.0 if quick else 30.0)
    counts = counts or ([10, 25] if quick else [50, 100, 150, 200, 300, 400, 500])
    points: list[dict[str, Any]] = []
    largest: int | None = None
    for markets in counts:
        try:
            r = run(quick, markets=markets, duration_s=duration)
        except Exception as exc:  # a count the machine cannot start is the curve's end, not a crash
            points.append({"markets": markets, "error": f"{type(exc).__name__}: {exc}"[:500]})
            break
        points.append({k: r[k] for k in ("markets", "lag_p99_ms", "lag_p50_ms", "cpu_s", "cpu_pct",
                                         "runqueue_wait_s", "peak_rss_mb", "load_average",
                                         "startup_to_all_quoting_s", "market_stream_reconnects")})
        if r["lag_p99_ms"] > CURVE_STOP_MS:
            break
        largest = markets
    return {"benchmark": "scale curve: markets -> loop lag p99, CPU, RSS (journal on)", "duration_s": duration,
            "stop_above_ms": CURVE_STOP_MS, "points": points, "largest_holding": largest}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 s instead of 60 s")
    parser.add_argument("--child", action="store_true", help="(internal) measure in this process")
    parser.add_argument("--markets", type=int, default=100)
    parser.add_argument("--duration-s", type=float, default=None)
    parser.add_argument("--variant", choices=VARIANTS, default="baseline", help="a measured proposal")
    parser.add_argument("--curve", action="store_true", help="the markets -> lag curve instead of one count")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=JSON",
                        help="(with --child) a bot setting for this run, e.g. concurrent_reprice=false")
    parser.add_argument("--journal-dir", default=None, help="(with --child) keep the journal file there")
    parser.add_argument("--pool-connections", type=int, default=None,
                        help="(with --child) the REST client's connection pool size (default: the client's own)")
    args = parser.parse_args(argv)
    if args.child:
        import trio
        from bench_common import ensure_repo_on_path

        ensure_repo_on_path()
        from bot.observability.logs import setup_logging

        setup_logging("INFO", False, [])  # as `main` does with the default settings
        _apply_variant(args.variant)
        if args.pool_connections is not None:
            import bot.protocol.rest

            bot.protocol.rest._POOL_CONNECTIONS = args.pool_connections  # type: ignore[misc]
        duration = args.duration_s if args.duration_s is not None else 60.0
        overrides = {name: json.loads(value) for name, value in (item.split("=", 1) for item in args.set)}
        print(json.dumps(trio.run(_measure, args.markets, duration, args.variant, args.journal_dir, overrides)))
        return 0
    if args.curve:
        print(json.dumps(run_curve(quick=args.quick, duration_s=args.duration_s), indent=2))
        return 0
    print(json.dumps(run(quick=args.quick, markets=args.markets, duration_s=args.duration_s,
                         variant=args.variant), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
