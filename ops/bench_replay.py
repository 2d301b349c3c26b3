"""Benchmark: replay speed of `backtest` on one busy market hour, against a bare read of the same file.

Writes a seeded synthetic hour of one market in the PMXT v2 schema (`bot.replay.synthetic`: a random
walk of the top levels with `--rate` events per second, a tenth of them trades), then measures, in this
one process and one after the other:

| row | from → to |
|---|---|
| bare read | `load_recording(file)`: Parquet → the reader's time-ordered events (the reference) |
| replay only | the events through the replay driver and the simulator's exchange on the fake clock, no bot |
| backtest exact | `run_backtest` with the events in memory (no Parquet read): `trio.run` start → the bot's exit at market end, every recorded event shown to the bot |
| backtest conflated | the same with `--conflate-ms` (the bot sees the depth at most that often; fills stay exact) |

Each row gives wall time and CPU time (`time.process_time`, this process), events per CPU second, the
recorded span over CPU time (× real time; target ≥ 200× for the exact backtest) and CPU time over the
bare read's. The machine's load average is printed beside the figures: on a shared machine wall time
moves with it, CPU time much less. `--by-task` adds one more exact run with CPU time per Trio task
(who pays: the bot, the replay and simulator, the WebSocket transport, the scheduler).

    .venv/bin/python ops/bench_replay.py [--rate 20] [--seconds 3600] [--conflate-ms 250] [--by-task] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trio

from bot.replay.backtest import BacktestConfig, run_backtest
from bot.replay.reader import load_recording
from bot.replay.synthetic import write_busy_market
from settings import BotSettings

T = TypeVar("T")

# Who runs in which task (`trio.lowlevel.Task.name`, the coroutine's qualified name), by name prefix.
# The bot's tasks also run the simulator's REST handling of its own requests (in-process ASGI) and the
# matching of its orders; the driver's steps run the simulator's book summaries and the WS hub's fan-out.
_TASK_GROUPS = (
    ("bot (engine + protocol)", ("bot.engine.", "bot.protocol.")),
    ("replay driver + simulator", ("bot.replay.venue.", "bot.replay.backtest.", "bot.sim.faults.")),
    ("WebSocket transport (both ends)", ("bot.sim.ws_server.", "trio_websocket.", "bot.replay.latency.")),
)


class TaskCpu(trio.abc.Instrument):
    """CPU time of every Trio task step, summed per task name; what is left of the run is the scheduler."""

    def __init__(self) -> None:
        self.cpu_s: Counter[str] = Counter()
        self.steps: Counter[str] = Counter()
        self._started = 0.0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._started = time.process_time()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        self.cpu_s[task.name] += time.process_time() - self._started
        self.steps[task.name] += 1

    def by_group(self) -> dict[str, float]:
        groups: Counter[str] = Counter()
        for name, cpu_s in self.cpu_s.items():
            group = next((label for label, prefixes in _TASK_GROUPS if name.startswith(prefixes)), "other tasks")
            groups[group] += cpu_s
        return dict(groups)


def _load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


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
    parser.add_argument("--by-task", action="store_true", help="one more exact run: CPU time per Trio task")
    parser.add_argument("--keep", type=Path, help="write the data and report here instead of a temp folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-replay-"))
    path = folder / "busy-hour.parquet"
    rows = write_busy_market(path, seconds=args.seconds, rate=args.rate, seed=args.seed)
    print(f"{_load()} (2-core machine shared: wall time moves with load, CPU time much less)")
    measured: list[tuple[str, float, float, str]] = []  # (row, wall s, cpu s, load after)

    def measure(name: str, fn: Callable[[], T]) -> T:
        started, cpu = time.perf_counter(), time.process_time()
        value = fn()
        measured.append((name, time.perf_counter() - started, time.process_time() - cpu, _load()))
        return value

    recording = measure("bare read", lambda: load_recording(path))
    measure("replay only", lambda: replay_only(recording))
    # Caps far above what an hour of fills needs: the bot quotes all hour instead of stopping at its
    # default 500 pUSD per market (a backtest of a quiet bot would measure only the feed).
    settings = BotSettings(mode="paper", ladder_levels=3, size_per_level_shares=10.0, quote_cutoff_s=60.0,
                           max_notional_per_market_pusd=1_000_000.0, max_total_notional_pusd=1_000_000.0,
                           paper_balance_pusd=10_000_000.0)
    exact = measure("backtest exact", lambda: run_backtest(BacktestConfig(data=path, settings=settings), recording))
    conflated = measure(f"backtest conflated {args.conflate_ms} ms", lambda: run_backtest(
        BacktestConfig(data=path, settings=settings, conflate_ms=args.conflate_ms), recording))
    events = len(recording.events)
    print(f"rows {rows}, events {events}, recorded {args.seconds} s; fills {len(exact.fills)} "
          f"({len(conflated.fills)} conflated), orders placed {exact.orders_placed} ({conflated.orders_placed})")
    bare_cpu = measured[0][2]
    width = max(len(name) for name, *_ in measured)
    print(f"{'':<{width}}  wall s   cpu s  events/s (cpu)  x real time (cpu)  cpu / bare read  load after (1/5/15 min)")
    for name, wall, cpu_s, load in measured:
        print(f"{name:<{width}}  {wall:6.2f}  {cpu_s:6.2f}  {events / cpu_s:14,.0f}  {args.seconds / cpu_s:17,.1f}"
              f"  {cpu_s / bare_cpu:14.1f}x  {load}")
    if args.by_task:
        tasks = TaskCpu()
        cpu = time.process_time()
        run_backtest(BacktestConfig(data=path, settings=settings), recording, instruments=[tasks])
        total = time.process_time() - cpu
        print(f"exact backtest by Trio task (cpu s, share of {total:.2f} s; the instrument itself adds a little):")
        groups = tasks.by_group()
        groups["scheduler (between task steps)"] = total - sum(tasks.cpu_s.values())
        for group, cpu_s in sorted(groups.items(), key=lambda item: -item[1]):
            print(f"  {group:<34} {cpu_s:7.2f}  {cpu_s / total:6.1%}")
        for name, cpu_s in tasks.cpu_s.most_common(8):
            print(f"    {name:<70} {cpu_s:7.2f}  {cpu_s / total:6.1%}  {tasks.steps[name]:8d} steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
