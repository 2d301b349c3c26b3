"""Settings: defaults, bounds, the fixed BOT_* names, TOML via --config, frozen, strict, secrets masked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from settings import BotMode, BotSettings, SettingsError, load_settings
from settings.model import LIVE_CLOB_URL, LIVE_GAMMA_URL, LIVE_WS_MARKET_URL, LIVE_WS_USER_URL

PRIVATE_KEY = "0x" + "5a" * 32
MASK = "**********"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No BOT_* variable from the host and no stray .env: each test sees only what it sets."""
    for name in list(os.environ):
        if name.upper().startswith("BOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def settings_error(**env: str) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            load_settings()
    return caught.value.lines


def test_defaults_are_paper_mode_on_the_embedded_simulator() -> None:
    settings = load_settings()
    assert settings.mode is BotMode.PAPER
    assert (settings.ladder_levels, settings.quote_cutoff_s, settings.startup_cancel_all) == (3, 60.0, True)
    assert (settings.market, settings.series) == ("auto", ["btc-updown-15m"])
    assert (settings.metrics_port, settings.journal_path, settings.private_key) == (None, None, None)
    assert (settings.heartbeat_interval_s, settings.max_post_batch, settings.max_cancel_batch) == (
        5.0,
        15,
        1000,
    )
    assert settings.effective_clob_url is None and settings.effective_ws_user_url is None


def test_live_mode_defaults_to_the_real_venue_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_MODE", "live")
    monkeypatch.setenv("BOT_PRIVATE_KEY", PRIVATE_KEY)
    settings = load_settings()
    assert (settings.effective_clob_url, settings.effective_ws_market_url) == (
        LIVE_CLOB_URL,
        LIVE_WS_MARKET_URL,
    )
    assert (settings.effective_ws_user_url, settings.effective_gamma_url) == (
        LIVE_WS_USER_URL,
        LIVE_GAMMA_URL,
    )


@pytest.mark.parametrize(
    ("env_name", "raw", "field", "expected"),
    [
        ("BOT_MODE", "live", "mode", BotMode.LIVE),
        ("BOT_CLOB_URL", "http://127.0.0.1:8080", "clob_url", "http://127.0.0.1:8080"),
        (
            "BOT_WS_MARKET_URL",
            "ws://127.0.0.1:8081/ws/market",
            "ws_market_url",
            "ws://127.0.0.1:8081/ws/market",
        ),
        ("BOT_WS_USER_URL", "ws://127.0.0.1:8081/ws/user", "ws_user_url", "ws://127.0.0.1:8081/ws/user"),
        ("BOT_GAMMA_URL", "http://127.0.0.1:8082", "gamma_url", "http://127.0.0.1:8082"),
        ("BOT_MARKET", "0x" + "cd" * 32, "market", "0x" + "cd" * 32),
        ("BOT_SERIES", "btc-updown-15m, eth-updown-5m", "series", ["btc-updown-15m", "eth-updown-5m"]),
        (
            "BOT_JOURNAL_PATH",
            "/var/lib/bot/journal.jsonl",
            "journal_path",
            Path("/var/lib/bot/journal.jsonl"),
        ),
        ("BOT_LADDER_LEVELS", "5", "ladder_levels", 5),
        ("BOT_QUOTE_CUTOFF_S", "90", "quote_cutoff_s", 90.0),
        ("BOT_STARTUP_CANCEL_ALL", "false", "startup_cancel_all", False),
        ("BOT_METRICS_PORT", "9100", "metrics_port", 9100),
    ],
)
def test_each_fixed_environment_name_sets_its_field(
    monkeypatch: pytest.MonkeyPatch, env_name: str, raw: str, field: str, expected: object
) -> None:
    monkeypatch.setenv(env_name, raw)
    if env_name == "BOT_MODE":
        monkeypatch.setenv("BOT_PRIVATE_KEY", PRIVATE_KEY)  # live mode refuses to start without it
    assert getattr(load_settings(), field) == expected


def test_private_key_from_the_environment_is_normalised_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_PRIVATE_KEY", "5A" * 32)  # no 0x, upper case
    settings = load_settings()
    assert settings.private_key is not None
    assert settings.private_key.get_secret_value() == PRIVATE_KEY
    for shown in (repr(settings), str(settings), str(settings.masked()), settings.model_dump_json()):
        assert "5a" * 32 not in shown.lower()
    assert settings.masked()["private_key"] == MASK


def test_every_secret_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_PRIVATE_KEY", PRIVATE_KEY)
    monkeypatch.setenv("BOT_API_KEY", "key-uuid-secret-1")
    monkeypatch.setenv("BOT_API_SECRET", "c2VjcmV0LXNlY3JldA==")
    monkeypatch.setenv("BOT_API_PASSPHRASE", "pass-phrase-secret")
    masked = load_settings().masked()
    assert [masked[name] for name in ("private_key", "api_key", "api_secret", "api_passphrase")] == [MASK] * 4
    text = repr(masked)
    for secret in ("5a" * 32, "key-uuid-secret-1", "c2VjcmV0LXNlY3JldA==", "pass-phrase-secret"):
        assert secret not in text


@pytest.mark.parametrize(
    ("env_name", "raw"),
    [
        ("BOT_LADDER_LEVELS", "0"),
        ("BOT_LADDER_LEVELS", "21"),
        ("BOT_QUOTE_CUTOFF_S", "-1"),
        ("BOT_HEARTBEAT_INTERVAL_S", "10"),  # the venue cancels everything after 10 s of silence
        ("BOT_MAX_POST_BATCH", "16"),  # venue maximum 15 per POST /orders
        ("BOT_METRICS_PORT", "70000"),
        ("BOT_LOG_LEVEL", "TRACE"),
        ("BOT_MODE", "staging"),
        ("BOT_SERIES", "btc-15m"),
        ("BOT_STARTUP_CANCEL_ALL", "perhaps"),
    ],
)
def test_out_of_bounds_value_names_the_field_and_its_environment_name(env_name: str, raw: str) -> None:
    lines = settings_error(**{env_name: raw})
    assert len(lines) == 1
    field = env_name.removeprefix("BOT_").lower()
    assert lines[0].startswith(f"invalid setting {field} ({env_name}): value ")


def test_each_bad_field_gets_its_own_line() -> None:
    lines = settings_error(BOT_LADDER_LEVELS="0", BOT_QUOTE_CUTOFF_S="-5", BOT_MAX_MARKETS="0")
    assert sorted(line.split()[2] for line in lines) == ["ladder_levels", "max_markets", "quote_cutoff_s"]


def test_cross_field_rules_are_checked() -> None:
    assert any(
        "backoff_max_s must be >= backoff_base_s" in line
        for line in settings_error(BOT_BACKOFF_BASE_S="10", BOT_BACKOFF_MAX_S="5")
    )
    assert any("live mode needs BOT_PRIVATE_KEY" in line for line in settings_error(BOT_MODE="live"))
    assert any("api_passphrase" in line for line in settings_error(BOT_API_KEY="only-the-key"))


def test_bad_private_key_is_reported_without_its_value() -> None:
    bad_key = "0x" + "5a" * 31 + "zz"
    lines = settings_error(BOT_PRIVATE_KEY=bad_key)
    assert len(lines) == 1 and "private_key (BOT_PRIVATE_KEY)" in lines[0]
    assert "5a" * 31 not in lines[0] and "<hidden>" in lines[0]


def test_toml_config_file_sets_fields_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(
        'ladder_levels = 4\nseries = ["eth-updown-5m"]\nquote_cutoff_s = 75.5\n', encoding="utf-8"
    )
    settings = load_settings(config)
    assert (settings.ladder_levels, settings.series, settings.quote_cutoff_s) == (4, ["eth-updown-5m"], 75.5)
    monkeypatch.setenv("BOT_LADDER_LEVELS", "6")
    assert load_settings(config).ladder_levels == 6
    # The file is read for that call only: the next load without it is back to defaults.
    monkeypatch.delenv("BOT_LADDER_LEVELS")
    assert load_settings().ladder_levels == 3


def test_dotenv_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BOT_LADDER_LEVELS=7\n", encoding="utf-8")
    assert load_settings().ladder_levels == 7


def test_missing_config_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path / "absent.toml")
    assert len(caught.value.lines) == 1 and "does not exist" in caught.value.lines[0]


def test_unknown_keys_are_refused_in_toml_dotenv_and_arguments(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text("ladder_levls = 4\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    assert [
        "ladder_levls" in line and "Extra inputs are not permitted" in line for line in caught.value.lines
    ] == [True]
    (tmp_path / ".env").write_text("BOT_QUOTE_CUTOF_S=10\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="quote_cutof_s"):
        load_settings()
    (tmp_path / ".env").unlink()
    with pytest.raises(SettingsError, match="no_such_setting"):
        load_settings(no_such_setting=1)


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError, match="frozen"):
        settings.ladder_levels = 9  # type: ignore[misc]
    assert settings.ladder_levels == 3
    assert BotSettings.model_config["frozen"] is True


def test_a_misspelt_secret_key_in_the_config_file_is_not_echoed(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(f'privatekey = "{PRIVATE_KEY}"\n', encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    assert "5a" * 32 not in "\n".join(caught.value.lines)


def test_a_malformed_config_file_is_a_settings_error(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text("ladder_levels = \n", encoding="utf-8")
    with pytest.raises(SettingsError):
        load_settings(config)
