"""Real processes on loopback: `python -m bot sim` and `python -m bot run` in live mode pointed at it.

Guarantee these helpers give the tests: every process they start is stopped (SIGINT, then SIGKILL after a
bound) when the `running_sim` / `BotProcess` scope ends, and nothing talks to anything but 127.0.0.1.
The venue is read over REST with the bot's own key (the simulator derives the same API credentials for
the same private key), never through the bot.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from bot.protocol.auth import ApiCreds
from bot.protocol.rest import ClobRestClient
from bot.protocol.signing import OrderSigner

__all__ = [
    "BotProcess",
    "SimProcess",
    "Venue",
    "bot_env",
    "child_env",
    "pick_window_s",
    "read_journal",
    "running_sim",
]

REPO = Path(__file__).resolve().parents[2]
# A window long enough that the test never meets a cutoff, chosen so that "now" is early in it.
_WINDOW_CHOICES_S = range(1800, 7200, 10)
_WINDOW_MARGIN_S = 300
_READY_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 20.0
_REQUEST_TIMEOUT_S = 5.0


def pick_window_s(now_s: float | None = None) -> int:
    """The series window length (s) whose current window began most recently, with `_WINDOW_MARGIN_S` left.

    The simulator aligns windows to multiples of their length in wall time, so some length always has
    "now" early in its window (under 3 minutes in 200,000 sampled instants): the test never straddles a
    cutoff or rollover, and the flow's fair value, a random walk from 0.5 at the window's start, has not
    yet wandered to the bounds where the tick shrinks and one side's book empties (a conformance run late
    in a 30-minute window met a fair value of 0.03: its far bids filled and no FOK could buy the other
    token).
    """
    now = time.time() if now_s is None else now_s
    fitting = [w for w in _WINDOW_CHOICES_S if now % w < w - _WINDOW_MARGIN_S]
    return min(fitting, key=lambda w: now % w)


@dataclass
class SimProcess:
    """A running `python -m bot sim` and what its ready line said."""

    process: trio.Process
    urls: dict[str, str]
    markets: list[dict[str, Any]]

    def current_market(self) -> dict[str, Any]:
        now = time.time()
        return next(m for m in self.markets if m["start_ts"] <= now < m["end_ts"])


async def _read_line(stream: Any, timeout_s: float) -> bytes:
    buffer = b""
    with trio.fail_after(timeout_s):
        while b"\n" not in buffer:
            chunk = await stream.receive_some(65536)
            if not chunk:
                raise RuntimeError(f"the process closed its output before a line: {buffer[:200]!r}")
            buffer += chunk
    return buffer.split(b"\n", 1)[0]


async def _stop(process: trio.Process, *, sig: int = signal.SIGINT) -> int:
    if process.returncode is None:
        process.send_signal(sig)
        with trio.move_on_after(_STOP_TIMEOUT_S, shield=True):
            return await process.wait()
        process.kill()
        with trio.move_on_after(_STOP_TIMEOUT_S, shield=True):
            await process.wait()
    return process.returncode if process.returncode is not None else -signal.SIGKILL


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This environment without any BOT_* setting, the repository importable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


@contextmanager
def spawned_sim(*, window_s: int, seed: int) -> Iterator[dict[str, Any]]:
    """`python -m bot sim --window-s W --seed S` for a synchronous fixture: its ready line (URLs, markets),
    then SIGTERM (SIGKILL after 10 s) when the scope ends."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "sim", "--window-s", str(window_s), "--seed", str(seed)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "the simulator printed nothing"
        yield json.loads(line)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@asynccontextmanager
async def running_sim(*, window_s: int, seed: int, stderr: Path) -> AsyncIterator[SimProcess]:
    """`python -m bot sim --window-s W --seed S` on loopback until the scope ends (SIGINT)."""
    with stderr.open("wb") as err:
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "bot", "sim", "--window-s", str(window_s), "--seed", str(seed)],
            stdout=subprocess.PIPE, stderr=err, env=child_env({}), cwd=str(REPO),
        )
        try:
            assert process.stdout is not None
            line = json.loads(await _read_line(process.stdout, _READY_TIMEOUT_S))
            urls = {k: v for k, v in line.items() if k != "markets"}
            yield SimProcess(process, urls, line["markets"])
        finally:
            await _stop(process)


def bot_env(sim: SimProcess, *, private_key: str, market: str, journal: Path, **settings: Any) -> dict[str, str]:
    """The environment of `python -m bot run` in live mode against `sim` (BOT_* names of the settings)."""
    env = {
        "BOT_MODE": "live",
        "BOT_CLOB_URL": sim.urls["rest"],
        "BOT_WS_MARKET_URL": sim.urls["ws_market"],
        "BOT_WS_USER_URL": sim.urls["ws_user"],
        "BOT_GAMMA_URL": sim.urls["gamma"],
        "BOT_PRIVATE_KEY": private_key,
        "BOT_MARKET": market,
        "BOT_JOURNAL_PATH": str(journal),
    }
    for name, value in settings.items():
        env[f"BOT_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


@dataclass
class BotProcess:
    """One `python -m bot run`; its stdout and stderr go to files (read them after it ended)."""

    process: trio.Process
    stdout: Path
    stderr: Path
    started_at: float = field(default_factory=time.monotonic)

    @classmethod
    async def start(cls, env: dict[str, str], out_dir: Path, name: str, *args: str) -> BotProcess:
        stdout, stderr = out_dir / f"{name}.out", out_dir / f"{name}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "bot", "run", *args], stdout=out, stderr=err, env=child_env(env),
                cwd=str(out_dir),
            )
        return cls(process, stdout, stderr)

    async def kill9(self) -> int:
        return await _stop(self.process, sig=signal.SIGKILL)

    async def interrupt(self, sig: int = signal.SIGINT) -> int:
        """A real SIGINT (or `sig`, e.g. SIGTERM); waits for the exit and returns its code."""
        return await _stop(self.process, sig=sig)

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")


class Venue:
    """The simulator over REST with the bot's own key: what is really open, filled and held."""

    def __init__(self, sim: SimProcess, private_key: str) -> None:
        self._sim = sim
        self.signer = OrderSigner(private_key)
        self.creds: ApiCreds | None = None

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[ClobRestClient]:
        async with ClobRestClient(self._sim.urls["rest"], address=self.signer.address, creds=self.creds,
                                  time_s=lambda: math.floor(time.time())) as rest:
            if self.creds is None:
                with trio.fail_after(_REQUEST_TIMEOUT_S):
                    self.creds = await rest.create_or_derive_api_key(self.signer)
                rest.use_creds(self.creds)
            yield rest

    async def open_orders(self, market: str) -> list[Any]:
        async with self._client() as rest:
            with trio.fail_after(_REQUEST_TIMEOUT_S):
                return await rest.get_open_orders(market=market)

    async def trades(self, market: str) -> list[Any]:
        async with self._client() as rest:
            with trio.fail_after(_REQUEST_TIMEOUT_S):
                return await rest.get_trades(market=market)

    async def shares(self, token_id: str) -> float:
        async with self._client() as rest:
            with trio.fail_after(_REQUEST_TIMEOUT_S):
                body = await rest.get_balance_allowance("CONDITIONAL", token_id)
        return int(body.get("balance", "0")) / 1_000_000


def read_journal(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The journal's records, and how many lines did not parse (a `kill -9` may cut the last one)."""
    records: list[dict[str, Any]] = []
    broken = 0
    if not path.exists():
        return records, broken
    for line in path.read_bytes().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            broken += 1
    return records, broken
