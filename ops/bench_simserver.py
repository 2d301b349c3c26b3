"""The benchmarks' venue: the simulator on loopback in its own process, driven by commands on stdin.

Usage (by the benchmark helpers, not by hand): `python ops/bench_simserver.py --child --markets N ...`.

Why a process of its own: in production the venue is remote, so the bot's event loop carries only the
bot. Sharing a loop with the simulator (its matching, signature checks and WebSocket fan-out) would
charge the venue's work to the bot's latency and loop lag.

Protocol: once listening it prints ONE JSON line `{"urls": {...}, "markets": [...]}`; then each stdin line
is a command answered by one stdout line:
- `toggle I`: on market I, a trader keeps a BUY at `ANCHOR_BID` on both tokens and moves a second BUY on
  the Down token between `TOGGLE_DOWN_BIDS` (replacement and cancel go out as one `price_change` frame).
  With `--flow quiet` the makers sit 10 ticks from a fixed fair value (bids 0.40, asks 0.60), so the
  trader's bids are the best bids and never cross. Answers `ok X` (X the Down bid now). What this does to
  the bot's ladder depends on its settings; `bench_latency` explains the reprice it causes.
- `stamps`: (with `--stamps`) the venue's own stamps since the last `stamps` command as one JSON line
  `{"frames": [[t, is_price_change], ...], "requests": [[t, method, path], ...], "dropped": n}`, monotonic
  seconds of this process: each market frame once written, each REST request at its first bytes read
  (`bot/sim/bench_stamps.py`).
- `quit` (or end of stdin): stop.

Per-signer rate limits run in warning mode (`--signer-limits warn`, the venue's own mode since 2026-07-24,
spec 7(b)): a Standard-tier signer's 40 orders/s would otherwise throttle the reprice loop and the 100-market
start-up, which measure the bot, not the venue's quota. The process lowers its own priority (`--nice`,
default 10): the venue it stands for runs on someone else's CPU, so where the two compete the bot should win.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import os
import sys
import time
from typing import Any, Final

import orjson
import trio
from bench_common import LineReader, ensure_repo_on_path

__all__ = [
    "ANCHOR_BID",
    "BALANCE_PUSD",
    "QUIET_HALF_SPREAD_TICKS",
    "TOGGLE_DOWN_BIDS",
    "bench_flow",
    "bench_market_spec",
    "main",
]

# The makers quote this many ticks from a fixed fair value of 0.5 (bids ≤ 0.40, asks ≥ 0.60 on both tokens).
QUIET_HALF_SPREAD_TICKS: Final = 10
# The trader's resting bid on both tokens: above the makers' bids, so it is the best bid of each token.
ANCHOR_BID: Final = 0.45
# The trader's second Down bid alternates between these (the first is the higher: the first toggle raises
# the Down bid). Both stay below the Down asks (1 - 0.45 = 0.55): nothing ever trades.
TOGGLE_DOWN_BIDS: Final = (0.53, 0.45)
_TRADER_SIZE_SHARES: Final = 10.0
_TRADER_PUSD: Final = 1_000_000.0
BALANCE_PUSD: Final = 10_000_000.0  # every key the bot derives is funded with this (100 markets' ladders)


def bench_market_spec(index: int, seed: int, start_s: float, end_s: float) -> Any:
    """Market `index` of the benchmarks: ids derived from (seed, index), the window given."""
    from bot.sim.model import MarketSpec

    def digest(*parts: object) -> bytes:
        return hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()

    condition_id = "0x" + digest("bench", seed, index).hex()
    return MarketSpec(
        condition_id=condition_id,
        question=f"Bench market {index}",
        slug=f"bench-updown-{index}-{int(start_s)}",
        yes_token_id=str(int.from_bytes(digest(condition_id, "Up"), "big")),
        no_token_id=str(int.from_bytes(digest(condition_id, "Down"), "big")),
        start_ts=start_s,
        end_ts=end_s,
    )


def bench_flow(kind: str) -> Any:
    """`FlowParams` for "active" (the default synthetic flow) or "quiet" (see below)."""
    from bot.sim.flow import FlowParams

    if kind == "active":
        return FlowParams()
    # No takers (a vanishing rate: zero makes the flow divide by it), a fair value that never moves, a wide
    # book: nothing happens unless a command acts, so every book change is the benchmark's.
    return FlowParams(
        taker_rate_per_s=1e-9, fair_logit_sd_per_window=0.0, maker_half_spread_ticks=QUIET_HALF_SPREAD_TICKS
    )


class _Toggler:
    """A funded trader: anchor bids on both tokens of a market, and a Down bid it moves on command."""

    def __init__(self, exchange: Any) -> None:
        from bot.sim.wire import UNIT

        self._exchange = exchange
        self._api_key = "bench-trader"
        self._address = "0x" + hashlib.sha256(b"bench-trader").hexdigest()[:40]
        exchange.register_api_key(self._api_key, self._address)
        exchange.fund(self._address, pusd_units=int(_TRADER_PUSD * UNIT))
        self._resting: dict[str, str] = {}  # market → the moving Down bid
        self._state: dict[str, int] = {}
        self._serial = 0

    def toggle(self, spec: Any) -> float:
        from bot.sim.flow import build_order

        market = spec.condition_id
        state = 1 - self._state.get(market, 1)
        self._state[market] = state
        price = TOGGLE_DOWN_BIDS[state]
        with self._exchange.batch():  # one price_change frame for the whole move
            if market not in self._resting:  # first move: the anchors on both tokens
                for token in (spec.yes_token_id, spec.no_token_id):
                    self._place(build_order, token, ANCHOR_BID)
            else:
                self._exchange.cancel(self._api_key, [self._resting[market]])
            self._resting[market] = self._place(build_order, spec.no_token_id, price)
        return price

    def _place(self, build_order: Any, token_id: str, price: float) -> str:
        self._serial += 1
        order_id = "0x" + hashlib.sha256(f"bench-trader:{self._serial}".encode()).hexdigest()
        self._exchange.place(
            build_order(order_id=order_id, owner=self._api_key, address=self._address, token_id=token_id,
                        side="BUY", price=f"{price:.2f}", size=f"{_TRADER_SIZE_SHARES:.2f}")
        )
        return order_id


async def _serve(args: argparse.Namespace) -> None:
    from bot.sim.model import SimConfig
    from bot.sim.ratelimit import SignerLimitMode, VenueRateLimitConfig
    from bot.sim.rest_app import RestConfig
    from bot.sim.server import serve_loopback
    from bot.sim.venue import SimVenue

    now = time.time()
    # Whole seconds, as the venue's windows are: a fractional cutoff would make the bot's GTD rule (no order
    # in the last second before a GTD's expiry) pull the quotes up to a second before the cutoff.
    specs = [
        bench_market_spec(i, args.seed, math.floor(now - args.start_ago_s),
                          math.ceil(now + args.end_in_s + i * args.end_step_s))
        for i in range(args.markets)
    ]
    venue = SimVenue(
        clock_epoch_s=now - trio.current_time(),
        config=SimConfig(paper_balance_pusd=BALANCE_PUSD),
        markets=specs,
        seed=args.seed,
        flow=bench_flow(args.flow),
    )
    toggler = _Toggler(venue.exchange)
    stamps = None
    if args.stamps:
        from bot.sim.bench_stamps import VenueStamps, install_venue_stamps

        stamps = VenueStamps()
        install_venue_stamps(stamps)
    rest_config = RestConfig(rate_limits=VenueRateLimitConfig(signer_mode=SignerLimitMode(args.signer_limits)))
    out = sys.stdout
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            lambda task_status: serve_loopback(venue, seed=args.seed, rest_config=rest_config, task_status=task_status)
        )
        if stamps is not None:
            server.fronts.hub.on_frame_written = stamps.frame_written
        markets = [
            {
                "condition_id": s.condition_id,
                "slug": s.slug,
                "up": s.yes_token_id,
                "down": s.no_token_id,
                "start_s": s.start_ts,
                "end_s": s.end_ts,
                "tick_size": s.tick_size,
                "min_order_size": s.min_order_size,
                "fee_rate": s.fee_rate,
                "fee_exponent": s.fee_exponent,
            }
            for s in specs
        ]
        out.write(orjson.dumps({"urls": server.urls.as_dict(), "markets": markets, "pid": os.getpid()}).decode() + "\n")
        out.flush()
        stdin = LineReader(trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())))
        while True:
            try:
                line = (await stdin.readline()).strip()
            except EOFError:
                break
            command, _, arg = line.partition(" ")
            if command == "toggle":
                price = toggler.toggle(specs[int(arg)])
                out.write(f"ok {price}\n")
            elif command == "stamps" and stamps is not None:
                out.write(orjson.dumps(stamps.take()).decode() + "\n")
            elif command == "quit":
                break
            else:
                out.write(f"error unknown command {command!r}\n")
            out.flush()
        server.shutdown()
        nursery.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help="(always set by the callers)")
    parser.add_argument("--markets", type=int, default=1)
    parser.add_argument("--flow", choices=("quiet", "active"), default="quiet")
    parser.add_argument("--start-ago-s", type=float, default=5.0, help="the windows opened this long ago")
    parser.add_argument("--end-in-s", type=float, default=3600.0, help="market 0 ends this long from now")
    parser.add_argument("--end-step-s", type=float, default=0.0, help="market i ends i x this later than market 0")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stamps", action="store_true", help="stamp frames written and requests read")
    parser.add_argument("--nice", type=int, default=10, help="lower this process's priority by this much")
    parser.add_argument("--signer-limits", choices=("off", "warn", "enforce"), default="warn")
    args = parser.parse_args(argv)
    ensure_repo_on_path()
    if args.nice > 0:
        os.nice(args.nice)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    trio.run(_serve, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
