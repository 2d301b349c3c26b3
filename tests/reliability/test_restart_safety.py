"""`kill -9` at random points, then restart (startup cancel-all on and off, alternating): the venue never
holds more than the ladder, never two orders for one level, and no fill is lost or counted twice.

Real processes on loopback: `python -m bot sim` and `python -m bot run` in live mode pointed at it. After
every kill the venue is read over REST with the bot's own key. The journal (one file, appended by every
life) says which level each resting order was placed for and which fills each life counted. A last life
starts by seeding from the venue, trades a few seconds and is stopped with a real SIGTERM: its fills must
be exactly the venue's, and it must leave nothing open.

Profiles: CI (default) makes 12 short lives; `HYPOTHESIS_PROFILE=nightly` makes 100 longer ones.
"""

from __future__ import annotations

import os
import random
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import trio

from bot.exit_codes import EXIT_SIGNAL
from tests.reliability.processes import BotProcess, Venue, bot_env, pick_window_s, read_journal, running_sim

pytestmark = pytest.mark.slow

PRIVATE_KEY = "0x" + "8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63"
SEED = 20_260_8
LADDER_LEVELS = 3
# (kills, life bounds in seconds) per profile: the CI run stays well under two minutes.
_PROFILES = {"ci": (12, (0.4, 2.2)), "nightly": (100, (0.4, 8.0))}
_FINAL_LIFE_S = 5.0


def _profile() -> tuple[int, tuple[float, float]]:
    return _PROFILES.get(os.environ.get("HYPOTHESIS_PROFILE", "ci"), _PROFILES["ci"])


def _levels(records: list[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    """order id -> (token, level), as the latest life that knew the order recorded it."""
    levels: dict[str, tuple[str, int]] = {}
    for record in records:
        if record.get("kind") == "transition" and record.get("level") is not None:
            levels[record["order_id"]] = (record["token_id"], record["level"])
        elif record.get("kind") == "seeded":
            for token, ids in (record.get("orders") or {}).items():
                for level, oid in enumerate(ids):
                    levels[oid] = (token, level)
    return levels


def _lives(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The journal cut at each `market_start` (one market per process here: one segment per life)."""
    lives: list[list[dict[str, Any]]] = []
    for record in records:
        if record.get("kind") == "market_start":
            lives.append([])
        if lives:
            lives[-1].append(record)
    return lives


def _double_counts(life: list[dict[str, Any]]) -> list[tuple[str, str]]:
    seen = Counter((r["trade_id"], r["order_id"], r.get("status") == "FAILED") for r in life if r["kind"] == "fill")
    return [(t, o) for (t, o, _), n in seen.items() if n > 1]


def _counted(life: list[dict[str, Any]]) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for record in life:
        if record["kind"] != "fill":
            continue
        key = (record["trade_id"], record["order_id"])
        if record.get("status") == "FAILED":
            keys.discard(key)
        else:
            keys.add(key)
    return keys


def _venue_fill_keys(trades: list[Any], owner: str) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for trade in trades:
        if trade.status.value == "FAILED":
            continue
        if trade.trader_side is not None and trade.trader_side.value == "TAKER" and trade.owner == owner:
            keys.add((trade.id, trade.taker_order_id))
        keys.update((trade.id, leg.order_id) for leg in trade.maker_orders if leg.owner == owner)
    return keys


async def _check_venue(venue: Venue, market: str, journal: Path, life: int, resting: list[int]) -> list[str]:
    problems: list[str] = []
    orders = await venue.open_orders(market)
    resting.append(len(orders))
    records, _ = read_journal(journal)
    levels = _levels(records)
    per_token = Counter(o.asset_id for o in orders)
    for token, count in per_token.items():
        if count > LADDER_LEVELS:
            problems.append(f"after kill {life}: {count} orders rest on token {token[:8]} (ladder {LADDER_LEVELS})")
    placed = Counter(levels[o.id] for o in orders if o.id in levels)
    problems.extend(f"after kill {life}: two orders rest for level {key}" for key, n in placed.items() if n > 1)
    return problems


async def test_kill_9_at_random_points_never_overfills_the_ladder_nor_loses_or_doubles_a_fill(tmp_path: Path) -> None:
    kills, (life_min_s, life_max_s) = _profile()
    rng = random.Random(SEED)
    journal = tmp_path / "journal.jsonl"
    problems: list[str] = []
    resting: list[int] = []  # our orders on the venue after each kill
    async with running_sim(window_s=pick_window_s(), seed=SEED, stderr=tmp_path / "sim.err") as sim:
        market = sim.current_market()
        cid = market["condition_id"]
        venue = Venue(sim, PRIVATE_KEY)

        def env(startup_cancel_all: bool) -> dict[str, str]:
            return bot_env(sim, private_key=PRIVATE_KEY, market=cid, journal=journal,
                           startup_cancel_all=startup_cancel_all, ladder_levels=LADDER_LEVELS,
                           size_per_level_shares=5, log_level="WARNING")

        for life in range(kills):
            bot = await BotProcess.start(env(life % 2 == 0), tmp_path, f"life{life}")
            await trio.sleep(rng.uniform(life_min_s, life_max_s))
            await bot.kill9()
            problems.extend(await _check_venue(venue, cid, journal, life, resting))

        final = await BotProcess.start(env(False), tmp_path, "final")
        await trio.sleep(_FINAL_LIFE_S)
        code = await final.interrupt(signal.SIGTERM)
        left = await venue.open_orders(cid)
        trades = await venue.trades(cid)
        assert venue.creds is not None
        owner = venue.creds.api_key

    records, broken = read_journal(journal)
    lives = _lives(records)
    for index, life_records in enumerate(lives):
        doubled = _double_counts(life_records)
        if doubled:
            problems.append(f"life {index} counted {len(doubled)} fill(s) twice, e.g. {doubled[0]}")
    assert code == EXIT_SIGNAL, final.output()[-2000:]
    assert "Traceback" not in final.output(), final.output()[-2000:]
    assert left == [], f"{len(left)} orders left after the final SIGTERM"
    assert lives, "no life reached its market"
    venue_keys = _venue_fill_keys(trades, owner)
    final_keys = _counted(lives[-1])
    missing, extra = venue_keys - final_keys, final_keys - venue_keys
    if missing or extra:
        problems.append(f"the seeded last life missed {len(missing)} and invented {len(extra)} of "
                        f"{len(venue_keys)} venue fills")
    seeded = sum(1 for life_records in lives if any(r["kind"] == "seeded" for r in life_records))
    print(f"{kills} kills, {len(lives)} lives reached the market ({seeded} seeded), {len(venue_keys)} venue fills, "
          f"{len(final_keys)} counted by the last life, {broken} cut journal line(s), orders resting after the kills: {resting}")
    assert problems == [], "\n".join(problems)
    assert broken <= kills  # at most the line being written when a life was killed
