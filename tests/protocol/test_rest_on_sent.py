"""`on_sent`: the POST of new quotes reports when its bytes were written (what `tick_to_order` ends on).

Over a real socket the REST client calls it from httpcore's `trace` extension once the request was
written, while the answer is still outstanding; an in-memory transport cannot tell, so the client never
calls it and the gateway calls it once when the call ends, whatever the outcome.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import httpx
import orjson
import trio
import trio.testing

from bot.engine.gateway import VenueGateway
from bot.engine.journal import NullJournal
from bot.protocol.constants import Side
from bot.protocol.rest import ClobRestClient
from tests.protocol.test_rest import ADDRESS, CREDS, SIGNER, TOKEN, accepted, wire, wire_id

_CONTENT_LENGTH = re.compile(rb"content-length: *(\d+)", re.IGNORECASE)


class _HeldVenue:
    """One loopback HTTP/1.1 connection: reads each request whole, answers only once `release` is set."""

    def __init__(self) -> None:
        self.requests_read = 0
        self.read = trio.Event()
        self.release = trio.Event()

    async def handle(self, stream: trio.SocketStream) -> None:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = await stream.receive_some()
                if not chunk:
                    return
                buffer += chunk
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            match = _CONTENT_LENGTH.search(head)
            length = int(match.group(1)) if match else 0
            while len(buffer) < length:
                buffer += await stream.receive_some()
            body, buffer = buffer[:length], buffer[length:]
            self.requests_read += 1
            self.read.set()
            await self.release.wait()
            answer = orjson.dumps([accepted(wire_id(w)) for w in orjson.loads(body)])
            await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                                  + str(len(answer)).encode() + b"\r\n\r\n" + answer)


async def test_on_sent_is_called_once_the_post_was_written_before_its_answer() -> None:
    venue = _HeldVenue()
    sent: list[int] = []
    results: list[Any] = []
    done = trio.Event()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            (listener,) = await nursery.start(partial(trio.serve_tcp, venue.handle, 0, host="127.0.0.1"))
            port = listener.socket.getsockname()[1]
            async with ClobRestClient(f"http://127.0.0.1:{port}", address=ADDRESS, creds=CREDS) as rest:

                async def post() -> None:
                    results.extend(await rest.post_orders([wire(1), wire(2)],
                                                          on_sent=lambda: sent.append(len(results))))
                    done.set()

                nursery.start_soon(post)
                await venue.read.wait()
                await trio.testing.wait_all_tasks_blocked()  # the client now waits for the answer
                assert sent == [0] and results == []  # called once, before any answer
                venue.release.set()
                await done.wait()
                assert [r.ok for r in results] == [True, True] and sent == [0]
            nursery.cancel_scope.cancel()


async def test_in_memory_the_client_never_calls_on_sent_and_the_gateway_calls_it_once_at_the_end() -> None:
    answered: list[str] = []
    sent: list[list[str]] = []

    def venue(request: httpx.Request) -> httpx.Response:
        answered.append(request.method)
        if request.url.path == "/order":
            return httpx.Response(500, json={"error": "boom"})
        return httpx.Response(200, json=[accepted(wire_id(w)) for w in orjson.loads(request.content)])

    async with ClobRestClient("http://venue", address=ADDRESS, creds=CREDS,
                              transport=httpx.MockTransport(venue)) as rest:
        assert [r.ok for r in await rest.post_orders([wire(1)], on_sent=lambda: sent.append(["rest"]))] == [True]
        assert sent == []
        gateway = VenueGateway(rest, SIGNER, CREDS, request_timeout_s=5.0, journal=NullJournal())
        orders = [SIGNER.build_limit_units(token_id=TOKEN, price_ticks=45, size_micro=(10 + n) * 1_000_000,
                                           side=Side.BUY, tick_size="0.01", neg_risk=False) for n in range(2)]
        await gateway.post_orders(orders, order_type="GTC", post_only=True,
                                  on_sent=lambda: sent.append(list(answered)))
        # A refused single POST too: once, when the call ended.
        await gateway.post_orders(orders[:1], order_type="GTC", post_only=True,
                                  on_sent=lambda: sent.append(list(answered)))
    assert sent == [["POST", "POST"], ["POST", "POST", "POST"]]
