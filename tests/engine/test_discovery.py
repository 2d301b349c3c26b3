"""GammaClient maps every way a lookup can fail to one DiscoveryError, at its edge."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import trio

from bot.engine.discovery import DiscoveryError, GammaClient

CID = "0x" + "ab" * 32
MARKET = {
    "conditionId": CID,
    "slug": "btc-updown-15m-1800000000",
    "clobTokenIds": json.dumps(["111", "222"]),
    "outcomes": json.dumps(["Up", "Down"]),
    "endDate": "2027-01-15T08:15:00Z",
}


def _client(handler: Callable[[httpx.Request], Any]) -> GammaClient:
    return GammaClient("http://gamma.test", transport=httpx.MockTransport(handler), timeout_s=2.0)


async def _hang(request: httpx.Request) -> httpx.Response:
    await trio.sleep_forever()
    raise AssertionError("unreachable")


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


FAILURES: dict[str, Callable[[httpx.Request], Any]] = {
    "html_page_200": lambda r: httpx.Response(200, text="<html>502 Bad Gateway</html>"),
    "not_utf8": lambda r: httpx.Response(200, content=b"\xff\xfe\x00"),
    "status_500": lambda r: httpx.Response(500, json={"error": "boom"}),
    "object_without_list": lambda r: httpx.Response(200, json={"data": 7}),
    "a_number": lambda r: httpx.Response(200, json=7),
    "connect_error": _refuse,
    "no_answer": _hang,
}


@pytest.mark.parametrize("name", list(FAILURES))
async def test_every_failed_lookup_is_one_discovery_error(autojump_clock, name):
    client = _client(FAILURES[name])
    t0 = trio.current_time()
    with pytest.raises(DiscoveryError):
        await client.market_by_condition(CID)
    with pytest.raises(DiscoveryError):
        await client.markets_by_slug(["btc-updown-15m-1800000000"])
    await client.aclose()
    # Only the hung lookups took time: the 2 s deadline, twice.
    assert trio.current_time() - t0 == (4.0 if name == "no_answer" else 0.0)


async def test_a_market_that_cannot_be_traded_is_skipped_and_the_rest_counts(autojump_clock):
    client = _client(lambda r: httpx.Response(200, json=["not a market", {"slug": "no-id"}, MARKET]))
    (found,) = await client.markets_by_slug(["any"])
    await client.aclose()
    assert found.condition_id == CID and (found.up_token_id, found.down_token_id) == ("111", "222")
