"""Benchmark: replay speed of `backtest` on one busy market hour.

Writes a seeded synthetic hour of one market in the PMXT v2 schema (a random walk of the top levels
with `--rate` events per second, a tenth of them trades), then measures (1) a bare read of the file
(Parquet → the reader's events), (2) the full backtest: the production engine against the replay.
Prints events/s, the ratio to real time (target ≥ 200×) and the ratio to the bare read.

    .venv/bin/python ops/bench_replay.py [--rate 20] [--seconds 3600] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.replay.backtest import BacktestConfig, run_backtest
from bot.replay.reader import load_recording
from bot.replay.synthetic import write_busy_market
from settings import BotSettings


def replay_only(recording) -> None:
    """The recording through the replay driver and the simulator's exchange on the fake clock, no bot:
    the cost of the replay itself."""
    import trio
    import trio.testing

    from bot.replay.backtest import pick_market
    from bot.replay.matcher import ReplayBook
    from bot.replay.queue import queue_model
    from bot.replay.venue import ReplayDriver
    from bot.sim.engine import Exchange
    from bot.sim.model import MarketSpec, SimConfig

    market, yes, no = pick_market(recording, None)
    epoch = recording.start_ms / 1000 - 1

    async def run() -> None:
        exchange = Exchange(clock=lambda: epoch + trio.current_time(), config=SimConfig(auto_tick_size=False))
        spec = MarketSpec(condition_id=market, question="q", slug="s", yes_token_id=yes, no_token_id=no,
                          start_ts=epoch, end_ts=recording.end_ms / 1000 + 60)
        exchange.add_market(spec)
        exchange.subscribe(lambda event: None)  # the fronts' listener, minus the sockets
        await ReplayDriver(exchange, spec, recording.events, ReplayBook(yes, no, queue_model("conservative")),
                           epoch).run()

    trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0, help="recorded events per second (default 20)")
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--conflate-ms", type=int, default=250, help="the conflated run's window (default 250)")
    parser.add_argument("--keep", type=Path, help="write the data and report here instead of a temp folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-replay-"))
    path = folder / "busy-hour.parquet"
    rows = write_busy_market(path, seconds=args.seconds, rate=args.rate, seed=args.seed)
    started, cpu = time.perf_counter(), time.process_time()
    recording = load_recording(path)
    bare_s, bare_cpu = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    replay_only(recording)
    venue_s, venue_cpu = time.perf_counter() - started, time.process_time() - cpu
    # Caps far above what an hour of fills needs: the bot quotes all hour instead of stopping at its
    # default 500 pUSD per market (a backtest of a quiet bot would measure only the feed).
    settings = BotSettings(mode="paper", ladder_levels=3, size_per_level_shares=10.0, quote_cutoff_s=60.0,
                           max_notional_per_market_pusd=1_000_000.0, max_total_notional_pusd=1_000_000.0,
                           paper_balance_pusd=10_000_000.0)
    cpu = time.process_time()
    result = run_backtest(BacktestConfig(data=path, settings=settings), recording)
    run_cpu = time.process_time() - cpu
    cpu = time.process_time()
    conflated = run_backtest(BacktestConfig(data=path, settings=settings, conflate_ms=args.conflate_ms), recording)
    conflated_cpu = time.process_time() - cpu
    events = len(recording.events)
    print(f"rows {rows}, events {events}, recorded {args.seconds} s; fills {len(result.fills)} "
          f"({len(conflated.fills)} conflated), orders placed {result.orders_placed} ({conflated.orders_placed})")
    print("            wall s    cpu s     events/s (cpu)  x real time (cpu)")
    for name, wall, cpu_s in (("bare read", bare_s, bare_cpu), ("replay only", venue_s, venue_cpu),
                              ("backtest", result.wall_s, run_cpu),
                              (f"  conflated {args.conflate_ms} ms", conflated.wall_s, conflated_cpu)):
        print(f"{name:<11} {wall:7.2f}  {cpu_s:7.2f}  {events / cpu_s:14,.0f}  {args.seconds / cpu_s:12,.0f}")
    print(f"backtest / bare read (cpu): {run_cpu / bare_cpu:.0f}x slower; replay only (driver + matching "
          f"engine, no bot): {venue_cpu / bare_cpu:.1f}x slower")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
