"""Benchmark: replay speed of `backtest` on one busy market hour.

Writes a seeded synthetic hour of one market in the PMXT v2 schema (a random walk of the top levels
with `--rate` events per second, a tenth of them trades), then measures (1) a bare read of the file
(Parquet → the reader's events), (2) the full backtest: the production engine against the replay.
Prints events/s, the ratio to real time (target ≥ 200×) and the ratio to the bare read.

    .venv/bin/python ops/bench_replay.py [--rate 20] [--seconds 3600] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.replay.backtest import BacktestConfig, run_backtest
from bot.replay.frames import rows_from_payload
from bot.replay.reader import load_recording
from bot.replay.writer import write_rows
from settings import BotSettings

MARKET = "0x" + "cd" * 32
YES, NO = "2001", "2002"
T0_MS = 1_780_000_000_000


def synthetic_hour(path: Path, *, seconds: int, rate: float, seed: int) -> int:
    rng = random.Random(seed)
    mid = 50  # in cents
    levels: dict[tuple[str, int], int] = {}
    rows = []

    def frame(t_ms: int, payload: dict) -> None:
        rows.extend(rows_from_payload(payload, t_ms))

    bids = [(f"0.{mid - k:02d}", str(rng.randint(50, 500))) for k in range(1, 6)]
    asks = [(f"0.{mid + k:02d}", str(rng.randint(50, 500))) for k in range(1, 6)]
    for side, book in (("BUY", bids), ("SELL", asks)):
        for price, size in book:
            levels[(side, round(float(price) * 100))] = int(size)
    frame(T0_MS, {"event_type": "book", "asset_id": YES, "market": MARKET, "timestamp": str(T0_MS),
                  "bids": [{"price": p, "size": s} for p, s in bids], "asks": [{"price": p, "size": s} for p, s in asks]})
    n = int(seconds * rate)
    for i in range(n):
        t_ms = T0_MS + 1 + int(i / rate * 1000)
        if rng.random() < 0.01:
            mid = max(10, min(90, mid + rng.choice((-1, 1))))
        if rng.random() < 0.1:
            side = rng.choice(("BUY", "SELL"))
            price = mid - 1 if side == "SELL" else mid + 1
            frame(t_ms, {"event_type": "last_trade_price", "asset_id": YES, "market": MARKET, "price": f"0.{price:02d}",
                         "side": side, "size": str(rng.randint(5, 120)), "fee_rate_bps": "0", "timestamp": str(t_ms)})
            continue
        side = rng.choice(("BUY", "SELL"))
        cents = mid - rng.randint(1, 5) if side == "BUY" else mid + rng.randint(1, 5)
        size = max(0, levels.get((side, cents), 0) + rng.randint(-60, 80))
        levels[(side, cents)] = size
        frame(t_ms, {"event_type": "price_change", "market": MARKET, "timestamp": str(t_ms),
                     "price_changes": [{"asset_id": YES, "price": f"0.{cents:02d}", "size": str(size), "side": side},
                                       {"asset_id": NO, "price": f"0.{100 - cents:02d}", "size": str(size),
                                        "side": "SELL" if side == "BUY" else "BUY"}]})
    write_rows(path, rows)
    return len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0, help="recorded events per second (default 20)")
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="write the data and report here instead of a temp folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-replay-"))
    path = folder / "busy-hour.parquet"
    rows = synthetic_hour(path, seconds=args.seconds, rate=args.rate, seed=args.seed)
    started = time.perf_counter()
    recording = load_recording(path)
    bare_s = time.perf_counter() - started
    settings = BotSettings(mode="paper", ladder_levels=3, size_per_level_shares=10.0, quote_cutoff_s=60.0)
    result = run_backtest(BacktestConfig(data=path, settings=settings), recording)
    events = len(recording.events)
    print(f"rows {rows}, events {events}, recorded {args.seconds} s; fills {len(result.fills)}, "
          f"orders placed {result.orders_placed}")
    print(f"bare read:  {bare_s:7.2f} s  {events / bare_s:12,.0f} events/s")
    print(f"backtest:   {result.wall_s:7.2f} s  {events / result.wall_s:12,.0f} events/s  "
          f"{args.seconds / result.wall_s:7.0f}x real time  (bare read is {result.wall_s / bare_s:.0f}x faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
