"""The simulator's REST front: the CLOB V2 HTTP API as a Starlette ASGI app, byte-faithful where known.

Spec: docs/protocol/polymarket-clob.md sections 1 (endpoints, shapes, cursors, status-by-message),
2 (L1/L2 auth), 3.3 (order id = EIP-712 hash), 5 (errors and responses), 7 (rate limits), 10 (checklist).

Layers, outermost first (`SimRestApp.__call__`):
1. `/_sim/admin/...` goes straight to the admin routes: never faulted, never rate limited.
2. The fault plan (`bot.sim.faults`): latency, injected statuses, 429 bursts, hangs, dropped connections,
   and "landed" hangs/drops (the engine processes the request, the client never hears back).
3. The edge limiter (Cloudflare, spec 7(a)): short queueing, then 429 + Retry-After.
4. The Starlette routes, one module per family in `bot.sim.routes`: `auth` (L1/L2, API keys),
   `markets` (public data), `prices`, `listings` (market lists, rewards, order scoring), `orders` (decoding, the order-signature check, per-signer limits, the
   engine), `cancels`, `account` (orders, trades, heartbeats, balances) and `admin`.

This module holds only the outer layers and the assembly.

Time: handlers read the engine's clock (`now_s`) and Trio's clock, never the wall clock, so the whole
front runs in-process under `httpx.ASGITransport` on Trio's fake clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
import trio
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.protocol.constants import ERR_TOO_MANY_REQUESTS
from bot.sim.apikeys import ApiKeyStore
from bot.sim.faults import FaultController, FaultPlan, HttpFault, fault_family
from bot.sim.gamma import build_gamma_app
from bot.sim.ratelimit import HEADER_RETRY_AFTER, EdgeLimiter, SignerLimiter, endpoint_family
from bot.sim.routes.account import account_routes
from bot.sim.routes.admin import admin_routes
from bot.sim.routes.auth import Authenticator, auth_routes
from bot.sim.routes.cancels import cancel_routes
from bot.sim.routes.common import ADMIN_PREFIX, RestConfig, RestContext, error_response, status_for_message
from bot.sim.routes.listings import listing_routes
from bot.sim.routes.markets import market_routes
from bot.sim.routes.orders import order_routes
from bot.sim.routes.prices import price_routes
from bot.sim.wallets import wallet_admin_routes, wallet_routes

if TYPE_CHECKING:
    from bot.sim.engine import Exchange

__all__ = [
    "ADMIN_PREFIX",
    "ConnectionDropped",
    "RestConfig",
    "SimRestApp",
    "status_for_message",
]

# What a CDN in front of an API serves when its origin fails: a 200 page that is not JSON.
_GARBAGE_BODY = "<html><body>502 Bad Gateway</body></html>"
_DEFAULT_FAULT_TEXT = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ConnectionDropped(Exception):
    """Raised by the app to cut the connection mid-response (fault `drop`); transports map it."""


class SimRestApp:
    """The simulator's venue-faithful REST front (ASGI); see the module docstring for the layers.

    Attributes tests reach for: `plan` (the `FaultPlan`), `keys` (the `ApiKeyStore`), `controller`.
    """

    def __init__(
        self,
        exchange: Exchange,
        *,
        now_s: Callable[[], float],
        keys: ApiKeyStore | None = None,
        plan: FaultPlan | None = None,
        controller: FaultController | None = None,
        config: RestConfig | None = None,
        hub_stats: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self.exchange = exchange
        self.config = config or RestConfig()
        self.keys = keys if keys is not None else ApiKeyStore()  # an empty store is falsy (__len__)
        self.plan = plan or FaultPlan()
        self.controller = controller
        self._now_s = now_s
        self._hub_stats = hub_stats
        self._edge = EdgeLimiter(self.config.rate_limits)
        self._signer = SignerLimiter(self.config.rate_limits)
        self._counts: Counter[str] = Counter()
        ctx = RestContext(
            exchange=exchange, config=self.config, keys=self.keys, now_s=now_s, signer_limiter=self._signer
        )
        auth = Authenticator(ctx)
        routes = [
            *market_routes(ctx),
            *price_routes(ctx),
            *listing_routes(ctx, auth),
            *auth_routes(ctx, auth),
            *order_routes(ctx, auth),
            *cancel_routes(ctx, auth),
            *account_routes(ctx, auth),
            *wallet_routes(exchange),
            Mount("/gamma", app=build_gamma_app(exchange, now_s=now_s)),
            Mount(
                ADMIN_PREFIX,
                routes=[
                    *admin_routes(ctx, plan=self.plan, controller=controller, stats=self._stats),
                    *wallet_admin_routes(exchange),
                ],
            ),
        ]
        self._app = Starlette(routes=routes)

    def __repr__(self) -> str:
        return f"<SimRestApp requests={sum(self._counts.values())} keys={len(self.keys)}>"

    def _stats(self) -> dict[str, Any]:
        return {
            "requests": dict(self._counts),
            "edge_limits": self._edge.statistics(),
            "signer_limits": self._signer.statistics(),
            "ws": dict(self._hub_stats()) if self._hub_stats else {},
            "api_keys": len(self.keys),
        }

    # --- the outer layers -------------------------------------------------------------------------

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self._app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        family = fault_family(method, path)
        self._counts[family or "other"] += 1  # by family: paths carry ids, families are a fixed set
        decision = self.plan.http_decision(family)
        if decision.latency_s > 0:
            await trio.sleep(decision.latency_s)
        fault = decision.fault
        if fault is not None and not (fault.landed and fault.kind in ("hang", "drop")):
            await self._inject(fault, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        edge = self._edge.check(client, endpoint_family(method, path))
        if not edge.allowed:
            response = error_response(
                ERR_TOO_MANY_REQUESTS, 429, headers={HEADER_RETRY_AFTER: str(edge.retry_after_s)}
            )
            await response(scope, receive, send)
            return
        if edge.wait_s > 0:
            await trio.sleep(edge.wait_s)
        if fault is None:
            await self._app(scope, receive, send)
            return

        # A landed fault: the venue does the work, the answer is lost on the way back.
        async def discard(message: Mapping[str, Any]) -> None:
            return None

        await self._app(scope, receive, discard)
        await self._inject(fault, receive, send)

    async def _inject(self, fault: HttpFault, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if fault.kind == "status":
            await self._send_raw(
                send, fault.status, {"error": fault.message or _DEFAULT_FAULT_TEXT.get(fault.status, "error")}
            )
        elif fault.kind == "rate_limit":
            headers = {HEADER_RETRY_AFTER: str(fault.retry_after_s)}
            await self._send_raw(send, 429, {"error": fault.message or ERR_TOO_MANY_REQUESTS}, headers)
        elif fault.kind == "garbage":
            payload = (fault.message if fault.message is not None else _GARBAGE_BODY).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
        elif fault.kind == "hang":
            # No answer until the client gives up (it disconnects, or cancels the in-process call).
            with trio.move_on_after(self.config.hang_max_s):
                while (await receive())["type"] != "http.disconnect":
                    pass
        else:  # drop: promise a body, then cut the connection
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
            )
            raise ConnectionDropped("simulated connection drop")

    @staticmethod
    async def _send_raw(
        send: Callable[..., Any], status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        payload = orjson.dumps(body)
        raw_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": payload})
