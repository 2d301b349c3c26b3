"""Benchmark: from the quote cutoff (end − quote_cutoff_s) to the market's cancel-all sent and acknowledged.

Usage: `.venv/bin/python ops/bench_cutoff.py [--quick]` (prints JSON; the work runs in a child process).

Two settings, each with 10 live orders (2 tokens x 5 levels) at the cutoff:
- sent, on the fake clock: the real bot against the in-process simulator on `trio.testing.MockClock`. The
  cutoff is a cancel-scope deadline, so the DELETE /cancel-market-orders must leave in the same virtual
  instant: recorded as (virtual time the request reached the transport) − (cutoff), expected exactly 0.
  Also checked: no order POST at or after the cutoff.
- acknowledged, on loopback: the simulator in its own process, the bot on the wall clock, several markets
  whose cutoffs come a few seconds apart (one sample each). From the cutoff instant to the cancel-all's
  answer (acknowledged) and to the answer of the verifying open-orders query (verified empty). "Sent" is
  recorded here too: on a real clock it is the scheduler's wake-up lateness plus the quoting tasks'
  unwinding.
Target: sent in the same instant; acknowledged ≤ 50 ms for 10 orders.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Final

from bench_common import run_child, spread

__all__ = ["TARGET_ACK_MS", "run"]

TARGET_ACK_MS: Final = 50.0
_LADDER_ORDERS: Final = 10
_QUOTE_CUTOFF_S: Final = 60.0
_MS: Final = 1e3
# Fake clock: the market window and where "now" starts in it (the cutoff 10 virtual seconds later).
_FAKE_EPOCH_S: Final = 1_800_000_000 - 1_800_000_000 % 900
_FAKE_WINDOW_S: Final = 300.0
_FAKE_NOW_IN_WINDOW_S: Final = 230.0
# Loopback: the first cutoff comes this long after the simulator starts (the bot must be quoting by then;
# its start takes a second or two on a loaded machine), the others this far apart (each cancel-all and its
# verification finish well within it).
_LOOPBACK_LEAD_S: Final = 5.0
_LOOPBACK_STEP_S: Final = 2.0
_WAIT_MARGIN_S: Final = 20.0


def _cutoff_samples(bot: Any, clock: Any, orders_at_cancel: dict[str, int]) -> list[dict[str, Any]]:
    """Per market: when the cancel-all left, was answered, and the verification answered (trio time)."""
    records = bot.transport.records
    samples = []
    for runner in bot.runners:
        market = runner.info.condition_id
        cutoff_t = clock.to_trio(runner.cutoff_s)
        cancel = next(
            (r for r in records if r.path == "/cancel-market-orders" and r.market == market and r.t_start >= cutoff_t),
            None,
        )
        if cancel is None or cancel.t_end is None:
            continue
        verify = next(
            (r for r in records if r.path == "/data/orders" and r.market == market and r.t_start >= cancel.t_end),
            None,
        )
        posts_after = sum(1 for r in records if r.method == "POST" and r.path in ("/order", "/orders")
                          and r.t_start >= cutoff_t)
        engine = next((run for run in runner.stats.cancel_all_runs if run[0] == "cutoff"), None)
        samples.append(
            {
                "sent_s": cancel.t_start - cutoff_t,
                "ack_s": cancel.t_end - cutoff_t,
                "verified_s": None if verify is None or verify.t_end is None else verify.t_end - cutoff_t,
                "engine_verified": None if engine is None else engine[2],
                "orders_at_cutoff": orders_at_cancel.get(market),
                "posts_at_or_after_cutoff": posts_after,
            }
        )
    return samples


def _count_orders_at_cancel(bot: Any) -> dict[str, int]:
    """Market → how many orders it had open as its cutoff cancel-all left (filled in as they leave)."""
    from statemachines.market import MarketState

    counts: dict[str, int] = {}

    def hook(record: Any) -> None:
        if record.path == "/cancel-market-orders" and record.market not in counts:
            runner = next((r for r in bot.runners if r.info.condition_id == record.market), None)
            if runner is not None and runner.machine.state is MarketState.CUTOFF:
                counts[record.market] = len(runner.manager.open_orders())  # all `cancelling` by now

    bot.transport.on_request.append(hook)
    return counts


async def _run_until_cutoffs(bot: Any, markets: int, timeout_s: float) -> None:
    from bench_loopback import wait_until

    # No wait for full ladders first: on a slow machine a market may reach its cutoff before its ladder is
    # complete, which `orders_at_cutoff` then shows.
    await wait_until(lambda: len(bot.runners) == markets, timeout_s=timeout_s, what="every market's runner")
    await wait_until(
        lambda: all(any(run[0] == "cutoff" for run in r.stats.cancel_all_runs) for r in bot.runners),
        timeout_s=timeout_s, what="every market's cutoff cancel-all",
    )


async def _fake_clock(seed: int) -> list[dict[str, Any]]:
    import trio
    from bench_loopback import bench_settings, start_bot
    from bench_simserver import BALANCE_PUSD, bench_flow, bench_market_spec

    from bot.engine.clock import VenueClock
    from bot.engine.markets import MarketInfo
    from bot.sim.model import SimConfig
    from bot.sim.server import open_inprocess_sim
    from bot.sim.venue import SimVenue
    from statemachines.market import ExitReason

    epoch = _FAKE_EPOCH_S + _FAKE_NOW_IN_WINDOW_S - trio.current_time()
    spec = bench_market_spec(0, seed, _FAKE_EPOCH_S, _FAKE_EPOCH_S + _FAKE_WINDOW_S)
    venue = SimVenue(clock_epoch_s=epoch, config=SimConfig(paper_balance_pusd=BALANCE_PUSD), markets=[spec],
                     seed=seed, flow=bench_flow("quiet"))
    info = MarketInfo(spec.condition_id, spec.slug, spec.yes_token_id, spec.no_token_id, spec.start_ts,
                      spec.end_ts, tick_size=spec.tick_size, min_order_size_shares=spec.min_order_size,
                      fee_rate=spec.fee_rate, fee_exponent=spec.fee_exponent)
    clock = VenueClock(epoch)
    settings = bench_settings(stale_book_s=600.0, quote_cutoff_s=_QUOTE_CUTOFF_S)
    async with open_inprocess_sim(venue, seed=seed) as sim, trio.open_nursery() as nursery:
        urls = {"rest": sim.rest_url, "ws_market": sim.ws_market_url, "ws_user": sim.ws_user_url}
        bot = await start_bot(nursery, [info], urls, settings, inner_transport=sim.transport,
                              ws_connector=sim.connector, clock=clock)
        counts = _count_orders_at_cancel(bot)
        await _run_until_cutoffs(bot, 1, _FAKE_WINDOW_S)
        samples = _cutoff_samples(bot, clock, counts)
        bot.supervisor.stop(ExitReason.OPERATOR, "benchmark done")
        await bot.done.wait()
    return samples


async def _loopback(markets: int) -> list[dict[str, Any]]:
    import trio
    from bench_loopback import bench_settings, market_infos, open_sim_process, start_bot

    from bot.engine.clock import VenueClock
    from statemachines.market import ExitReason

    end_in_s = _QUOTE_CUTOFF_S + _LOOPBACK_LEAD_S
    args = ["--markets", str(markets), "--flow", "quiet", "--end-in-s", str(end_in_s),
            "--end-step-s", str(_LOOPBACK_STEP_S)]
    async with open_sim_process(args) as sim, trio.open_nursery() as nursery:
        clock = VenueClock()
        settings = bench_settings(stale_book_s=600.0, quote_cutoff_s=_QUOTE_CUTOFF_S)
        bot = await start_bot(nursery, market_infos(sim.ready), sim.ready["urls"], settings, clock=clock)
        counts = _count_orders_at_cancel(bot)
        await _run_until_cutoffs(bot, markets, _LOOPBACK_LEAD_S + markets * _LOOPBACK_STEP_S + _WAIT_MARGIN_S)
        samples = _cutoff_samples(bot, clock, counts)
        bot.supervisor.stop(ExitReason.OPERATOR, "benchmark done")
        with trio.move_on_after(_WAIT_MARGIN_S):
            await bot.done.wait()
    return samples


def _child(fake_runs: int, loopback_markets: int) -> dict[str, Any]:
    import logging

    import trio
    import trio.testing

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    fake: list[dict[str, Any]] = []
    for seed in range(fake_runs):
        fake.extend(trio.run(_fake_clock, seed, clock=trio.testing.MockClock(autojump_threshold=0)))
    loopback = trio.run(_loopback, loopback_markets)
    return {"fake_clock": fake, "loopback": loopback}


def _ms(samples: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return spread([s[key] * _MS for s in samples if s.get(key) is not None], 3)


def run(quick: bool = False) -> dict[str, Any]:
    """Measure in a child process; return sent (fake clock) and ack/verified (loopback) with the verdict."""
    fake_runs, loopback_markets = (1, 2) if quick else (3, 5)
    raw = run_child("bench_cutoff.py", ["--fake-runs", str(fake_runs), "--markets", str(loopback_markets)],
                    timeout_s=180 if quick else 400)
    fake, loopback = raw["fake_clock"], raw["loopback"]
    fake_sent = [s["sent_s"] for s in fake]
    ack = _ms(loopback, "ack_s")
    orders = [s["orders_at_cutoff"] for s in fake + loopback]
    sent_same_instant = bool(fake_sent) and all(s == 0.0 for s in fake_sent)
    return {
        "benchmark": "cutoff -> market cancel-all sent (fake clock) / acknowledged and verified (loopback)",
        "orders_at_cutoff": orders,
        "fake_clock_sent_s": fake_sent,
        "fake_clock_posts_at_or_after_cutoff": sum(s["posts_at_or_after_cutoff"] for s in fake),
        "sent_same_instant": sent_same_instant,
        "loopback_sent_ms": _ms(loopback, "sent_s"),
        "loopback_ack_ms": ack,
        "loopback_verified_ms": _ms(loopback, "verified_s"),
        "loopback_posts_at_or_after_cutoff": sum(s["posts_at_or_after_cutoff"] for s in loopback),
        "all_verified": all(s["engine_verified"] for s in fake + loopback) and bool(fake + loopback),
        "samples": raw,
        "targets": {"sent_delay_s": 0.0, "ack_ms_max": TARGET_ACK_MS, "orders": _LADDER_ORDERS},
        "meets_target": sent_same_instant
        and ack["median"] is not None
        and ack["median"] <= TARGET_ACK_MS
        and all(n == _LADDER_ORDERS for n in orders),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument("--child", action="store_true", help="(internal) measure in this process")
    parser.add_argument("--fake-runs", type=int, default=3, help="(with --child) fake-clock runs")
    parser.add_argument("--markets", type=int, default=5, help="(with --child) loopback markets (samples)")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.fake_runs, args.markets)))
        return 0
    print(json.dumps(run(quick=args.quick), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
