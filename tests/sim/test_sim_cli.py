"""`python -m bot sim` (via `python -m bot.sim.server`): one ready line, loopback only, clean exit on signals.

The process scenarios spawn the real server on 127.0.0.1 and bound every wait with a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from bot.sim.server import cli_sim

READY_TIMEOUT_S = 30.0
EXIT_TIMEOUT_S = 15.0
REPO = Path(__file__).resolve().parents[2]


def _spawn(*extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.sim.server",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--window-s",
            "150",
            *extra,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ready_line(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    readable, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT_S)
    if not readable:
        proc.kill()
        pytest.fail(f"no ready line within {READY_TIMEOUT_S} s")
    line = proc.stdout.readline()
    if not line:
        _, err = proc.communicate(timeout=EXIT_TIMEOUT_S)
        pytest.fail(f"server exited before the ready line: {err}")
    return json.loads(line)


def _stop(proc: subprocess.Popen[str], signum: int) -> tuple[int, str, str]:
    os.kill(proc.pid, signum)
    try:
        out, err = proc.communicate(timeout=EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, out, err


@pytest.mark.slow
def test_prints_one_ready_line_serves_loopback_and_exits_0_on_sigint(tmp_path: Path) -> None:
    plan = tmp_path / "faults.json"
    plan.write_text(
        json.dumps({"http": [{"kind": "status", "families": ["public"], "count": 1, "status": 503}]})
    )
    proc = _spawn("--seed", "3", "--faults", str(plan))
    try:
        ready = _ready_line(proc)
        assert {"rest", "ws_market", "ws_user", "gamma", "admin", "markets"} <= set(ready)
        assert ready["rest"].startswith("http://127.0.0.1:") and ready["ws_market"].endswith("/ws/market")
        market = ready["markets"][0]
        # The first market listed may be one whose window began before the start, its price already near 0
        # or 1: the venue's tick is then 0.001 (its flow comes from the wall clock's window).
        assert len(market["token_ids"]) == 2 and market["tick_size"] in ("0.01", "0.001") and market["end_ts"] > 0
        assert market["slug"].startswith("btc-updown-15m-")
        # The fault plan file was loaded: the first public request fails, the next one is served.
        assert httpx.get(ready["rest"] + "/ok", timeout=5).status_code == 503
        assert httpx.get(ready["rest"] + "/ok", timeout=5).json() == "OK"
        # Found by its slug, among the open markets or (if its window ended since the ready line, as on a
        # slow machine it may) the closed ones: exactly once.
        gamma = [m for closed in ("false", "true")
                 for m in httpx.get(ready["gamma"] + "/markets", params={"slug": market["slug"], "closed": closed},
                                    timeout=5).json()]
        assert [m["conditionId"] for m in gamma] == [market["condition_id"]]
        assert httpx.get(ready["admin"] + "/faults", timeout=5).json()["http"][0]["count"] == 0

        async def first_book() -> list[dict[str, Any]]:
            with trio.fail_after(10):
                async with open_websocket_url(ready["ws_market"]) as ws:
                    await ws.send_message(
                        json.dumps({"type": "market", "assets_ids": market["token_ids"][:1]})
                    )
                    return json.loads(await ws.get_message())

        assert [b["asset_id"] for b in trio.run(first_book)] == market["token_ids"][:1]
        code, out, _err = _stop(proc, signal.SIGINT)
        assert (code, out) == (0, "")  # exactly one line was printed, and it was read above
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
def test_exits_0_on_sigterm() -> None:
    proc = _spawn("--seed", "4")
    try:
        _ready_line(proc)
        code, _out, _err = _stop(proc, signal.SIGTERM)
        assert code == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def _args(**overrides: Any) -> argparse.Namespace:
    values = {"host": "127.0.0.1", "port": 0, "window_s": 150.0, "seed": 1, "faults": None, **overrides}
    return argparse.Namespace(**values)


def test_a_non_loopback_host_is_refused_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_sim(_args(host="0.0.0.0")) == 2
    assert "non-loopback" in capsys.readouterr().err
    assert cli_sim(_args(host="192.168.1.10")) == 2


def test_an_unreadable_fault_plan_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"http": [{"kind": "explode"}]}')
    assert cli_sim(_args(faults=bad)) == 2
    assert cli_sim(_args(faults=tmp_path / "missing.json")) == 2
    assert "bot sim:" in capsys.readouterr().err
