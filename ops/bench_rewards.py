"""Rewards-aware vs plain pair ladder on the same simulated flow and seed (issue 18).

    .venv/bin/python ops/bench_rewards.py --markets 12 --seed 7

Runs the paper bot twice on the embedded simulator (Trio's fake clock, in-process), once with
`rewards_mode=off` and once with `rewards_mode=on`, over the same series, seed and flow parameters, and
reports per market and in total: spread P&L at resolution (before fees), fees paid, maker rebates and
liquidity rewards as the simulator accrued them (its own ledger: what the venue would pay, before the
$1 payout floor), and the total. The flow reacts to our orders (takers meet ours instead of the flow's),
so the two runs share the seed and the flow's parameters, not every order.

Both runs start paper time at the same fixed instant (not the wall clock's next window), so they trade
the same markets with the same flow seeds. Sources of run-to-run difference removed: the process runs
with `PYTHONHASHSEED=0` (it re-executes itself with it: the order in which sets of ids are walked decides
which of two simultaneous wake-ups goes first), Trio's tie-breaks are seeded before each run
(`bot.replay.backtest.seed_everything`), and a paper run's account key, order stamps and salts come from
the paper seed and paper time (`bot.main_job.paper_key`). Reruns still differ by a few pUSD per 12
markets (two runs each: seed 1 plain −38.49 / −36.44, rewards-aware 0.12 / 2.58; seed 7 plain
−55.37 / −54.21, rewards-aware −36.12 / −35.85): Trio orders deadlines that fall in the same instant by
object id, which no seed fixes. Compare modes on differences larger than that. Only markets that ran to
their end in both modes are compared.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
from typing import Any

import trio
import trio.testing
from bench_common import ensure_repo_on_path

ensure_repo_on_path()

import bot.main_job as main_job  # noqa: E402
import bot.sim.venue as sim_venue  # noqa: E402
from bot.main_job import run_bot  # noqa: E402
from bot.replay.backtest import seed_everything  # noqa: E402
from bot.sim.model import MarketData  # noqa: E402
from settings import BotSettings  # noqa: E402

UNIT = 1_000_000
_PAPER_START_S = 1_800_000_000  # paper time's first instant in both runs (rounded up to a window)


async def _run(mode: str, *, seed: int, markets: int, window_s: float,
               journal: str | None = None, overrides: dict[str, str] | None = None) -> list[dict[str, Any]]:
    seen: dict[str, Any] = {"winners": {}}
    original = sim_venue.SimVenue.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        seen["venue"] = self

        def on_event(event: Any) -> None:
            if isinstance(event, MarketData) and event.payload.get("event_type") == "market_resolved":
                seen["winners"][event.condition_id] = event.payload["winning_asset_id"]

        self.exchange.subscribe(on_event)

    sim_venue.SimVenue.__init__ = init  # type: ignore[method-assign]
    wall_epoch = main_job._paper_epoch_s
    main_job._paper_epoch_s = lambda w: math.ceil(_PAPER_START_S / w) * w - trio.current_time()
    try:
        settings = BotSettings(mode="paper", paper_window_s=window_s, quote_cutoff_s=30, paper_seed=seed,
                               rewards_mode=mode, journal_path=f"{journal}.{mode}.jsonl" if journal else None,
                               **(overrides or {}))
        _reason, summary = await run_bot(settings, duration_s=window_s * (markets + 1.5), inprocess=True,
                                         show_status=False)
    finally:
        sim_venue.SimVenue.__init__ = original  # type: ignore[method-assign]
        main_job._paper_epoch_s = wall_epoch
    exchange = seen["venue"].exchange
    [address] = [a for key, a in exchange._api_keys.items() if not key.startswith("flow-")]
    rows = []
    for m in summary["markets"]:
        cid = m["condition_id"]
        winner = seen["winners"].get(cid)
        if m["exit_reason"] != "market_end" or winner is None:
            continue
        spec = exchange.market_by_condition(cid)
        up_won = winner == spec.yes_token_id
        value = m["up_shares"] * (1.0 if up_won else 0.0) + m["down_shares"] * (0.0 if up_won else 1.0)
        fees = m["fees_paid_pusd"]
        spread = value - m["inventory_cost_pusd"] + m["realised_pnl_pusd"] + fees
        rebates = float(exchange.incentives.rebate_units(address, cid)) / UNIT
        rewards = float(exchange.incentives.earnings_units(address, cid)) / UNIT
        rows.append({
            "market": m["market"], "fills": m["fills"], "spread": spread, "fees": fees, "rebates": rebates,
            "rewards": rewards, "rewards_estimated": m["rewards_estimated_pusd"],
            "total": spread - fees + rebates + rewards,
            # Up minus Down shares held at resolution (+: Up ahead) and whether that excess was on the
            # winner: the unpaired part is what moves the spread column by whole dollars per share.
            "unpaired": m["up_shares"] - m["down_shares"],
            "unpaired_won": (m["up_shares"] > m["down_shares"]) == up_won,
            "completions": f"{m['completions_filled']}/{m['completions_sent']}",
        })
    return rows


def _totals(rows: list[dict[str, Any]]) -> dict[str, float]:
    keys = ("spread", "fees", "rebates", "rewards", "rewards_estimated", "total")
    return {k: round(sum(r[k] for r in rows), 4) for k in keys} | {
        "markets": len(rows), "unpaired_abs": round(sum(abs(r["unpaired"]) for r in rows), 2)}


def main(argv: list[str] | None = None) -> int:
    if argv is None and os.environ.get("PYTHONHASHSEED") != "0":
        # Hash randomisation is fixed at start-up: only a fresh interpreter can pin it.
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markets", type=int, default=12, help="markets compared (at least 10 for the issue)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--window-s", type=float, default=150.0, help="paper window (a compressed 15 minutes)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    parser.add_argument("--journal", help="write each run's journal to JOURNAL.<mode>.jsonl (debugging)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for both runs (repeatable), e.g. --set max_unpaired_shares=40")
    parser.add_argument("--modes", default="off,on", help="modes to run (debugging: one of them alone)")
    args = parser.parse_args(argv)
    runs = {}
    for mode in args.modes.split(","):
        seed_everything(args.seed)  # Trio's tie-breaks and the order salts (see the docstring)
        runs[mode] = trio.run(functools.partial(_run, mode, seed=args.seed, markets=args.markets,
                                                window_s=args.window_s, journal=args.journal,
                                                overrides=dict(kv.split("=", 1) for kv in args.set)),
                              clock=trio.testing.MockClock(autojump_threshold=0))
    names = [{r["market"] for r in rows} for rows in runs.values()]
    first = next(iter(runs.values()))
    both = [r["market"] for r in first if all(r["market"] in n for n in names)][:args.markets]
    results = {}
    for mode, rows in runs.items():
        rows = [r for r in rows if r["market"] in both]
        results[mode] = {"rows": rows, "totals": _totals(rows)}
    if args.json:
        print(json.dumps(results))
        return 0
    for mode, label in (("off", "plain"), ("on", "rewards-aware")):
        if mode not in results:
            continue
        print(f"== {label} (rewards_mode={mode}) ==")
        print(f"{'market':32} {'fills':>5} {'spread':>9} {'fees':>7} {'rebates':>8} {'rewards':>8} {'total':>9} "
              f"{'unpaired':>9} {'compl':>6}")
        for r in results[mode]["rows"]:
            won = "" if not r["unpaired"] else (" won" if r["unpaired_won"] else " lost")
            print(f"{r['market']:32} {r['fills']:>5} {r['spread']:>9.3f} {r['fees']:>7.3f} {r['rebates']:>8.3f} "
                  f"{r['rewards']:>8.3f} {r['total']:>9.3f} {r['unpaired']:>+9.2f} {r['completions']:>6}{won}")
        print("totals:", json.dumps(results[mode]["totals"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
