"""Benchmark: market-data throughput of the bot's real frame path against a bare JSON loop, same frames.

Usage: `.venv/bin/python ops/bench_marketdata.py [--quick]` (prints JSON).

Frames: the 51 captured messages of `fixtures/polymarket/ws/price_change_burst_captured.json` (a book, 49
batched price_changes for both tokens, a post-trade book), each sent as one compact JSON text frame, as the
venue sends them. One replay feeds all 51 frames; a "level update" is one price_change entry or one level of
a book snapshot, so both paths count the same work.

- ours: `MarketStream._handle_frame` (the code the socket reader calls): parse (msgspec fast path for the
  current price_change schema, orjson otherwise), typed events, book update, changed-set bookkeeping.
- bare: `orjson.loads` plus a dict store per level with the price and size as floats (what any book needs
  at the least); also `orjson.loads` alone, for context.

Rounds interleave the paths so load from other processes hits both alike; the figure is the median of
the per-round ratios ours/bare with its spread. Target: ≥ 0.5x the bare loop.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from bench_common import REPO_ROOT, ensure_repo_on_path, spread

__all__ = ["FIXTURE", "TARGET_RATIO", "run"]

TARGET_RATIO: Final = 0.5
FIXTURE: Final = REPO_ROOT / "tests" / "fixtures" / "polymarket" / "ws" / "price_change_burst_captured.json"
# Each timed block should last long enough (≥ ~50 ms) that timer resolution and one scheduler tick vanish.
_REPLAYS_PER_ROUND: Final = 200


def _frames(fixture: Path) -> tuple[list[str], int, list[str]]:
    """(text frames, level updates per replay, token ids seen)."""
    import orjson

    messages = json.loads(fixture.read_text())
    frames = [orjson.dumps(m).decode() for m in messages]
    updates = 0
    tokens: dict[str, None] = {}
    for m in messages:
        if m["event_type"] == "price_change":
            updates += len(m["price_changes"])
            tokens.update(dict.fromkeys(c["asset_id"] for c in m["price_changes"]))
        elif m["event_type"] == "book":
            updates += len(m["bids"]) + len(m["asks"])
            tokens[m["asset_id"]] = None
    return frames, updates, list(tokens)


def _bare_loop(frames: list[str], replays: int) -> None:
    import orjson

    loads = orjson.loads
    books: dict[str, dict[str, dict[float, float]]] = {}
    for _ in range(replays):
        for raw in frames:
            msg = loads(raw)
            if msg["event_type"] == "price_change":
                for change in msg["price_changes"]:
                    book = books.get(change["asset_id"])
                    if book is None:
                        book = books[change["asset_id"]] = {"BUY": {}, "SELL": {}}
                    book[change["side"]][float(change["price"])] = float(change["size"])
            else:
                books[msg["asset_id"]] = {
                    "BUY": {float(level["price"]): float(level["size"]) for level in msg["bids"]},
                    "SELL": {float(level["price"]): float(level["size"]) for level in msg["asks"]},
                }


def _decode_only(frames: list[str], replays: int) -> None:
    import orjson

    loads = orjson.loads
    for _ in range(replays):
        for raw in frames:
            loads(raw)


async def _ours_rounds(
    frames: list[str], tokens: list[str], replays: int, rounds: int, between: Callable[[], dict[str, float]]
) -> tuple[list[float], list[dict[str, float]], dict[str, Any]]:
    """Time `replays` replays through `_handle_frame` per round; `between()` times the bare paths."""
    from bot.protocol.ws import MarketStream

    stream = MarketStream("ws://bench.invalid/ws/market", tokens)
    handle = stream._handle_frame  # the socket reader's call, without a socket
    for raw in frames * 20:  # warm caches and the allocator
        await handle(raw)
    ours_s: list[float] = []
    others: list[dict[str, float]] = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(replays):
            for raw in frames:
                await handle(raw)
            stream.take_changed()  # the consumer's side of the conflation, once per burst
        ours_s.append(time.perf_counter() - start)
        others.append(between())
    stats = stream.statistics()
    book = stream.book(tokens[0])
    check = {
        "frames": stats.frames,
        "events": stats.events,
        "malformed": stats.malformed,
        "book_levels_token0": None if book is None else [book.bid_count, book.ask_count],
    }
    return ours_s, others, check


def run(quick: bool = False) -> dict[str, Any]:
    """Measure and return level updates/s for ours, the bare loop and decode-only, with the ratio."""
    ensure_repo_on_path()
    import trio

    frames, updates_per_replay, tokens = _frames(FIXTURE)
    rounds = 7 if quick else 15
    replays = _REPLAYS_PER_ROUND // 2 if quick else _REPLAYS_PER_ROUND
    _bare_loop(frames, 20)

    def between() -> dict[str, float]:
        start = time.perf_counter()
        _bare_loop(frames, replays)
        bare = time.perf_counter() - start
        start = time.perf_counter()
        _decode_only(frames, replays)
        return {"bare": bare, "decode": time.perf_counter() - start}

    ours_s, others, check = trio.run(_ours_rounds, frames, tokens, replays, rounds, between)
    updates = updates_per_replay * replays
    ours_rate = [updates / s for s in ours_s]
    bare_rate = [updates / o["bare"] for o in others]
    decode_rate = [updates / o["decode"] for o in others]
    ratios = [o / b for o, b in zip(ours_rate, bare_rate, strict=True)]
    ratio = spread(ratios, 3)
    frames_per_s = [len(frames) * replays / s for s in ours_s]
    return {
        "benchmark": "market data: parse + typed events + book update per level update",
        "fixture": FIXTURE.name,
        "frames_per_replay": len(frames),
        "level_updates_per_replay": updates_per_replay,
        "rounds": rounds,
        "replays_per_round": replays,
        "ours_updates_per_s": spread(ours_rate, 0),
        "bare_updates_per_s": spread(bare_rate, 0),
        "decode_only_updates_per_s": spread(decode_rate, 0),
        "ours_frames_per_s": spread(frames_per_s, 0),
        "ratio_vs_bare": ratio,
        "check": check,
        "target_ratio_min": TARGET_RATIO,
        "meets_target": ratio["median"] is not None and ratio["median"] >= TARGET_RATIO,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args(argv)
    print(json.dumps(run(quick=args.quick), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
