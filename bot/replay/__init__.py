"""Record, replay and backtest: the market channel in the PMXT v2 Parquet schema, replayed through the
simulator's matching engine with queue-position and latency models, the production engine unchanged.

Module map: `schema` (the 16 columns), `frames` (market-channel payloads ⇄ rows), `writer` (rotated
ZSTD Parquet files), `reader` (files → time-ordered events in 1e6 units), `queue` (queue-position
models), `matcher` (recorded depth + our resting orders → our fills), `latency`, `venue` (the replay
driver of the simulator), `backtest` (the production engine on the fake clock), `report`, `sweep`,
`commands` (the CLI arguments) and `cli` (the command handlers).
"""
