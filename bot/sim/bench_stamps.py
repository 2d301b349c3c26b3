"""The venue's own clock on the benchmark path: when a market frame was written, when a request arrived.

Off by default and costs nothing then (one `is None` test per frame written). The latency benchmark turns
it on in its simulator process only (`install_venue_stamps`), so its headline figures are taken where the
real venue would take them, with none of the bot's own probes in the way:

- a market-channel frame is stamped as its writer hands it to `send_message`, which encodes it and writes
  it to the socket without yielding first (stamping after it returned would be late: trio yields after
  the write, and the bot's answer can be read before the writer task runs again);
- a REST request is stamped when the server's read of its connection returns a chunk that starts with
  an HTTP request line: the first bytes of the request the venue sees, before parsing, auth or routing.
  The read returns at most one scheduler pass of the simulator after the kernel handed the bytes over,
  so a busy simulator makes the figures longer, never shorter.

All stamps are `time.monotonic()` of the simulator process. Both ends of every figure are stamped here,
so no clock is compared across processes.

Why patch hypercorn's connection class for the request stamp (bench only) rather than an ASGI middleware:
the ASGI app runs after h11 has parsed the request and hypercorn has spawned the handler task, which would
charge the venue's own parsing and scheduling to the bot.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["FrameStamp", "RequestStamp", "VenueStamps", "install_venue_stamps"]

_REQUEST_LINE: Final = re.compile(rb"^(GET|POST|DELETE|PUT|PATCH) (\S+) HTTP/1\.[01]\r\n")
_PRICE_CHANGE: Final = '"price_change"'
# Bounded: a benchmark reads and clears the stamps after every event; a forgotten reader must not grow
# the simulator's memory without end.
_MAX_STAMPS: Final = 100_000


@dataclass(frozen=True, slots=True)
class FrameStamp:
    """A market-channel frame written: monotonic time, and whether it carried a `price_change`."""

    t: float
    price_change: bool


@dataclass(frozen=True, slots=True)
class RequestStamp:
    """The first chunk of an HTTP request read: monotonic time, method and path (query dropped)."""

    t: float
    method: str
    path: str


@dataclass(slots=True)
class VenueStamps:
    """The stamps taken since the last `take()`; both lists are bounded (oldest dropped)."""

    frames: list[FrameStamp] = field(default_factory=list)
    requests: list[RequestStamp] = field(default_factory=list)
    dropped: int = 0

    def frame_written(self, channel: str, frame: str) -> None:
        if channel != "market":
            return
        self._keep(self.frames, FrameStamp(time.monotonic(), _PRICE_CHANGE in frame))

    def chunk_read(self, data: bytes) -> None:
        match = _REQUEST_LINE.match(data)
        if match is None:  # a body or the rest of a request: not its first byte
            return
        path = match.group(2).split(b"?", 1)[0].decode("ascii", "replace")
        self._keep(self.requests, RequestStamp(time.monotonic(), match.group(1).decode(), path))

    def _keep(self, into: list[Any], stamp: Any) -> None:
        if len(into) >= _MAX_STAMPS:
            del into[0]
            self.dropped += 1
        into.append(stamp)

    def take(self) -> dict[str, Any]:
        """Everything stamped so far as plain data (for a JSON line), and forget it."""
        out = {
            "frames": [(s.t, s.price_change) for s in self.frames],
            "requests": [(s.t, s.method, s.path) for s in self.requests],
            "dropped": self.dropped,
        }
        self.frames, self.requests, self.dropped = [], [], 0
        return out


class _StampingStream:
    """A trio stream that reports each chunk it reads to `VenueStamps.chunk_read`; otherwise the stream."""

    def __init__(self, inner: Any, stamps: VenueStamps) -> None:
        self._inner = inner
        self._stamps = stamps

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        data = await self._inner.receive_some(max_bytes)
        if data:
            self._stamps.chunk_read(bytes(data[:64]))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def install_venue_stamps(stamps: VenueStamps) -> None:
    """Stamp every request hypercorn serves in this process (bench processes only); call before serving.

    Process-wide: hypercorn builds its connection objects itself, so the class it uses is replaced by one
    that wraps the accepted stream. Frames are stamped by setting the hub's hook:
    `hub.on_frame_written = stamps.frame_written`.
    """
    import hypercorn.trio.run as hypercorn_run
    from hypercorn.trio.tcp_server import TCPServer

    class _StampingTCPServer(TCPServer):
        def __init__(self, app: Any, config: Any, context: Any, state: Any, stream: Any) -> None:
            super().__init__(app, config, context, state, _StampingStream(stream, stamps))  # type: ignore[arg-type]

    hypercorn_run.TCPServer = _StampingTCPServer  # type: ignore[misc]
