"""The simulator's REST routes, one module per route family (assembled by `bot.sim.rest_app`).

`common` (error shape, config, cursors), `auth` (L1/L2 checks, `/auth/...`), `markets` (public data),
`orders` (placement and the order-signature check), `cancels`, `account` (orders, trades, heartbeats,
balances) and `admin` (`/_sim/admin`, not the venue).
"""
