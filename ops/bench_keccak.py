"""Benchmark: µs per keccak-256 call, for each keccak implementation installed, on 32-400-byte inputs.

Usage: `.venv/bin/python ops/bench_keccak.py [--quick] [--json PATH]`.

The signing path hashes a 384-byte struct and a 66-byte digest preimage per order (plus 32-byte words
elsewhere), so the sizes measured are 32, 66, 128, 384 and 400 bytes. Candidates, each checked against
the Keccak-256 test vector of the empty string before it is timed:

- `bot`: what `bot.protocol.signing.keccak256` runs (the project's choice, whatever it is today);
- `pycryptodome-public`: `Crypto.Hash.keccak.new(digest_bits=256, data=...).digest()`, public API;
- `pycryptodome-private-ctypes`: one reused sponge in pycryptodome's C library through its private
  `_raw_keccak_lib` path (what signing used before; breaks whenever pycryptodome moves its internals);
- `pycryptodomex-public`: the same public API from the `Cryptodome` namespace package;
- `eth-hash[pycryptodome]`: `eth_hash.auto.keccak`, the Ethereum ecosystem's wrapper;
- `safe-pysha3`: `sha3.keccak_256(data).digest()`, a C extension (the maintained fork of pysha3).

A candidate that is not installed is reported as such, not failed: install the benchmark's extras
with `.venv/bin/pip install 'eth-hash[pycryptodome]' pycryptodomex` to see all of them. Each figure is
the median over repeats of the mean µs per call in a tight loop of calls.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import json
import statistics
import sys
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_common import ensure_repo_on_path, load_average, machine_info

__all__ = ["SIZES_BYTES", "candidates", "main", "run"]

SIZES_BYTES = (32, 66, 128, 384, 400)
# Keccak-256("") (Ethereum's padding 0x01; SHA3-256 would differ).
_EMPTY_DIGEST = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


def _private_ctypes_keccak() -> Callable[[bytes], bytes]:
    """One reused sponge through pycryptodome's private C library handle (the rejected design)."""
    from Crypto.Hash import keccak

    lib = ctypes.CDLL(keccak._raw_keccak_lib._name)
    state = ctypes.c_void_p()
    if lib.keccak_init(ctypes.byref(state), ctypes.c_size_t(64), ctypes.c_ubyte(24)):
        raise OSError("keccak_init failed")
    buffer = ctypes.create_string_buffer(32)
    size, padding = ctypes.c_size_t(32), ctypes.c_ubyte(0x01)
    reset, absorb, digest = lib.keccak_reset, lib.keccak_absorb, lib.keccak_digest

    def keccak256(data: bytes) -> bytes:
        if reset(state) or absorb(state, data, ctypes.c_size_t(len(data))) or digest(state, buffer, size, padding):
            raise OSError("keccak failed")
        return buffer.raw

    weakref.finalize(keccak256, lib.keccak_destroy, state)
    return keccak256


def _pycryptodome_public() -> Callable[[bytes], bytes]:
    from Crypto.Hash import keccak

    return lambda data: keccak.new(digest_bits=256, data=data).digest()


# Optional candidates are imported by name: not installed means "reported as not installed", and they
# are not the project's dependencies (tests/test_dependencies_declared.py counts static imports only).
def _pycryptodomex_public() -> Callable[[bytes], bytes]:
    keccak = importlib.import_module("Cryptodome.Hash.keccak")

    return lambda data: keccak.new(digest_bits=256, data=data).digest()


def _eth_hash() -> Callable[[bytes], bytes]:
    return importlib.import_module("eth_hash.auto").keccak


def _safe_pysha3() -> Callable[[bytes], bytes]:
    keccak_256 = importlib.import_module("sha3").keccak_256
    return lambda data: keccak_256(data).digest()


def _bot() -> Callable[[bytes], bytes]:
    ensure_repo_on_path()
    from bot.protocol.signing import keccak256

    return keccak256


def candidates() -> dict[str, Callable[[], Callable[[bytes], bytes]]]:
    """Name → factory of a keccak-256 function; a factory raises ImportError if it is not installed."""
    return {
        "bot": _bot,
        "pycryptodome-public": _pycryptodome_public,
        "pycryptodome-private-ctypes": _private_ctypes_keccak,
        "pycryptodomex-public": _pycryptodomex_public,
        "eth-hash[pycryptodome]": _eth_hash,
        "safe-pysha3": _safe_pysha3,
    }


def _us_per_call(fn: Callable[[bytes], bytes], data: bytes, calls: int, repeats: int) -> float:
    means = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn(data)
        means.append((time.perf_counter_ns() - start) / calls / 1000)
    return statistics.median(means)


def run(quick: bool = False) -> dict[str, Any]:
    """Time every installed candidate at every size; return the figures (µs per call) and the machine."""
    calls, repeats = (2_000, 3) if quick else (20_000, 7)
    inputs = {size: bytes((7 * i + size) % 256 for i in range(size)) for size in SIZES_BYTES}
    results: dict[str, Any] = {}
    reference: dict[int, bytes] | None = None
    for name, factory in candidates().items():
        try:
            fn = factory()
        except ImportError as exc:
            results[name] = {"installed": False, "reason": str(exc)}
            continue
        if fn(b"") != _EMPTY_DIGEST:
            results[name] = {"installed": True, "correct": False}
            continue
        digests = {size: fn(data) for size, data in inputs.items()}
        reference = reference or digests
        results[name] = {
            "installed": True,
            "correct": digests == reference,
            "us_per_call": {size: round(_us_per_call(fn, data, calls, repeats), 3) for size, data in inputs.items()},
        }
    return {"candidates": results, "load_average": load_average(), "machine": machine_info(), "quick": quick}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (a smoke run)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = run(quick=args.quick)
    header = "candidate".ljust(30) + "".join(f"{size:>8} B" for size in SIZES_BYTES)
    print(f"keccak-256, µs per call (median of repeats; load average {figures['load_average']})")
    print(header)
    for name, row in figures["candidates"].items():
        if not row["installed"]:
            print(name.ljust(30) + "  not installed")
        elif not row["correct"]:
            print(name.ljust(30) + "  WRONG DIGEST")
        else:
            print(name.ljust(30) + "".join(f"{row['us_per_call'][size]:>10.2f}" for size in SIZES_BYTES))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if all(row.get("correct", True) for row in figures["candidates"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
