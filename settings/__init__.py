"""Validated configuration of the bot (pydantic-settings)."""

from settings.model import (
    BotMode,
    BotSettings,
    CompletionOrderType,
    RewardsMode,
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
    "RewardsMode",
    "SettingsError",
    "SignatureType",
    "StormAction",
    "UnknownOrderAction",
    "load_settings",
    "unknown_env_settings",
]
