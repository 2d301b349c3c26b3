"""Which shard of N trades a series (or market): the same answer in every process, on every machine.

Guarantees: for N ≥ 1 every key is owned by exactly one shard index in `[0, N)`; the answer depends on
the key's text and N only (a keyed BLAKE2b digest, never Python's per-process salted `hash()`); when N
grows to N + 1 only the keys that the new shard wins move (about 1/(N+1) of them), so a scale-out does
not reshuffle the markets of the pods that keep running.

How: rendezvous (highest-random-weight) hashing. Each shard scores the key with a 64-bit digest of
(shard index, key); the highest score owns it. O(N) per key, which is nothing at the handful of series
and ≤ 100 shards this serves. Rejected: `digest(key) % N`, which moves most keys whenever N changes.
The supervisor applies it to the followed series (`BOT_SERIES`), so every window of a series stays on
one shard and its rollover runs in one process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["owned", "shard_of"]


def _score(shard_index: int, key: str) -> int:
    digest = hashlib.blake2b(key.encode(), digest_size=8, person=b"pmm-shard", salt=shard_index.to_bytes(16, "big"))
    return int.from_bytes(digest.digest(), "big")


def shard_of(key: str, shard_count: int) -> int:
    """The index in `[0, shard_count)` of the shard that owns `key`. Raises ValueError if shard_count < 1."""
    if shard_count < 1:
        raise ValueError(f"shard_count must be >= 1, got {shard_count}")
    # Ties (a 2^-64 event) go to the lower index, so the answer is still unique.
    return max(range(shard_count), key=lambda index: (_score(index, key), -index))


def owned(keys: Iterable[str], shard_index: int, shard_count: int) -> list[str]:
    """The keys (in their order) that shard `shard_index` of `shard_count` owns.

    Raises ValueError unless 0 <= shard_index < shard_count.
    """
    if not 0 <= shard_index < shard_count:
        raise ValueError(f"shard index {shard_index} is not in [0, {shard_count})")
    return [key for key in keys if shard_of(key, shard_count) == shard_index]
