"""The order-entry lane (`bot.protocol.order_lane`) against real loopback sockets.

A small HTTP/1.1 venue on 127.0.0.1 (h11, server side) that can answer, close, hang or misbehave; every
test is bounded by `fail_after`. What a user relies on: a request reaches the venue with its exact bytes
and headers, connections are reused and never used once the venue closed them or they idled too long,
and any failure closes the connection and surfaces as `OutcomeUnknown` from the REST client — never a
hang, never a reused half-read connection.
"""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import h11
import orjson
import pytest
import trio
import trio.testing

from bot.protocol.errors import OutcomeUnknown, RejectKind
from bot.protocol.order_lane import LaneError, OrderLane, proxy_for
from bot.protocol.rest import ClobRestClient
from tests.protocol.test_rest import ADDRESS, CREDS

_LIMIT_S = 10.0


@dataclass
class _Venue:
    """Answers each request with `answer(request, body) -> bytes | None` (None: close without answering)."""

    answer: Callable[[h11.Request, bytes], bytes | None] = lambda request, body: _ok(b'{"canceled": []}')
    requests: list[tuple[h11.Request, bytes]] = field(default_factory=list)
    close_after_answer: bool = False
    connections: int = 0
    streams: list[trio.abc.Stream] = field(default_factory=list)

    async def handle(self, stream: trio.abc.Stream) -> None:
        self.connections += 1
        self.streams.append(stream)
        conn = h11.Connection(our_role=h11.SERVER)
        try:
            while True:
                request: h11.Request | None = None
                body = b""
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        data = await stream.receive_some(65536)
                        conn.receive_data(data)
                        if not data and conn.their_state is h11.IDLE:
                            return
                        continue
                    if isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.Data):
                        body += event.data
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    elif isinstance(event, h11.ConnectionClosed):
                        return
                assert request is not None
                self.requests.append((request, body))
                raw = self.answer(request, body)
                if raw is None:
                    await stream.aclose()
                    return
                await stream.send_all(raw)
                if self.close_after_answer:
                    await stream.aclose()
                    return
                # Raw answers bypass h11's server state: the next request starts a fresh parser.
                conn = h11.Connection(our_role=h11.SERVER)
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.RemoteProtocolError):
            return


def _ok(body: bytes, *, extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)


@asynccontextmanager
async def _serving(venue: _Venue, *, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    async with trio.open_nursery() as nursery:
        if ssl_context is None:
            (listener,) = await nursery.start(partial(trio.serve_tcp, venue.handle, 0, host="127.0.0.1"))
            port = listener.socket.getsockname()[1]
            yield f"http://127.0.0.1:{port}"
        else:
            (listener,) = await nursery.start(partial(trio.serve_ssl_over_tcp, venue.handle, 0, ssl_context,
                                                      host="127.0.0.1", https_compatible=True))
            port = listener.transport_listener.socket.getsockname()[1]
            yield f"https://localhost:{port}"
        nursery.cancel_scope.cancel()


async def test_a_request_carries_its_exact_body_and_headers_and_the_connection_is_reused() -> None:
    venue = _Venue()
    with trio.fail_after(_LIMIT_S):
        async with _serving(venue) as url:
            lane = OrderLane(url, user_agent="ua/1")
            written: list[int] = []
            for n in range(3):
                answer = await lane.request("DELETE", "/orders", [("POLY_API_KEY", "k")], b'["0x01"]',
                                            on_sent=lambda n=n: written.append(n))
                assert answer.status_code == 200 and answer.is_success
                assert orjson.loads(answer.content) == {"canceled": []}
                assert answer.headers["content-type"] == "application/json"
            await lane.aclose()
    assert written == [0, 1, 2]
    assert venue.connections == 1 and lane.counts["opened"] == 1 and lane.counts["reused"] == 2
    request, body = venue.requests[0]
    headers = dict(request.headers)
    assert (request.method, request.target, body) == (b"DELETE", b"/orders", b'["0x01"]')
    assert headers[b"poly_api_key"] == b"k" and headers[b"user-agent"] == b"ua/1"
    assert headers[b"content-length"] == b"8" and headers[b"host"] == url.removeprefix("http://").encode()


async def test_a_header_with_a_line_break_is_refused_before_anything_is_written() -> None:
    venue = _Venue()
    with trio.fail_after(_LIMIT_S):
        async with _serving(venue) as url:
            lane = OrderLane(url)
            for name, value in (("POLY_PASSPHRASE", "p\r\nX-Injected: 1"), ("X\nY", "v"), ("POLY_API_KEY", "k\0")):
                with pytest.raises(LaneError, match="line break or NUL") as caught:
                    await lane.request("DELETE", "/orders", [(name, value)], b"[]")
                assert value not in str(caught.value)  # header values may be credentials
            with pytest.raises(LaneError, match="not ASCII"):
                await lane.request("DELETE", "/orders", [("POLY_API_KEY", "kä")], b"[]")
            assert (await lane.request("DELETE", "/orders", [], b"[]")).is_success
            await lane.aclose()
    assert len(venue.requests) == 1 and venue.connections == 1  # nothing of the refused ones was sent


async def test_a_connection_the_venue_closed_while_idle_is_never_written_to() -> None:
    venue = _Venue()
    with trio.fail_after(_LIMIT_S):
        async with _serving(venue) as url:
            lane = OrderLane(url)
            await lane.request("POST", "/orders", [], b"[]")
            await venue.streams[0].aclose()  # the venue's keep-alive timeout
            await trio.sleep(0.05)  # the FIN reaches us
            answer = await lane.request("POST", "/orders", [], b"[]")
            await lane.aclose()
    assert answer.is_success and venue.connections == 2 and len(venue.requests) == 2
    assert lane.counts["discarded"] == 1 and lane.counts.get("failed", 0) == 0


async def test_a_connection_idle_for_idle_s_is_replaced_not_used() -> None:
    venue = _Venue()
    with trio.fail_after(_LIMIT_S):
        async with _serving(venue) as url:
            lane = OrderLane(url, idle_s=0.5)
            await lane.request("POST", "/orders", [], b"[]")
            await trio.sleep(0.1)
            await lane.request("POST", "/orders", [], b"[]")
            assert venue.connections == 1
            await trio.sleep(0.6)
            await lane.request("POST", "/orders", [], b"[]")
            await lane.aclose()
    assert venue.connections == 2 and lane.counts["discarded"] == 1


@pytest.mark.parametrize(
    "answer, what",
    [
        (lambda r, b: None, "closed before any answer"),
        (lambda r, b: b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n{\"canceled\"", "truncated, then closed"),
        (lambda r, b: b"NOT HTTP AT ALL\r\n\r\n", "not HTTP"),
        (lambda r, b: _ok(b"\x1f\x8b", extra=b"content-encoding: gzip\r\n"), "a compressed body"),
    ],
)
async def test_a_failed_answer_is_outcome_unknown_and_its_connection_is_never_reused(
    answer: Callable[[h11.Request, bytes], bytes | None], what: str
) -> None:
    venue = _Venue(answer=answer, close_after_answer=True)
    with trio.fail_after(_LIMIT_S):
        async with _serving(venue) as url:
            async with ClobRestClient(url, address=ADDRESS, creds=CREDS) as rest:
                assert rest.order_lane is not None
                result = await rest.cancel_orders(["0x01"])
                assert isinstance(result.failed["0x01"], OutcomeUnknown), what
                assert result.failed["0x01"].kind is RejectKind.TRANSPORT
                assert "0x01" not in result.canceled
                venue.answer = lambda r, b: _ok(b'{"canceled": ["0x02"], "not_canceled": {}}')
                venue.close_after_answer = False
                assert (await rest.cancel_orders(["0x02"])).canceled == ["0x02"]
    assert venue.connections == 2  # the failed connection was closed, a fresh one carried the next call
    assert rest.order_lane.counts["failed"] == 1


async def test_an_error_status_is_the_venues_error_with_its_retry_after() -> None:
    body = b'{"error": "too many requests"}'
    venue = _Venue(answer=lambda r, b: b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\ncontent-length: "
                   + str(len(body)).encode() + b"\r\n\r\n" + body)
    with trio.fail_after(_LIMIT_S):
        async with _serving(venue) as url, ClobRestClient(url, address=ADDRESS, creds=CREDS) as rest:
            result = await rest.cancel_orders(["0x01"])
    error = result.failed["0x01"]
    assert type(error).__name__ == "RateLimited" and error.retry_after_s == 2.0


async def test_a_cancelled_request_closes_its_connection() -> None:
    venue = _Venue()
    with trio.fail_after(_LIMIT_S):
        async with _serving(venue) as url:
            lane = OrderLane(url)
            await lane.request("DELETE", "/orders", [], b"[]")
            answer = venue.answer
            venue.answer = lambda r, b: b""  # read, never answered: the caller's deadline ends the wait
            with trio.move_on_after(0.2) as scope:
                await lane.request("DELETE", "/orders", [], b"[]")
            assert scope.cancelled_caught
            venue.answer = answer
            assert (await lane.request("DELETE", "/orders", [], b"[]")).is_success
            await lane.aclose()
    assert venue.connections == 2  # the half-used connection was closed, not given back


async def test_keep_warm_opens_connections_ahead_and_replaces_them_before_half_idle_s() -> None:
    venue = _Venue()
    with trio.fail_after(_LIMIT_S):
        async with _serving(venue) as url:
            lane = OrderLane(url, idle_s=0.8, warm=2)
            async with trio.open_nursery() as nursery:
                await nursery.start(lane.keep_warm)
                await trio.sleep(0.3)  # two loopback connects: microseconds
                await lane.request("POST", "/orders", [], b"[]")
                assert lane.counts["opened"] == 2 and lane.counts["reused"] == 1  # no connect on the request
                await trio.sleep(1.5)
                # Replaced at half idle_s: never offered past it, so a keep-alive close never meets a request.
                assert lane.counts["refreshed"] >= 2 and lane.counts.get("discarded", 0) == 0
                assert venue.connections == lane.counts["opened"] >= 4
                nursery.cancel_scope.cancel()
            await lane.aclose()


async def test_a_venue_that_refuses_connections_is_a_lane_error_and_keep_warm_goes_on() -> None:
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]
    await listener.aclose()  # nothing listens there any more
    lane = OrderLane(f"http://127.0.0.1:{port}", warm=1, idle_s=0.4)
    with trio.fail_after(_LIMIT_S):
        with pytest.raises(LaneError, match="connect failed"):
            await lane.request("POST", "/orders", [], b"[]")
        async with trio.open_nursery() as nursery:
            await nursery.start(lane.keep_warm)
            await trio.sleep(0.5)
            nursery.cancel_scope.cancel()
    assert lane.counts["connect_failed"] >= 3  # retried each round (every 0.1 s here), never crashed


def test_the_lane_stays_off_behind_a_proxy_or_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert proxy_for("https://clob.example") is None
    assert ClobRestClient("https://clob.example", address=ADDRESS, creds=CREDS).order_lane is not None
    assert ClobRestClient("https://clob.example", address=ADDRESS, creds=CREDS, order_lane=False).order_lane is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert proxy_for("https://clob.example") == "http://proxy.internal:3128"
    assert ClobRestClient("https://clob.example", address=ADDRESS, creds=CREDS).order_lane is None
    monkeypatch.setenv("NO_PROXY", "clob.example")
    assert proxy_for("https://clob.example") is None


def _test_certificate(tmp: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for `localhost` (openssl, as on every CI image here)."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


async def test_https_checks_the_certificate_against_the_name_and_reads_tickets_before_offering(
    tmp_path: Path,
) -> None:
    cert, key = _test_certificate(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    venue = _Venue()
    with trio.fail_after(_LIMIT_S):
        async with _serving(venue, ssl_context=server) as url:
            trusted = ssl.create_default_context(cafile=str(cert))
            lane = OrderLane(url, ssl_context=trusted, warm=1)
            async with trio.open_nursery() as nursery:
                await nursery.start(lane.keep_warm)
                await trio.sleep(0.5)  # opened and settled (TLS 1.3 session tickets read)
                answer = await lane.request("DELETE", "/orders", [], b"[]")
                nursery.cancel_scope.cancel()
            assert answer.is_success and lane.counts["reused"] == 1 and lane.counts.get("discarded", 0) == 0
            await lane.aclose()
            # The default context (the system's trust, as httpx's) refuses a certificate nobody signed.
            strict = OrderLane(url)
            with pytest.raises(LaneError, match="TLS handshake failed"):
                await strict.request("DELETE", "/orders", [], b"[]")
    assert venue.connections == 2  # the warm one, and the one the strict lane's handshake failed on
