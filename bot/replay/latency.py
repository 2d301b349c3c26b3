"""Latency models and the seams that apply them: our requests reach the venue late (and their answers
come back late), and market-channel frames reach us late.

| model | sample |
|---|---|
| `FixedLatency(s)` | always `s` seconds |
| `EmpiricalLatency(samples)` | one of the measured samples, drawn with a seeded `random.Random` |

`LatencyTransport` wraps the bot's httpx transport (request and answer each sleep one sample on Trio's
clock); `delayed_connector` wraps a WebSocket connector so every received frame is handed over one
sample after it arrived, frames keeping their order. Both are pure Trio, so the fake clock drives them.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson
import trio

__all__ = ["EmpiricalLatency", "FixedLatency", "LatencyModel", "LatencyTransport", "delayed_connector",
           "latency_model"]


class LatencyModel(Protocol):
    def sample(self) -> float: ...


class FixedLatency:
    """The same delay every time."""

    def __init__(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        self.seconds = seconds

    def sample(self) -> float:
        return self.seconds

    def __repr__(self) -> str:
        return f"FixedLatency({self.seconds})"


class EmpiricalLatency:
    """Delays drawn from measured samples (seconds), reproducibly for a given seed."""

    def __init__(self, samples: Sequence[float], seed: int = 0) -> None:
        if not samples or min(samples) < 0:
            raise ValueError("need at least one sample, none negative")
        self.samples = list(samples)
        self._rng = random.Random(seed)

    def sample(self) -> float:
        return self._rng.choice(self.samples)

    def __repr__(self) -> str:
        return f"EmpiricalLatency(n={len(self.samples)})"


def latency_model(spec: str, *, seed: int = 0) -> LatencyModel:
    """`"25ms"`/`"0.025"` (fixed) or a path to a JSON list / text file of samples in milliseconds."""
    text = spec.strip()
    if text.endswith("ms") and text[:-2].replace(".", "", 1).isdigit():
        return FixedLatency(float(text[:-2]) / 1000.0)
    try:
        return FixedLatency(float(text))
    except ValueError:
        pass
    raw = Path(text).read_text()
    try:
        values = orjson.loads(raw)
    except orjson.JSONDecodeError:
        values = [float(line) for line in raw.split() if line.strip()]
    return EmpiricalLatency([float(v) / 1000.0 for v in values], seed=seed)


class LatencyTransport(httpx.AsyncBaseTransport):
    """The bot's requests arrive `model.sample()` late; the answers come back one more sample late."""

    def __init__(self, inner: httpx.AsyncBaseTransport, model: LatencyModel,
                 on_arrival: Callable[[], None] | None = None) -> None:
        self._inner = inner
        self._model = model
        self._on_arrival = on_arrival  # called as a request reaches the venue (the replay's catch-up)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await trio.sleep(self._model.sample())
        if self._on_arrival is not None:
            self._on_arrival()
        response = await self._inner.handle_async_request(request)
        await trio.sleep(self._model.sample())
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _DelayedConnection:
    """A WebSocket connection whose received messages are released one latency sample after arrival."""

    def __init__(self, inner: Any, receive: trio.MemoryReceiveChannel[tuple[float, Any]]) -> None:
        self._inner = inner
        self._receive = receive

    async def get_message(self) -> Any:
        due, message = await self._receive.receive()
        if isinstance(message, BaseException):
            raise message
        if due > trio.current_time():
            await trio.sleep_until(due)
        return message

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def delayed_connector(connector: Callable[[str], Any], model: LatencyModel) -> Callable[[str], Any]:
    """`connector` with every received frame delayed by a latency sample (order kept)."""

    @asynccontextmanager
    async def connect(url: str) -> AsyncIterator[Any]:
        async with connector(url) as ws, trio.open_nursery() as nursery:
            # Unbounded in effect: frames are only ever delayed by a bounded latency, never dropped.
            send, receive = trio.open_memory_channel[tuple[float, Any]](float("inf"))

            async def pump() -> None:
                last_due = 0.0
                try:
                    while True:
                        message = await ws.get_message()
                        last_due = max(last_due, trio.current_time() + model.sample())
                        await send.send((last_due, message))
                except BaseException as exc:  # the close (or failure) reaches the reader in order
                    send.send_nowait((last_due, exc))
                    if not isinstance(exc, Exception):
                        raise

            nursery.start_soon(pump)
            try:
                yield _DelayedConnection(ws, receive)
            finally:
                nursery.cancel_scope.cancel()

    return connect
