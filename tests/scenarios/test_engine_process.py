"""End to end, as separate processes on loopback: `python -m bot sim` serves the venue, `python -m bot run`
trades it in LIVE mode (real clients, real sockets, wall clock), and the venue is checked over REST with
our own credentials afterwards.

- a whole life: quotes, a fill, a completed pair, no quote after the cutoff, zero orders after the exit;
- SIGTERM mid-window: exit code 130 and zero orders;
- `kill -9` mid-window: nothing cancels, but the venue's heartbeat switch clears our orders within ~15 s.

One simulator serves the module (each test uses its own private key). The simulator's windows are 100 s
on the wall clock; each test picks the window with time left and sets `BOT_QUOTE_CUTOFF_S` so the
cutoff comes within the test.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from bot.protocol.rest import ClobRestClient
from bot.protocol.signing import OrderSigner, Side
from tests.reliability.processes import spawned_sim

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WINDOW_S = 100
# Every wait below is bounded; these bounds only keep a broken run from hanging CI.
_SIM_READY_S = 30.0
_BOT_EXIT_S = 30.0
# The venue cancels a key's orders `HEARTBEAT_TIMEOUT_S` after its last beat, checked every 5 s (spec 1.4).
_HEARTBEAT_CLEAR_S = 10.0 + 5.0 + 1.0


@pytest.fixture(scope="module")
def sim() -> Iterator[dict[str, Any]]:
    """`python -m bot sim --window-s 100`: its JSON line (URLs), for the whole module."""
    with spawned_sim(window_s=WINDOW_S, seed=11) as line:
        yield line


def _pick_market(sim: dict[str, Any], min_left_s: float) -> dict[str, Any]:
    """The listed market with at least `min_left_s` to run, soonest first (now the current or the next one)."""
    listed = httpx.get(f"{sim['admin']}/markets", timeout=5.0).json()
    now = time.time()
    candidates = [m for m in listed if m["end_ts"] - now >= min_left_s and m["accepting_orders"]]
    return min(candidates, key=lambda m: m["end_ts"])


def _bot_env(sim: dict[str, Any], key: str, market: dict[str, Any], tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(
        PYTHONPATH=str(REPO),
        BOT_MODE="live",
        BOT_CLOB_URL=sim["rest"],
        BOT_WS_MARKET_URL=sim["ws_market"],
        BOT_WS_USER_URL=sim["ws_user"],
        BOT_GAMMA_URL=sim["gamma"],
        BOT_PRIVATE_KEY=key,
        BOT_MARKET=market["condition_id"],
        # The next window's runner may start at once (its orders are accepted two windows ahead).
        BOT_ROLLOVER_LEAD_S=str(WINDOW_S),
        BOT_JOURNAL_PATH=str(tmp / "journal.jsonl"),
        **extra,
    )
    return env


@asynccontextmanager
async def _bot(env: dict[str, str], tmp: Path, *args: str):
    out = (tmp / "bot.out").open("wb")
    err = (tmp / "bot.err").open("wb")
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "bot", "run", *args], env=env, cwd=tmp, stdout=out, stderr=err,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            with trio.move_on_after(5, shield=True):
                await proc.wait()
        out.close()
        err.close()


@asynccontextmanager
async def _client(sim: dict[str, Any], key: str):
    """A REST client on the simulator with the API key of `key` (derived, as the bot derives it)."""
    signer = OrderSigner(key)
    async with ClobRestClient(sim["rest"], address=signer.address, creds=None) as rest:
        with trio.fail_after(10):
            rest.use_creds(await rest.create_or_derive_api_key(signer))
        yield rest, signer


async def _open_orders(sim: dict[str, Any], key: str, condition_id: str) -> list[Any]:
    async with _client(sim, key) as (rest, _):
        with trio.fail_after(10):
            return await rest.get_open_orders(market=condition_id)


async def _poll_until(check: Callable[[], Awaitable[Any]], *, every_s: float, timeout_s: float) -> Any:
    """Poll until `check()` is truthy and return it: another process's state offers no event to wait on."""
    with trio.fail_after(timeout_s):
        while True:
            result = await check()
            if result:
                return result
            await trio.sleep(every_s)


async def _wait_for_orders(sim: dict[str, Any], key: str, condition_id: str) -> list[Any]:
    return await _poll_until(lambda: _open_orders(sim, key, condition_id), every_s=0.5, timeout_s=20.0)


def _journal(tmp: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp / "journal.jsonl").read_text().splitlines()]


def _key() -> str:
    return "0x" + secrets.token_hex(32)


async def _fill_the_bots_best_bid(sim: dict[str, Any], bot_key: str, market: dict[str, Any]) -> None:
    """As another trader: buy the other token up to 1 - the bot's best bid, which mints against every bid
    of that token down to the bot's: the bot now leads on it and must complete the pair."""
    ours = await _wait_for_orders(sim, bot_key, market["condition_id"])
    best = max(ours, key=lambda o: o.price_micro)
    other = next(t for t in market["token_ids"] if t != best.asset_id)
    async with _client(sim, _key()) as (rest, trader):
        sweep = trader.build_market(token_id=other, amount=100.0, price_cap=round(1 - best.price_micro / 1_000_000, 2),
                                    side=Side.BUY, tick_size=market["tick_size"])
        await rest.post_order(sweep.to_wire(rest._creds.api_key, "FAK"))


async def test_live_bot_quotes_fills_completes_stops_at_the_cutoff_and_leaves_nothing(sim, tmp_path):
    quote_s = 25.0
    market = _pick_market(sim, min_left_s=quote_s + 20.0)
    cutoff_s = market["end_ts"] - time.time() - quote_s
    cutoff_at = market["end_ts"] - round(cutoff_s)
    key = _key()
    # Completion may pay up to 20 cents over $1 a pair (a set loss): the synthetic fair value wanders
    # a lot in 25 s, and the test is about the pair being completed, not about its price.
    env = _bot_env(sim, key, market, tmp_path, BOT_QUOTE_CUTOFF_S=str(round(cutoff_s)),
                   BOT_COMPLETION_COOLDOWN_S="1", BOT_COMPLETION_MIN_EDGE="-0.2")
    async with _bot(env, tmp_path, "--duration", str(quote_s + 8.0), "--markets", "1") as proc:
        await _fill_the_bots_best_bid(sim, key, market)
        with trio.fail_after(quote_s + 8.0 + _BOT_EXIT_S):
            await proc.wait()
    assert proc.returncode == 0, (tmp_path / "bot.err").read_text()[-2000:]
    journal = _journal(tmp_path)
    posts = [line for line in journal if line["kind"] == "post" and line["order"]["orderType"] in ("GTC", "GTD")]
    fills = [line for line in journal if line["kind"] == "fill"]
    assert posts and any(line["outcome"] == "live" for line in journal if line["kind"] == "post_result")
    # A fill as maker, then the completion's fill as taker on the other token: a pair.
    assert any(not f["taker"] for f in fills)
    completion_ids = {line["order_id"] for line in journal if line["kind"] == "completion"}
    assert any(f["taker"] and f["order_id"] in completion_ids for f in fills)
    # Quoting stopped at the cutoff: its verified cancel-all, and no maker order posted after it.
    (cutoff,) = [line for line in journal if line["kind"] == "cancel_all" and line["why"] == "cutoff"]
    assert cutoff["verified"] is True and cutoff_at <= cutoff["t"] < cutoff_at + 1.0
    assert max(line["t"] for line in posts) < cutoff_at
    assert await _open_orders(sim, key, market["condition_id"]) == []
    assert "open orders left on venue: 0" in (tmp_path / "bot.out").read_text()


async def test_sigterm_mid_window_exits_130_with_zero_orders(sim, tmp_path):
    market = _pick_market(sim, min_left_s=40.0)
    key = _key()
    env = _bot_env(sim, key, market, tmp_path, BOT_QUOTE_CUTOFF_S="0")
    async with _bot(env, tmp_path) as proc:
        assert await _wait_for_orders(sim, key, market["condition_id"])
        proc.send_signal(signal.SIGTERM)
        with trio.fail_after(_BOT_EXIT_S):
            await proc.wait()
    assert proc.returncode == 130, (tmp_path / "bot.err").read_text()[-2000:]
    assert await _open_orders(sim, key, market["condition_id"]) == []
    stops = [line for line in _journal(tmp_path) if line["kind"] == "market_stop"]
    assert [s["reason"] for s in stops] == ["signal"]


async def test_kill_9_mid_window_leaves_orders_the_heartbeat_switch_clears(sim, tmp_path):
    market = _pick_market(sim, min_left_s=40.0)
    key = _key()
    env = _bot_env(sim, key, market, tmp_path, BOT_QUOTE_CUTOFF_S="0", BOT_GTD_AT_CUTOFF="false")
    async with _bot(env, tmp_path) as proc:
        assert await _wait_for_orders(sim, key, market["condition_id"])
        proc.kill()
        killed_at = time.monotonic()
        with trio.fail_after(5):
            await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # Nothing of ours ran a cancel: the orders are still there right after the kill...
    assert await _open_orders(sim, key, market["condition_id"])

    async def none_left() -> bool:
        return not await _open_orders(sim, key, market["condition_id"])

    await _poll_until(none_left, every_s=0.5, timeout_s=_HEARTBEAT_CLEAR_S + 5.0)
    # ...until the venue's dead-man's switch fires, at most one timeout plus one sweep later.
    assert time.monotonic() - killed_at <= _HEARTBEAT_CLEAR_S
    # The journal has only complete lines: every one parses.
    assert _journal(tmp_path)


async def test_a_journal_hitting_a_file_size_limit_exits_10_with_zero_orders(sim, tmp_path):
    market = _pick_market(sim, min_left_s=60.0)
    key = _key()
    env = _bot_env(sim, key, market, tmp_path, BOT_QUOTE_CUTOFF_S="0")
    journal = tmp_path / "journal.jsonl"
    # stderr is a pipe, drained here: the file-size limit below applies to every file the bot writes, and
    # its log must stay readable after the journal has hit it.
    stderr = bytearray()
    async with trio.open_nursery() as nursery:
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "bot", "run"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

        async def drain() -> None:
            async for chunk in proc.stderr:
                stderr.extend(chunk)

        nursery.start_soon(drain)
        try:
            assert await _wait_for_orders(sim, key, market["condition_id"])
            # Quoting: from now on the journal may not grow by one byte (RLIMIT_FSIZE set on the running
            # process: the next write fails with EFBIG; Python ignores the SIGXFSZ that comes with it).
            size = journal.stat().st_size
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (size, size))
            # The next journal line comes with the next re-price, a second or so on the simulator's flow;
            # the market has a minute left. The bound only keeps a hung run from hanging CI.
            with trio.fail_after(_BOT_EXIT_S + 20.0):
                await proc.wait()
            stopped_at = time.monotonic()
        finally:
            if proc.returncode is None:
                proc.kill()
    text = stderr.decode(errors="replace")
    assert proc.returncode == 10, text[-2000:]
    assert "journal" in text and "write failed" in text
    assert "Traceback" not in text
    assert await _open_orders(sim, key, market["condition_id"]) == []
    assert time.monotonic() - stopped_at < 20.0
    # What was written before the limit is whole lines, and nothing after it.
    assert _journal(tmp_path) and journal.stat().st_size == size


async def test_a_journal_path_that_cannot_be_opened_exits_2_naming_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(PYTHONPATH=str(REPO), BOT_JOURNAL_PATH=str(blocker / "journal.jsonl"))
    result = await trio.run_process([sys.executable, "-m", "bot", "run", "--duration", "5"], env=env, cwd=tmp_path,
                                    capture_stdout=True, capture_stderr=True, check=False)
    assert result.returncode == 2
    assert str(blocker / "journal.jsonl") in result.stderr.decode()
