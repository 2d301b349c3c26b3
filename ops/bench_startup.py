"""Benchmark: from process start to the first order acknowledged, `python -m bot` in paper mode.

Usage: `.venv/bin/python ops/bench_startup.py [--quick]` (prints JSON).

Each run starts `python -m bot --duration 30` as a fresh process (non-TTY: output to a file, so the plain
status lines, not the rich screen), with `BOT_JOURNAL_PATH` set to a new file and no other `BOT_*`
setting, in an empty working directory (no `.env`). The run's clock starts just before the process is
spawned; the journal is tailed every 2 ms and the first `post_result` with outcome `live` ends the
measurement (the journal's own `t` is paper time, which runs ahead of the wall clock, so wall time is
taken as the line appears). Milestones on the way (first journal line, market start, first post) give
the breakdown. The process is then stopped with SIGINT (its cancel-all runs) and must exit by itself.
Context, in the same run: the bare interpreter start and the import of the modules paper mode loads.
Target: ≤ 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from bench_common import REPO_ROOT, child_env, spread

__all__ = ["TARGET_S", "run"]

TARGET_S: Final = 2.0
_POLL_S: Final = 0.002
_FIRST_QUOTE_TIMEOUT_S: Final = 60.0
_EXIT_TIMEOUT_S: Final = 30.0
_SAFETY_DURATION_S: Final = "30"  # --duration: the process ends by itself even if we never signal it
# What paper mode imports before it can quote (the CLI, the main job, the simulator, the engine).
_PAPER_IMPORTS: Final = (
    "import bot.cli, bot.main_job, bot.sim.server, bot.sim.venue, bot.engine.supervisor, "
    "bot.observability.status, bot.observability.metrics, bot.status_snapshot"
)


def _wall_of(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=child_env(), cwd=REPO_ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def _one_run(workdir: Path) -> dict[str, Any]:
    journal = workdir / "journal.jsonl"
    out = (workdir / "out.txt").open("wb")
    env = child_env({"BOT_JOURNAL_PATH": str(journal)})
    milestones: dict[str, float] = {}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--duration", _SAFETY_DURATION_S],
        cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
    )
    try:
        offset = 0
        pending = b""
        while "first_live_ack" not in milestones:
            now = time.perf_counter() - started
            if now > _FIRST_QUOTE_TIMEOUT_S or process.poll() is not None:
                raise RuntimeError(f"no acknowledged order after {now:.1f} s (exit code {process.poll()})")
            if journal.exists():
                with journal.open("rb") as f:
                    f.seek(offset)
                    chunk = f.read()
                offset += len(chunk)
                pending += chunk
                lines, _, pending = pending.rpartition(b"\n")
                for line in lines.splitlines():
                    record = json.loads(line)
                    kind = record.get("kind")
                    milestones.setdefault("first_journal_line", now)
                    if kind == "market_start":
                        milestones.setdefault("market_start", now)
                    elif kind == "post":
                        milestones.setdefault("first_post", now)
                    elif kind == "post_result" and record.get("outcome") == "live":
                        milestones.setdefault("first_live_ack", now)
            time.sleep(_POLL_S)
    finally:
        stopping = time.perf_counter()
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            exit_code = process.wait(_EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            exit_code = process.wait()
        out.close()
    return {**{k: round(v, 4) for k, v in milestones.items()}, "exit_code": exit_code,
            "stop_s": round(time.perf_counter() - stopping, 3)}


def run(quick: bool = False) -> dict[str, Any]:
    """Spawn the bot several times; return the start-to-first-quote spread and the verdict."""
    runs = 2 if quick else 5
    python_start = [_wall_of([sys.executable, "-c", "pass"]) for _ in range(3)]
    imports = [_wall_of([sys.executable, "-c", _PAPER_IMPORTS]) for _ in range(2 if quick else 3)]
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-startup-") as workdir:
            samples.append(_one_run(Path(workdir)))
    first = spread([s["first_live_ack"] for s in samples])

    def milestone(name: str) -> dict[str, Any]:
        return spread([s[name] for s in samples if name in s])

    return {
        "benchmark": "python -m bot (paper, non-TTY): process start -> first order acknowledged (journal)",
        "runs": runs,
        "first_live_ack_s": first,
        "milestones_s": {name: milestone(name) for name in ("first_journal_line", "market_start", "first_post")},
        "python_start_s": round(statistics.median(python_start), 3),
        "paper_imports_s": round(statistics.median(imports), 3),
        "exit_codes": [s["exit_code"] for s in samples],
        "stop_after_sigint_s": spread([s["stop_s"] for s in samples]),
        "samples": samples,
        "cpu_count": os.cpu_count(),
        "target_s_max": TARGET_S,
        "meets_target": first["median"] is not None and first["median"] <= TARGET_S,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs instead of 5")
    args = parser.parse_args(argv)
    print(json.dumps(run(quick=args.quick), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
