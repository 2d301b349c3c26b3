"""The order-entry lane: HTTP/1.1 connections of our own, opened ahead, for placing and cancelling orders.

Why not httpx for these few endpoints (it still carries every other call): on the path from a market frame
to a cancel on the wire, httpx's `Request` and `send` up to its transport took 165–230 µs, and httpcore
from the transport to the bytes written 300–450 µs, with three scheduler passes before the write (its pool
lock, its connection lock, the socket). Here the request line and headers are written as they are (a
header with a line break or NUL is refused, nothing sent) with one `send_all` on a connection already
open: the bytes leave before the task first yields. h11, the HTTP/1.1 engine httpcore itself uses, is told
of the request once it left and parses the answer. `ops/bench_latency.py` measures both paths in the same
run (`concurrent` / `concurrent_httpx`).

What it does, and what it leaves to httpx:
- Plain HTTP and HTTPS (SNI and certificate checks through httpx's own default context, the same trust as
  the rest of the client). No proxy: `proxy_for` says whether the environment routes the venue through one,
  and the REST client then sends orders through httpx, which honours it. No cookies or redirects: the
  order endpoints authenticate by their L2 headers. No compressed answers (none are asked for).
- Connections are taken last-in first-out. One that is not idle at both ends, has idled `idle_s` or more,
  or that the venue closed or wrote to unprompted (readable while idle) is closed, never used. If none is
  left, one is opened on the spot, as httpx would.
- `keep_warm` (the supervisor runs it) keeps `warm` connections open and replaces each before it is half
  `idle_s` old, so a re-price does not pay a connect, nor meet a server's keep-alive close (the simulator
  closes idle connections after 5 s; the default `idle_s` is 4 s).
- Any failure after the connection was taken (write, read, a malformed or truncated answer, cancellation)
  closes that connection and raises `LaneError`: whether the venue acted is then unknown, as for httpx's
  `RequestError`. A connect failure raises it too. Messages name the exception type only: the request's
  headers carry credentials.
"""

from __future__ import annotations

import re
import ssl
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

import h11
import httpx
import trio

__all__ = ["LaneAnswer", "LaneError", "OrderLane", "proxy_for"]

_READ_BYTES: Final = 65_536
# An order answer is a few KB; a body past this is not the venue's.
_MAX_BODY_BYTES: Final = 8 * 1024 * 1024
# A fresh TLS connection: the server's session tickets arrive after the handshake and make the socket
# readable; `keep_warm` reads them (up to this long) before offering the connection.
_TLS_SETTLE_S: Final = 0.2
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# Our request head is written by us (h11 parses the answers): a header with one of these is refused.
_FORBIDDEN_IN_HEADER: Final = re.compile(r"[\r\n\0]")


class LaneError(Exception):
    """A request on the lane failed to connect, write or read a well-formed answer."""


@dataclass(frozen=True, slots=True)
class LaneAnswer:
    """One HTTP answer: status, body, headers (names in lower case, as h11 gives them)."""

    status_code: int
    content: bytes
    headers: dict[str, str]

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


def proxy_for(base_url: str) -> str | None:
    """The proxy the environment (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY) names for `base_url`, as httpx
    reads it with `trust_env`; None if requests to it go direct."""
    parts = urllib.parse.urlsplit(base_url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):
        return None
    return proxy


class _Connection:
    __slots__ = ("h11", "idle_since", "socket", "stream")

    def __init__(self, stream: trio.abc.Stream, socket: trio.socket.SocketType, now: float) -> None:
        self.stream = stream
        self.socket = socket
        self.h11 = h11.Connection(our_role=h11.CLIENT)
        self.idle_since = now

    def usable(self, now: float, idle_s: float) -> bool:
        state = self.h11
        return (
            state.our_state is h11.IDLE
            and state.their_state is h11.IDLE
            and now - self.idle_since < idle_s
            and not self.socket.is_readable()
        )

    def kill(self) -> None:
        """Close at once, without a TLS close_notify (synchronous: safe in any cleanup path)."""
        self.socket.close()


class OrderLane:
    """Kept-alive HTTP/1.1 connections to one venue origin; see the module docstring.

    `ssl_context` replaces httpx's default context for HTTPS (tests pass one trusting their own CA).
    `user_agent` is sent on every request (the REST client passes httpx's, so both paths look alike).
    """

    def __init__(
        self,
        base_url: str,
        *,
        idle_s: float = 4.0,
        warm: int = 2,
        user_agent: str = f"python-httpx/{httpx.__version__}",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError("the order lane needs an http:// or https:// URL with a host")
        if idle_s <= 0 or warm < 0:
            raise ValueError("idle_s must be > 0 and warm >= 0")
        self._host = parts.hostname
        self._port = parts.port or _DEFAULT_PORTS[parts.scheme]
        self._prefix = parts.path.rstrip("/")
        self._host_header = parts.netloc.rpartition("@")[2]
        self._tls = parts.scheme == "https"
        self._ssl_context: ssl.SSLContext | None = None  # plain HTTP: no TLS, whatever context is passed
        if self._tls:
            self._ssl_context = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        self._idle_s = idle_s
        self._warm = warm
        if _FORBIDDEN_IN_HEADER.search(self._host_header) or _FORBIDDEN_IN_HEADER.search(user_agent):
            raise ValueError("host and user agent must not contain line breaks")
        self._fixed_head = f"Host: {self._host_header}\r\nUser-Agent: {user_agent}\r\nAccept: */*\r\n"
        self._idle: list[_Connection] = []
        self._closed = False
        self.counts: Counter[str] = Counter()

    # --- connections -------------------------------------------------------------------------------------

    async def _open(self) -> _Connection:
        if self._closed:
            raise LaneError("the order lane is closed")
        try:
            tcp = await trio.open_tcp_stream(self._host, self._port)
        except OSError as exc:
            self.counts["connect_failed"] += 1
            raise LaneError(f"connect failed: {type(exc).__name__}") from exc
        stream: trio.abc.Stream = tcp
        try:
            if self._ssl_context is not None:
                stream = trio.SSLStream(tcp, self._ssl_context, server_hostname=self._host, https_compatible=True)
                await stream.do_handshake()
        except BaseException as exc:
            tcp.socket.close()
            if isinstance(exc, (OSError, trio.BrokenResourceError)):
                self.counts["connect_failed"] += 1
                raise LaneError(f"TLS handshake failed: {type(exc).__name__}") from exc
            raise
        self.counts["opened"] += 1
        return _Connection(stream, tcp.socket, trio.current_time())

    async def _take(self) -> _Connection:
        """The most recently used sound idle connection, without a checkpoint; else a new one."""
        now = trio.current_time()
        while self._idle:
            connection = self._idle.pop()
            if connection.usable(now, self._idle_s):
                self.counts["reused"] += 1
                return connection
            connection.kill()
            self.counts["discarded"] += 1
        return await self._open()

    def _give_back(self, connection: _Connection) -> None:
        state = connection.h11
        if self._closed or state.our_state is not h11.DONE or state.their_state is not h11.DONE:
            connection.kill()
            return
        state.start_next_cycle()
        connection.idle_since = trio.current_time()
        self._idle.append(connection)

    async def keep_warm(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep `warm` sound idle connections, none older than half `idle_s`; runs until cancelled.

        A connect failure is counted and retried on the next round: the venue being down is the
        heartbeat's and the requests' business, not a reason to stop."""
        task_status.started()
        while not self._closed:
            now = trio.current_time()
            keep = [c for c in self._idle if c.usable(now, self._idle_s / 2)]
            for connection in self._idle:
                if connection not in keep:
                    connection.kill()
                    self.counts["refreshed"] += 1
            self._idle[:] = keep
            while len(self._idle) < self._warm:
                try:
                    connection = await self._open()
                except LaneError:
                    break
                if self._closed or not await self._settled(connection):
                    connection.kill()
                    self.counts["discarded"] += 1
                    break
                # Behind the connections in use now: the lane takes the most recently used first.
                self._idle.insert(0, connection)
            await trio.sleep(self._idle_s / 4)

    async def _settled(self, connection: _Connection) -> bool:
        """TLS: read the session tickets that follow the handshake, so readability means the venue spoke.
        False if the server closed or sent data unasked."""
        if not self._tls:
            return True
        with trio.move_on_after(_TLS_SETTLE_S):
            try:
                await connection.stream.receive_some(1)
            except (OSError, trio.BrokenResourceError):
                return False
            return False
        return True

    async def aclose(self) -> None:
        """Close every idle connection; later requests fail. Connections in use close when they end."""
        self._closed = True
        for connection in self._idle:
            connection.kill()
        self._idle.clear()
        await trio.lowlevel.checkpoint()

    # --- requests ----------------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        headers: Iterable[tuple[str, str]],
        content: bytes,
        *,
        on_sent: Callable[[], None] | None = None,
    ) -> LaneAnswer:
        """Send one request and read its whole answer. `on_sent` is called once the bytes were written.

        LaneError on any transport or protocol failure (the connection is then closed). Cancellation
        closes the connection and propagates."""
        target = self._prefix + path
        lines = [f"{method} {target} HTTP/1.1\r\n", self._fixed_head, f"Content-Length: {len(content)}\r\n"]
        for name, value in headers:
            if _FORBIDDEN_IN_HEADER.search(name) or _FORBIDDEN_IN_HEADER.search(value):
                raise LaneError(f"header {name!r} has a line break or NUL: not sent")  # the name, never the value
            lines.append(f"{name}: {value}\r\n")
        lines.append("\r\n")
        try:
            data = "".join(lines).encode("ascii") + content
        except UnicodeEncodeError:
            raise LaneError("a header is not ASCII: not sent") from None
        connection = await self._take()
        state = connection.h11
        answered = False
        try:
            await connection.stream.send_all(data)
            if on_sent is not None:
                on_sent()
            # h11 reads the answer; it learns of the request now, after the bytes left (its own encoding
            # validates every header again: ~100 µs on a cold path, measured, ahead of the write).
            state.send(h11.Request(method=method, target=target,
                                   headers=[("Host", self._host_header), ("Content-Length", str(len(content)))]))
            if content:
                state.send(h11.Data(data=content))
            state.send(h11.EndOfMessage())
            answer = await self._read(connection)
            answered = True
            return answer
        except LaneError:
            self.counts["failed"] += 1
            raise
        except h11.ProtocolError as exc:
            # Not chained: h11 may quote the offending header, and our headers carry credentials.
            self.counts["failed"] += 1
            raise LaneError(f"transport error: {type(exc).__name__}") from None
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self.counts["failed"] += 1
            raise LaneError(f"transport error: {type(exc).__name__}") from exc
        finally:
            if answered:
                self._give_back(connection)
            else:
                connection.kill()

    async def _read(self, connection: _Connection) -> LaneAnswer:
        state = connection.h11
        response: h11.Response | None = None
        chunks: list[bytes] = []
        size = 0
        while True:
            event = state.next_event()
            if event is h11.NEED_DATA:
                state.receive_data(await connection.stream.receive_some(_READ_BYTES))
            elif type(event) is h11.Response:
                response = event
            elif type(event) is h11.Data:
                size += len(event.data)
                if size > _MAX_BODY_BYTES:
                    raise LaneError(f"answer body over {_MAX_BODY_BYTES} bytes")
                chunks.append(bytes(event.data))
            elif type(event) is h11.EndOfMessage:
                break
            elif type(event) is h11.ConnectionClosed:
                raise LaneError("connection closed before the answer")
            # h11.InformationalResponse (1xx): the final answer follows.
        assert response is not None  # h11 gives the Response before any Data or EndOfMessage
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in response.headers}
        if headers.get("content-encoding", "identity").lower() != "identity":
            raise LaneError("compressed answer (none was asked for)")
        return LaneAnswer(response.status_code, b"".join(chunks), headers)

    def __repr__(self) -> str:
        return f"OrderLane({self._host_header}, idle={len(self._idle)})"
