"""Shared helpers of the benchmark figures: summaries with spread, percentiles, the machine, child processes.

Every figure is reported the same way: the median of several runs with the spread (min-max) of those
runs, so a reader sees at once how much a busy machine moved it. Figures that need a fresh process (their
own event loop, their own memory) run as a child `python ops/bench_X.py --child ...` that prints one JSON
object as its last stdout line; `run_child` starts it and returns that object.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import trio

__all__ = [
    "REPO_ROOT",
    "ChildFailed",
    "LineReader",
    "child_env",
    "ensure_repo_on_path",
    "load_average",
    "machine_info",
    "percentile",
    "rss_mb",
    "run_child",
    "sched_s",
    "spread",
]

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
_OPS_DIR: Final = REPO_ROOT / "ops"
_KB_PER_MB: Final = 1024.0
_STDERR_TAIL_CHARS: Final = 4000  # enough of a failing child's stderr to see its traceback


class ChildFailed(RuntimeError):
    """A benchmark child process exited non-zero or printed no JSON result."""


def ensure_repo_on_path() -> None:
    """Import this working tree's `bot`, `settings`, `statemachines`, whatever the venv points at."""
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)


def spread(values: Sequence[float], ndigits: int = 3) -> dict[str, Any]:
    """{"median", "min", "max", "runs"} of the per-run values (rounded for the JSON)."""
    if not values:
        return {"median": None, "min": None, "max": None, "runs": 0}
    return {
        "median": round(statistics.median(values), ndigits),
        "min": round(min(values), ndigits),
        "max": round(max(values), ndigits),
        "runs": len(values),
    }


def percentile(values: Sequence[float], quantile: float) -> float:
    """Nearest-rank percentile (always an observed value). ValueError on an empty sequence."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(quantile * len(ordered)))
    return ordered[rank - 1]


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine_info() -> dict[str, Any]:
    """nproc, CPU model, Python version and the load average now."""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "load_average": load_average(),
    }


def rss_mb() -> dict[str, float]:
    """This process's resident memory now (VmRSS) and its peak (VmHWM), in MiB (Linux /proc)."""
    out: dict[str, float] = {}
    try:
        with open("/proc/self/status", encoding="utf-8") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = round(int(value.split()[0]) / _KB_PER_MB, 1)
    except OSError:
        pass
    return {"rss_mb": out.get("VmRSS", math.nan), "peak_rss_mb": out.get("VmHWM", math.nan)}


def sched_s() -> dict[str, float]:
    """This process's time on a CPU and time runnable but waiting for one (Linux /proc/self/schedstat).

    The wait is what a busy machine costs us: a large wait beside a loop-lag or latency figure says the
    figure was the machine's, not the code's.
    """
    try:
        with open("/proc/self/schedstat", encoding="utf-8") as schedstat:
            run_ns, wait_ns, _ = (int(x) for x in schedstat.read().split())
    except (OSError, ValueError):
        return {"cpu_s": math.nan, "runqueue_wait_s": math.nan}
    return {"cpu_s": run_ns / 1e9, "runqueue_wait_s": wait_ns / 1e9}


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child: no BOT_* settings leaking in from the caller, this tree importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    if extra:
        env.update(extra)
    return env


def run_child(script: str, args: Sequence[str], *, timeout_s: float) -> dict[str, Any]:
    """Run `python ops/<script> --child <args>` and return the JSON object on its last stdout line.

    Raises `ChildFailed` (with the tail of its stderr) if it exits non-zero, times out or prints no JSON.
    """
    import json

    command = [sys.executable, str(_OPS_DIR / script), "--child", *args]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, env=child_env(), cwd=REPO_ROOT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-_STDERR_TAIL_CHARS:]
        raise ChildFailed(f"{script} timed out after {timeout_s:.0f} s: {tail!r}") from None
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        # The child's traceback if it printed one (log lines after it would push it out of a plain tail).
        start = done.stderr.rfind("Traceback (most recent call last)")
        shown = done.stderr[start:] if start >= 0 else done.stderr
        raise ChildFailed(f"{script} exited {done.returncode}: {shown[-_STDERR_TAIL_CHARS:]}")
    try:
        result = json.loads(lines[-1])
    except ValueError:
        raise ChildFailed(f"{script} printed no JSON result: {lines[-1][:200]!r}") from None
    if not isinstance(result, dict):
        raise ChildFailed(f"{script} printed {type(result).__name__}, not an object")
    return result


class LineReader:
    """Whole lines from a byte stream (the simulator child's stdout)."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = b""

    async def readline(self) -> str:
        """The next line without its newline; EOFError when the stream ended first."""
        while b"\n" not in self._buffer:
            chunk = await self._stream.receive_some()
            if not chunk:
                raise EOFError("the simulator child closed its output")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()
