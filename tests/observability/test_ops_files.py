"""Facts the deployment files must keep: stop timeout above the cancel-all bound, no restart on a config
error, alerts on metrics that exist, a runbook whose exit codes match the code."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bot.exit_codes as exit_codes
from bot.observability.metrics import Metrics
from settings import BotSettings

REPO = Path(__file__).resolve().parents[2]
OPS = REPO / "ops"
UNIT = OPS / "systemd" / "polymarket-maker.service"
ENV_EXAMPLE = OPS / "systemd" / "polymarket-maker.env.example"
ALERTS = OPS / "prometheus" / "alerts.yml"
RUNBOOK = OPS / "RUNBOOK.md"
SECRET_FIELDS = ("private_key", "api_key", "api_secret", "api_passphrase")
REQUIRED_ALERTS = (
    "PmmHeartbeatStale",
    "PmmOrdersLiveAfterCutoff",
    "PmmUnexpectedRejectRate",
    "PmmUnknownOrderStorm",
    "PmmWebSocketDown",
    "PmmEventLoopLagHigh",
    "PmmCancelAllNotVerified",
)


def _unit(path: Path = UNIT) -> dict[str, list[str]]:
    """`Key=value` lines of a unit file, keyed `Section.Key`; a key may repeat."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return out


def _systemd_seconds(text: str) -> float:
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text):
        total += float(number) * units[unit]
    return total


def _upper_bound(field: str) -> float:
    bounds = [
        getattr(m, "le", None) or getattr(m, "lt", None) for m in BotSettings.model_fields[field].metadata
    ]
    return max(b for b in bounds if b is not None)


def test_stop_timeout_outlasts_the_longest_allowed_cancel_all() -> None:
    unit = _unit()
    timeout_s = _systemd_seconds(unit["Service.TimeoutStopSec"][-1])
    assert timeout_s > _upper_bound("cancel_all_timeout_s"), (
        "systemd would SIGKILL the bot inside its cancel-all"
    )
    assert unit["Service.KillSignal"] == ["SIGTERM"]


def test_exit_codes_drive_restart_policy() -> None:
    unit = _unit()
    assert unit["Service.Restart"] == ["on-failure"]
    no_restart = {int(code) for value in unit["Service.RestartPreventExitStatus"] for code in value.split()}
    assert exit_codes.EXIT_CONFIG in no_restart
    success = {int(code) for value in unit["Service.SuccessExitStatus"] for code in value.split()}
    assert exit_codes.EXIT_SIGNAL in success
    # A crash must restart: it may not be listed as success or as no-restart.
    assert exit_codes.EXIT_CRASH not in no_restart | success


def test_unit_is_hardened_and_can_write_only_the_journal_directory() -> None:
    unit = _unit()
    assert unit["Service.NoNewPrivileges"] == ["yes"]
    assert unit["Service.ProtectSystem"] == ["strict"]
    assert unit["Service.EnvironmentFile"], "secrets come from an EnvironmentFile"
    journal = next(
        v.split("=", 1)[1] for v in unit["Service.Environment"] if v.startswith("BOT_JOURNAL_PATH=")
    )
    writable = " ".join(unit["Service.ReadWritePaths"]).split()
    assert str(Path(journal).parent) in writable
    assert unit["Service.User"] and unit["Service.User"] != ["root"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    # The real paths do not exist here: point the commands at this interpreter, keep everything else.
    text = UNIT.read_text(encoding="utf-8").replace("/opt/polymarket-maker/.venv/bin/python", sys.executable)
    copy = tmp_path / UNIT.name
    copy.write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def _env_example() -> dict[str, str]:
    """Every `BOT_X=value` of the example, commented-out lines included (`#BOT_X=`)."""
    out: dict[str, str] = {}
    for raw in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?\s*(BOT_[A-Z0-9_]+)=(.*)$", raw.strip())
        if match:
            out[match.group(1)] = match.group(2)
    return out


def test_env_example_lists_every_secret_empty_and_only_real_settings() -> None:
    example = _env_example()
    for field in SECRET_FIELDS:
        assert example.get(f"BOT_{field.upper()}") == "", f"BOT_{field.upper()} must be present and empty"
    known = {f"BOT_{name.upper()}" for name in BotSettings.model_fields}
    assert set(example) <= known, f"not settings: {sorted(set(example) - known)}"


def test_env_example_keeps_the_cancel_all_bound_under_the_stop_timeout() -> None:
    bound = float(_env_example()["BOT_CANCEL_ALL_TIMEOUT_S"])
    assert bound < _systemd_seconds(_unit()["Service.TimeoutStopSec"][-1])


def test_containerfile_runs_the_bot_unprivileged_and_stops_with_sigterm() -> None:
    lines = [line.strip() for line in (OPS / "Containerfile").read_text(encoding="utf-8").splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert "STOPSIGNAL SIGTERM" in instructions
    assert 'ENTRYPOINT ["python", "-m", "bot"]' in instructions
    # Installed with the lock file's exact versions, which the image must therefore contain.
    assert any(line.startswith("RUN pip install -c requirements.lock .") for line in instructions)
    assert any(line.startswith("COPY ") and "requirements.lock" in line.split() for line in instructions)


def _alert_rules() -> list[dict[str, str]]:
    """A minimal reading of the rules file (no YAML parser needed for it): each `- alert:` block's keys."""
    rules: list[dict[str, str]] = []
    for raw in ALERTS.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#") or not line:
            continue
        if line.startswith("- alert:"):
            rules.append({"alert": line.split(":", 1)[1].strip()})
        elif rules and re.match(r"^[a-z_]+:", line):
            key, _, value = line.partition(":")
            rules[-1].setdefault(key, value.strip())
    return rules


def _exported_names() -> set[str]:
    names: set[str] = set()
    for family in Metrics().registry.collect():
        base = family.name
        names |= {base, *(base + suffix for suffix in ("_total", "_created", "_bucket", "_count", "_sum"))}
    return names


def test_alert_rules_cover_the_required_alerts_and_name_only_exported_metrics() -> None:
    text = ALERTS.read_text(encoding="utf-8")
    assert "\t" not in text, "YAML forbids tabs"
    assert text.lstrip().startswith("# ") and "\ngroups:\n" in text
    rules = _alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    assert set(REQUIRED_ALERTS) <= set(names)
    exported = _exported_names()
    for rule in rules:
        assert rule.get("expr"), rule
        assert rule.get("severity") in ("critical", "warning"), rule
        for metric in re.findall(r"\bpmm_[a-z_]+", rule["expr"]):
            assert metric in exported, f"{rule['alert']} uses {metric}, which metrics.py does not export"


def test_alert_thresholds_match_the_documented_limits() -> None:
    rules = {rule["alert"]: rule for rule in _alert_rules()}
    assert rules["PmmHeartbeatStale"]["expr"] == "pmm_heartbeat_age_seconds > 8"
    assert rules["PmmEventLoopLagHigh"]["expr"].endswith("> 0.010")
    assert rules["PmmOrdersLiveAfterCutoff"]["expr"].endswith("> 0")


def test_runbook_explains_every_alert() -> None:
    headings = set(re.findall(r"^### (\w+)$", RUNBOOK.read_text(encoding="utf-8"), flags=re.MULTILINE))
    for rule in _alert_rules():
        assert rule["alert"] in headings, f"RUNBOOK.md has no section for {rule['alert']}"


def test_runbook_exit_code_table_matches_the_code() -> None:
    rows = {
        int(match.group(1)): match.group(2)
        for match in re.finditer(
            r"^\| (\d+) \| `(EXIT_[A-Z_]+)` \|", RUNBOOK.read_text(encoding="utf-8"), re.MULTILINE
        )
    }
    constants = {
        value: name
        for name, value in vars(exit_codes).items()
        if name.startswith("EXIT_") and isinstance(value, int)
    }
    assert rows == constants


def test_scale_out_uses_template_units_with_per_instance_env_files() -> None:
    text = (OPS / "SCALE_OUT.md").read_text(encoding="utf-8")
    assert "polymarket-maker@.service" in text
    assert "EnvironmentFile=/etc/polymarket-maker/%i.env" in text
    assert "One API key per process" in text
