"""The kill switch as the operator uses it (issue 17, finding 1), as processes on loopback: a bot in live
mode follows the simulator's series (`BOT_MARKET=auto`, `BOT_SERIES_WINDOW_S` = the simulator's window)
and quotes; it is paused with SIGSTOP (so it cannot re-quote, and its last heartbeat is seconds old);
`python -m bot cancel-all` with no flags, same environment, cancels every order of the key itself,
verifies, and exits 0 — well before the venue's heartbeat switch (10 s after the last beat) could have
done it. It once printed "verified: 0 open orders left" over the bot's live orders: it resolved the
series with the nominal 15-minute window and cancelled in markets the bot was not trading.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from bot.protocol.rest import ClobRestClient
from bot.protocol.signing import OrderSigner
from tests.reliability.processes import spawned_sim

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WINDOW_S = 120
_HEARTBEAT_TIMEOUT_S = 10.0  # the venue cancels a silent key's orders this long after its last beat


@pytest.fixture(scope="module")
def sim() -> Iterator[dict[str, Any]]:
    with spawned_sim(window_s=WINDOW_S, seed=17) as line:
        yield line


def _env(sim: dict[str, Any], key: str, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(
        PYTHONPATH=str(REPO), BOT_MODE="live", BOT_CLOB_URL=sim["rest"], BOT_WS_MARKET_URL=sim["ws_market"],
        BOT_WS_USER_URL=sim["ws_user"], BOT_GAMMA_URL=sim["gamma"], BOT_PRIVATE_KEY=key,
        BOT_SERIES_WINDOW_S=str(WINDOW_S), BOT_QUOTE_CUTOFF_S="5", BOT_JOURNAL_PATH=str(tmp / "journal.jsonl"),
    )
    return env


async def _key_orders(sim: dict[str, Any], key: str) -> list[Any]:
    signer = OrderSigner(key)
    async with ClobRestClient(sim["rest"], address=signer.address, creds=None) as rest:
        with trio.fail_after(10):
            rest.use_creds(await rest.create_or_derive_api_key(signer))
            return await rest.get_open_orders()


async def test_cancel_all_with_no_flags_empties_the_key_of_a_paused_bot(sim, tmp_path):
    key = "0x" + secrets.token_hex(32)
    env = _env(sim, key, tmp_path)
    with (tmp_path / "bot.out").open("wb") as out, (tmp_path / "bot.err").open("wb") as err:
        bot = await trio.lowlevel.open_process([sys.executable, "-m", "bot", "run"], env=env, cwd=tmp_path,
                                               stdout=out, stderr=err)
    try:
        with trio.fail_after(40):
            while True:  # another process's state offers no event to wait on: poll
                if len(await _key_orders(sim, key)) >= 2:
                    break
                await trio.sleep(0.5)
        bot.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        before = await _key_orders(sim, key)
        assert before, "the paused bot left orders on the venue"
        done = await trio.run_process(
            [sys.executable, "-m", "bot", "cancel-all"], env=env, cwd=tmp_path, capture_stdout=True,
            capture_stderr=True, check=False,
        )
        finished_at = time.monotonic()
        print(f"kill switch: {len(before)} orders, {finished_at - stopped_at:.1f} s from SIGSTOP to verified")
        out_text, err_text = done.stdout.decode(), done.stderr.decode()
        assert done.returncode == 0, out_text + err_text
        assert await _key_orders(sim, key) == []
        assert "(every order of the key)" in out_text and "verified: 0 open orders left" in out_text
        # The kill switch cancelled them itself, not the venue's heartbeat switch.
        cancelled = sum(1 for order in before if order.id in out_text)
        assert cancelled >= 1, out_text
        assert finished_at - stopped_at < _HEARTBEAT_TIMEOUT_S, "too slow to tell it from the heartbeat switch"
    finally:
        if bot.returncode is None:
            bot.send_signal(signal.SIGCONT)
            bot.send_signal(signal.SIGTERM)
            with trio.move_on_after(30, shield=True):
                await bot.wait()
            if bot.returncode is None:
                bot.kill()
