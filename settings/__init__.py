"""Validated configuration of the bot (pydantic-settings)."""

from settings.model import (
    BotMode,
    BotSettings,
    CompletionOrderType,
    SettingsError,
    SignatureType,
    StormAction,
    UnknownOrderAction,
    load_settings,
    unknown_env_settings,
)

__all__ = [
    "BotMode",
    "BotSettings",
    "CompletionOrderType",
    "SettingsError",
    "SignatureType",
    "StormAction",
    "UnknownOrderAction",
    "load_settings",
    "unknown_env_settings",
]
