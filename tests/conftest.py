"""Shared test configuration: hypothesis profiles (quick for CI, long for nightly-style runs)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", deadline=None, max_examples=20_000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# Refused state-machine transitions raise in tests (production logs a WARNING and counts them).
from bot.engine.illegal import set_strict  # noqa: E402

set_strict(True)
