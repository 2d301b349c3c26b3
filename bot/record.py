"""`record`: the market channel (live venue or simulator) to rotated ZSTD Parquet files in the PMXT v2
schema, the same files `backtest` reads (docs/protocol/polymarket-clob.md sections 6.2 and 12.5).

One WebSocket subscribed to the tokens of the given markets (condition ids resolved through Gamma) or of
the series' current windows; every frame is stamped with its receive time on arrival and converted to
rows; malformed frames are counted, logged and skipped. On reconnect the venue sends fresh `book`
snapshots, which the reader applies like any book row. `own` (used when the bot records as it trades)
takes our own resting size out of every level written, so a replay does not show it twice. It is the
bot's view of its orders at the moment a frame is received: around a placement or a cancel the venue's
frame and the bot's order cache can disagree for a round trip (the market and user channels are not
ordered with each other), so a level can be off by our size for that moment.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import trio

from bot.replay.frames import MalformedFrame, OwnSize, rows_from_payload
from bot.replay.writer import RotatingParquetWriter

__all__ = ["MarketRecorder", "cli_record", "own_size", "record_channel", "record_while_trading"]

log = logging.getLogger(__name__)

_PING_EVERY_S = 10.0  # spec 6.1: text PING every 10 s
_RECONNECT_PAUSE_S = 1.0
_RESUBSCRIBE_CHECK_S = 5.0  # how soon a new market's frames start being recorded


class MarketRecorder:
    """Writes every market-channel frame it is given to a `RotatingParquetWriter`; counts what it skips."""

    def __init__(self, writer: RotatingParquetWriter, *, now_ms: Callable[[], int],
                 own: Callable[[], OwnSize] | None = None) -> None:
        self.writer = writer
        self._now_ms = now_ms
        self._own = own
        self.frames = 0
        self.rows = 0
        self.malformed = 0

    def __repr__(self) -> str:
        return f"<MarketRecorder frames={self.frames} rows={self.rows} malformed={self.malformed}>"

    def on_text(self, text: str | bytes) -> None:
        """One received frame: a JSON object, a JSON array of them, or keep-alive text (ignored)."""
        received = self._now_ms()
        if text in ("PONG", b"PONG", "NO NEW ASSETS"):
            return
        self.frames += 1
        try:
            decoded = orjson.loads(text)
        except orjson.JSONDecodeError:
            self.malformed += 1
            log.warning("record: skipped a frame that is not JSON (%d bytes)", len(text))
            return
        for payload in decoded if isinstance(decoded, list) else [decoded]:
            self.on_payload(payload, received)

    def on_payload(self, payload: Any, received_ms: int) -> None:
        if not isinstance(payload, dict):
            self.malformed += 1
            return
        try:
            rows = rows_from_payload(payload, received_ms, self._own)
        except MalformedFrame as exc:
            self.malformed += 1
            log.warning("record: skipped a malformed frame: %s", exc)
            return
        self.rows += len(rows)
        self.writer.add(rows)

    def statistics(self) -> dict[str, Any]:
        return {"frames": self.frames, "rows": self.rows, "malformed": self.malformed, **self.writer.statistics()}


async def record_channel(connector: Callable[[str], Any], url: str, token_ids: Sequence[str],
                         recorder: MarketRecorder) -> None:
    """Subscribe to `token_ids` on the market channel at `url` and record until cancelled, reconnecting."""
    subscribe = orjson.dumps({"type": "market", "assets_ids": list(token_ids), "custom_feature_enabled": False,
                              "initial_dump": True}).decode()
    while True:
        try:
            async with connector(url) as ws, trio.open_nursery() as nursery:
                await ws.send_message(subscribe)

                async def ping() -> None:
                    while True:
                        await trio.sleep(_PING_EVERY_S)
                        await ws.send_message("PING")

                nursery.start_soon(ping)
                while True:
                    recorder.on_text(await ws.get_message())
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            log.warning("record: market channel lost (%r); reconnecting", exc)
        except Exception as exc:  # trio-websocket's ConnectionClosed / HandshakeError: same treatment
            if type(exc).__module__.split(".")[0] != "trio_websocket":
                raise
            log.warning("record: market channel closed (%r); reconnecting", exc)
        await trio.sleep(_RECONNECT_PAUSE_S)


async def _tokens(args: argparse.Namespace, gamma_url: str, transport: Any = None) -> list[str]:
    from bot.engine.discovery import GammaClient, series_window_s

    tokens: list[str] = list(args.assets or [])
    if args.markets or args.series:
        gamma = GammaClient(gamma_url, transport=transport)
        try:
            for cid in args.markets or []:
                info = await gamma.market_by_condition(cid)
                if info is None:
                    raise SystemExit(f"record: market {cid} not found")
                tokens.extend(info.token_ids)
            for series in args.series or []:
                window = series_window_s(series, args.window_s)
                for info in await gamma.series_markets(series, time.time(), window):
                    tokens.extend(info.token_ids)
        finally:
            await gamma.aclose()
    return list(dict.fromkeys(tokens))


async def cli_record(args: argparse.Namespace, settings: Any) -> int:
    """`python -m bot record`: live venue by default, `--sim` for the embedded simulator's flow."""
    writer = RotatingParquetWriter(args.out)
    recorder = MarketRecorder(writer, now_ms=lambda: int(time.time() * 1000))
    try:
        async with trio.open_nursery() as nursery:
            if args.sim:
                from bot.sim.flow import SeriesSchedule
                from bot.sim.server import open_inprocess_sim
                from bot.sim.venue import SimVenue

                venue = SimVenue(series=[SeriesSchedule(asset="btc", window_s=int(args.window_s or 300),
                                                        nominal_minutes=15, seed=args.seed)], seed=args.seed)
                sim = await _enter(nursery, open_inprocess_sim(venue, seed=args.seed))
                tokens = [t for spec in venue.exchange.markets() for t in (spec.yes_token_id, spec.no_token_id)]
                connector, url = sim.connector, sim.ws_market_url
            else:
                from bot.protocol.ws import default_connector

                tokens = await _tokens(args, settings.effective_gamma_url)
                connector, url = default_connector, settings.effective_ws_market_url
            if not tokens:
                print("record: no tokens to subscribe to (give --markets, --series or --assets)")
                return 2
            nursery.start_soon(record_channel, connector, url, tokens, recorder)
            if args.duration:
                await trio.sleep(args.duration)
                nursery.cancel_scope.cancel()
    finally:
        writer.close()
        print(orjson.dumps(recorder.statistics()).decode())
    return 0


async def _enter(nursery: trio.Nursery, manager: Any) -> Any:
    """Enter an async context manager for the nursery's lifetime."""
    entered: list[Any] = []
    ready = trio.Event()

    async def hold() -> None:
        async with manager as value:
            entered.append(value)
            ready.set()
            await trio.sleep_forever()

    nursery.start_soon(hold)
    await ready.wait()
    return entered[0]


def own_size(supervisor: Any) -> OwnSize:
    """Our open shares per (token, side, price) across the supervisor's markets, in 1e6 units."""
    own: dict[tuple[str, str, int], int] = {}
    for runner in list(supervisor.runners.values()):
        for order in runner.manager.open_orders():
            key = (order.token_id, order.side, order.price_micro)
            left = order.size_micro - order.matched_micro
            own[key] = own.get(key, 0) + max(0, left)
    return own


async def record_while_trading(supervisor: Any, connector: Callable[[str], Any] | None, url: str, out: Path,
                               now_ms: Callable[[], int]) -> None:
    """The `record_dir` setting: record the market channel of whatever markets the bot runs, our own
    resting size taken out, resubscribing as markets come and go. Runs until cancelled."""
    from bot.protocol.ws import default_connector

    writer = RotatingParquetWriter(out)
    recorder = MarketRecorder(writer, now_ms=now_ms, own=lambda: own_size(supervisor))
    try:
        while True:
            tokens = sorted({t for r in list(supervisor.runners.values()) for t in r.info.token_ids})
            with trio.CancelScope() as scope:
                if tokens:
                    async def watch(tokens: list[str] = tokens, scope: trio.CancelScope = scope) -> None:
                        # Polled, not evented: the supervisor has no market-set-changed event to wait on.
                        while True:
                            await trio.sleep(_RESUBSCRIBE_CHECK_S)
                            now = sorted({t for r in list(supervisor.runners.values()) for t in r.info.token_ids})
                            if now != tokens:
                                scope.cancel()

                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(watch)
                        nursery.start_soon(record_channel, connector or default_connector, url, tokens, recorder)
                else:
                    await trio.sleep(_RESUBSCRIBE_CHECK_S)
    finally:
        writer.close()
