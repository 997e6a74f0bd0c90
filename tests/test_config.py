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
    [
        {"KALSHI_RATE": "fast"},
        {"KALSHI_RATE": "0"},
        {"KALSHI_RATE": "nan"},
        {"KALSHI_RATE": "inf"},
        {"KALSHI_RATE": "0.049"},
        {"KALSHI_API_URL": "ftp://x"},
        {"KALSHI_API_URL": "http://x:65536/trade-api/v2"},
        {"KALSHI_API_URL": "http://x:port/trade-api/v2"},
        {"KALSHI_API_URL": "https:///trade-api/v2"},
        {"KALSHI_API_KEY_ID": "k"},
        {"KALSHI_PRIVATE_KEY_PATH": "/tmp/k.pem"},
    ],
)
def test_bad_values_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(env=env)
    assert "\n" not in str(caught.value)


def test_half_a_key_pair_names_the_missing_variable() -> None:
    with pytest.raises(ConfigError, match="KALSHI_PRIVATE_KEY_PATH is not set"):
        Settings.load(env={"KALSHI_API_KEY_ID": "k"})
    with pytest.raises(ConfigError, match="KALSHI_API_KEY_ID is not set"):
        Settings.load(env={"KALSHI_PRIVATE_KEY_PATH": "/tmp/k.pem"})
    # An empty variable counts as unset, as everywhere else.
    assert not Settings.load(env={"KALSHI_API_KEY_ID": "", "KALSHI_PRIVATE_KEY_PATH": ""}).signed


def test_an_empty_lake_flag_is_refused_and_an_empty_variable_is_unset() -> None:
    with pytest.raises(ConfigError, match="--lake is empty"):
        Settings.load(env={}, lake="")
    assert Settings.load(env={"KALSHI_LAKE": ""}).lake == "lake"
