"""`/_sim/admin/...`: the simulator's own control surface (faults, actions, markets, stats).

Not part of the venue: never faulted, never rate limited. JSON in and out.
`GET|PUT|DELETE /faults` (the whole plan), `POST /faults/http` (append a rule), `/faults/latency`
({family: s}), `/faults/user-events`, `/faults/ws` ({channel: frames}), `POST /actions` (a `SimAction`:
restart, cancel_only, tick_size, fail_trades, ws_disconnect, storm, …), `GET /markets`, `GET /stats`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.sim.faults import FaultController, FaultPlan, HttpFault, SimAction, UserEventFaults
from bot.sim.gamma import market_state
from bot.sim.routes.common import RestContext, json_response

__all__ = ["admin_routes"]


def admin_routes(
    ctx: RestContext,
    *,
    plan: FaultPlan,
    controller: FaultController | None,
    stats: Callable[[], Mapping[str, Any]],
) -> list[Route]:
    """The admin routes, relative to `ADMIN_PREFIX`."""

    async def get_faults(request: Request) -> Response:
        return json_response(plan.model_dump(mode="json"))

    async def put_faults(request: Request) -> Response:
        try:
            plan.replace_with(FaultPlan.model_validate_json(await request.body()))
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(plan.model_dump(mode="json"))

    async def clear_faults(request: Request) -> Response:
        plan.clear()
        return json_response(plan.model_dump(mode="json"))

    async def add_http_fault(request: Request) -> Response:
        try:
            plan.http.append(HttpFault.model_validate_json(await request.body()))
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(plan.model_dump(mode="json"))

    async def set_latency(request: Request) -> Response:
        try:
            values = orjson.loads(await request.body())
            if not isinstance(values, dict) or not all(
                isinstance(v, int | float) and v >= 0 for v in values.values()
            ):
                raise ValueError("latency must be an object of family -> seconds >= 0")
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        plan.latency_s.update({str(k): float(v) for k, v in values.items()})
        return json_response(plan.model_dump(mode="json"))

    async def set_user_events(request: Request) -> Response:
        try:
            plan.user_events = UserEventFaults.model_validate_json(await request.body())
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(plan.model_dump(mode="json"))

    async def set_ws(request: Request) -> Response:
        try:
            values = orjson.loads(await request.body())
            if not isinstance(values, dict) or not set(values) <= {"market", "user"}:
                raise ValueError("ws faults must be an object with 'market' and/or 'user' frame counts")
            update = {k: int(v) for k, v in values.items()}
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)
        plan.ws_drop_after_frames.update(update)  # type: ignore[arg-type]
        return json_response(plan.model_dump(mode="json"))

    async def apply_action(request: Request) -> Response:
        if controller is None:
            return json_response({"error": "no fault controller"}, 409)
        try:
            action = SimAction.model_validate_json(await request.body())
            return json_response(controller.apply(action))
        except (ValueError, KeyError) as exc:  # bad action, unknown market or mode
            return json_response({"error": f"{type(exc).__name__}: {exc}"}, 400)

    async def markets(request: Request) -> Response:
        now_s = ctx.now_s()
        out = []
        for spec in ctx.exchange.markets():
            state = market_state(ctx.exchange, spec, now_s)
            out.append(
                {
                    "condition_id": spec.condition_id,
                    "slug": spec.slug,
                    "token_ids": [spec.yes_token_id, spec.no_token_id],
                    "start_ts": spec.start_ts,
                    "end_ts": spec.end_ts,
                    "tick_size": state.tick_size,
                    "accepting_orders": state.accepting_orders,
                }
            )
        return json_response(out)

    async def get_stats(request: Request) -> Response:
        return json_response(dict(stats()))

    return [
        Route("/faults", get_faults, methods=["GET"]),
        Route("/faults", put_faults, methods=["PUT", "POST"]),
        Route("/faults", clear_faults, methods=["DELETE"]),
        Route("/faults/http", add_http_fault, methods=["POST"]),
        Route("/faults/latency", set_latency, methods=["POST"]),
        Route("/faults/user-events", set_user_events, methods=["POST"]),
        Route("/faults/ws", set_ws, methods=["POST"]),
        Route("/actions", apply_action, methods=["POST"]),
        Route("/markets", markets, methods=["GET"]),
        Route("/stats", get_stats, methods=["GET"]),
    ]
