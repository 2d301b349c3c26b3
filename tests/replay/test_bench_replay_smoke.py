"""`ops/bench_replay.py` runs end to end on a short synthetic recording (no timing is judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_replay_measures_every_mode(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "ops/bench_replay.py", "--seconds", "20", "--rate", "5", "--keep", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=True,
    )
    for row in ("bare read", "replay only", "backtest", "conflated 250 ms"):
        assert row in done.stdout
    assert (tmp_path / "busy-hour.parquet").exists()
