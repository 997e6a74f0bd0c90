from __future__ import annotations

import pytest

from kalshi_lake.config import DEFAULT_API_URL, Settings
from kalshi_lake.errors import ConfigError


def test_defaults() -> None:
    s = Settings.load(env={})
    assert s.api_url == DEFAULT_API_URL and s.lake == "lake" and s.rate == 10.0 and not s.signed
    assert s.effective_burst == 20.0


def test_flags_beat_env_beat_defaults() -> None:
    env = {
        "KALSHI_RATE": "5",
        "KALSHI_LAKE": "s3://b/p",
        "KALSHI_API_URL": "http://x/trade-api/v2/",
    }
    s = Settings.load(env=env)
    assert (s.rate, s.lake, s.api_url) == (5.0, "s3://b/p", "http://x/trade-api/v2")
    s2 = Settings.load(env=env, rate=7, lake=None)
    assert s2.rate == 7 and s2.lake == "s3://b/p"


def test_signed_default_rate_is_twenty() -> None:
    s = Settings.load(env={"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": "/tmp/k.pem"})
    assert s.signed and s.rate == 20.0


@pytest.mark.parametrize(
    "env",
    [{"KALSHI_RATE": "fast"}, {"KALSHI_RATE": "0"}, {"KALSHI_API_URL": "ftp://x"}],
)
def test_bad_values_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.load(env=env)
