"""Reliability report: run the fault matrix (and the lifecycle property test) and print one table.

    python ops/reliability_report.py [--quick|--long] [--json]

Each matrix row runs the real bot against the in-process simulator on Trio's fake clock, with one fault
injected mid-window (tests/reliability/matrix.py). The table shows, per scenario: pass/FAIL, our open
orders left on the venue, the time to flat (virtual seconds from the fault to the venue's last "zero
orders of ours"), the fills checked against the venue's trades, and the exit. Below it: how many
property-test examples ran (the CI profile with --quick, the nightly one with --long).

`run(quick)` returns the rows as dicts for other tools. Exit status: 0 when every row passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import types
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parent.parent

__all__ = ["format_table", "main", "run", "run_properties"]

# Seeds of the matrix: the quick run uses the first, the long run all of them (other market flows).
_QUICK_SEEDS = (1,)
_LONG_SEEDS = (1, 2, 3, 4, 5)


def _import_tests_package() -> None:
    """Make `tests.*` importable as this repository's test tree.

    A dependency (py_order_utils) installs a top-level package named `tests` into site-packages; as a
    regular package it would shadow our namespace package `tests/`. pytest sidesteps it with
    `--import-mode=importlib`; a script must point the name at the repository itself.
    """
    if str(_REPO) not in sys.path:
        sys.path.insert(0, str(_REPO))
    existing = sys.modules.get("tests")
    if existing is None or str(_REPO / "tests") not in list(getattr(existing, "__path__", [])):
        package = types.ModuleType("tests")
        package.__path__ = [str(_REPO / "tests")]
        sys.modules["tests"] = package


def run(quick: bool = True) -> list[dict[str, Any]]:
    """Run every matrix row (per seed) on a fake clock; one dict per row and seed, in matrix order."""
    _import_tests_package()
    import trio
    import trio.testing

    from tests.reliability.matrix import FAULT_MATRIX, run_row

    rows: list[dict[str, Any]] = []
    for seed in _QUICK_SEEDS if quick else _LONG_SEEDS:
        for row in FAULT_MATRIX:
            started = time.perf_counter()
            try:
                entry = trio.run(
                    lambda row=row, seed=seed: run_row(row, seed=seed),
                    clock=trio.testing.MockClock(autojump_threshold=0),
                ).as_dict()
            except BaseException as exc:  # the harness itself broke (e.g. the simulator died): a FAIL row
                if isinstance(exc, KeyboardInterrupt):
                    raise
                entry = {"scenario": row.name, "result": "FAIL", "open_orders_left": -1, "time_to_flat_s": None,
                         "fills_checked": 0, "exit": "harness error",
                         "problems": [f"{type(exc).__name__}: {_first_leaf(exc)}"]}
            if row.known_issue and entry["result"] == "FAIL":
                entry["result"] = "FAIL (known)"
                entry["problems"].append(f"known issue: {row.known_issue}")
            entry["seed"] = seed
            entry["wall_s"] = round(time.perf_counter() - started, 2)
            rows.append(entry)
    return rows


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def run_properties(quick: bool = True) -> dict[str, int]:
    """Run the lifecycle property test with the CI (quick) or nightly profile; counts what ran."""
    _import_tests_package()
    from tests.reliability.lifecycle import run_lifecycle_examples

    return run_lifecycle_examples("ci" if quick else "nightly")


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table."""
    headers = ("scenario", "seed", "result", "open left", "time to flat (s)", "fills checked", "exit")
    body = [
        (
            r["scenario"],
            str(r.get("seed", "")),
            r["result"],
            str(r["open_orders_left"]),
            "-" if r["time_to_flat_s"] is None else f"{r['time_to_flat_s']:.3f}",
            str(r["fills_checked"]),
            r["exit"],
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in body)
    for r in rows:
        for problem in r["problems"]:
            lines.append(f"  ! {r['scenario']} (seed {r.get('seed')}): {problem}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="one seed, CI property profile (default)")
    mode.add_argument("--long", action="store_true", help="several seeds, nightly property profile")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    parser.add_argument("--no-properties", action="store_true", help="skip the property-test run")
    parser.add_argument("--verbose", action="store_true", help="show the bot's warnings while the rows run")
    args = parser.parse_args(argv)
    if not args.verbose:
        # The rows provoke failures on purpose; the bot's warnings about them would drown the table.
        logging.getLogger().addHandler(logging.NullHandler())
    quick = not args.long
    started = time.perf_counter()
    rows = run(quick)
    props = None if args.no_properties else run_properties(quick)
    if args.json:
        print(json.dumps({"rows": rows, "properties": props}, indent=2))
    else:
        print(format_table(rows))
        passed = sum(r["result"] == "pass" for r in rows)
        print(f"\n{passed}/{len(rows)} scenarios passed in {time.perf_counter() - started:.1f} s wall")
        if props is not None:
            print(
                f"property examples run: {props['examples']} ({props['steps']} steps) "
                f"with the {'ci' if quick else 'nightly'} profile"
            )
    return 0 if all(r["result"] == "pass" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
