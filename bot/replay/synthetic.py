"""A seeded synthetic busy market in the PMXT v2 schema, for the replay benchmark and pinned results.

One market, one token's depth: a `book` of five levels a side around a mid that random-walks one cent
now and then, then `rate` events a second, a tenth of them `last_trade_price` one cent off the mid
and the rest `price_change`s of one of the five levels each side (with the other token's mirror entry).
The same `(seconds, rate, seed)` always writes the same rows.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from bot.replay.frames import rows_from_payload
from bot.replay.writer import write_rows

__all__ = ["MARKET", "NO", "T0_MS", "YES", "write_busy_market"]

MARKET = "0x" + "cd" * 32
YES, NO = "2001", "2002"
T0_MS = 1_780_000_000_000


def write_busy_market(path: Path, *, seconds: int, rate: float, seed: int) -> int:
    """Write the synthetic recording to `path`; returns its number of rows."""
    rng = random.Random(seed)
    mid = 50  # in cents
    levels: dict[tuple[str, int], int] = {}
    rows: list[dict[str, Any]] = []

    def frame(t_ms: int, payload: dict[str, Any]) -> None:
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
