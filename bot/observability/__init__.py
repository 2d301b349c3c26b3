"""Observability: what the operator sees of the running bot.

- `snapshot`: the frozen `BotStatus`/`MarketStatus` shape every display reads.
- `status`: the rich live screen, plain key=value lines, and the end-of-run summary.
- `metrics`: Prometheus metrics on their own registry, served at `/metrics` (hypercorn, Trio).
- `logs`: stdlib logging setup with JSON lines and secret redaction.
- `loop_lag`: the event-loop lag probe.

Only the snapshot types are re-exported here; import the other modules by name (they pull in rich,
prometheus-client and hypercorn, which a caller of `logs` alone does not need).
"""

from bot.observability.snapshot import (
    BotStatus,
    LadderRow,
    MarketStatus,
    TokenStatus,
    market_status_from_runner,
)

__all__ = ["BotStatus", "LadderRow", "MarketStatus", "TokenStatus", "market_status_from_runner"]
