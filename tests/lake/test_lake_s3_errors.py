"""Bad S3 configuration gives one clear ConfigError (exit 2), never an empty lake."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from moto.core.authorization import enable_iam_authentication

from kalshi_lake.errors import ConfigError
from kalshi_lake.lake import Lake
from kalshi_lake.testing.local_s3 import LocalS3

pytestmark = pytest.mark.s3


@pytest.fixture
def iam_user(aws_env: LocalS3, s3_url: Callable[..., str]) -> Iterator[tuple[str, str, str]]:
    """(key id, secret) of an IAM user with no permissions and the URL of a fresh lake.

    IAM checks are on for the rest of the test (everything is set up before).
    """
    url = s3_url()
    iam = aws_env.client("iam")
    name = f"nobody-{id(iam)}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    with enable_iam_authentication():
        yield key["AccessKeyId"], key["SecretAccessKey"], url


def _one_line(err: ConfigError) -> str:
    msg = str(err)
    assert "\n" not in msg and err.exit_code == 2
    return msg


def test_missing_bucket(aws_env: LocalS3) -> None:
    lake = Lake("s3://no-such-bucket-kl/lake")
    with pytest.raises(ConfigError) as info:
        lake.check()
    msg = _one_line(info.value)
    assert "'no-such-bucket-kl' does not exist" in msg and "KALSHI_LAKE" in msg
    # Any first operation reports it too, instead of an empty listing.
    with pytest.raises(ConfigError, match="does not exist"):
        Lake("s3://no-such-bucket-kl/lake").glob("raw/*/*/*/*.parquet")


def test_unknown_access_key(
    iam_user: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = iam_user[2]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOSUCHKEY0000000")
    with pytest.raises(ConfigError) as info:
        Lake(url).check()
    assert "AWS_ACCESS_KEY_ID" in _one_line(info.value)


def test_wrong_secret(iam_user: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = iam_user[2]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", iam_user[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(ConfigError) as info:
        Lake(url).write_bytes(b"x", "a.bin")
    assert "AWS_SECRET_ACCESS_KEY" in _one_line(info.value)


def test_access_denied(iam_user: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = iam_user[2]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", iam_user[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", iam_user[1])
    with pytest.raises(ConfigError) as info:
        Lake(url).check()
    msg = _one_line(info.value)
    assert "denied" in msg and url.removeprefix("s3://") in msg


def _closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_endpoint_refused(aws_env: LocalS3, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _closed_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(ConfigError) as info:
        Lake("s3://some-bucket/lake").check()
    msg = _one_line(info.value)
    assert f"127.0.0.1:{port}" in msg and "AWS_ENDPOINT_URL" in msg


def test_no_credentials(aws_env: LocalS3, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ConfigError) as info:
        Lake(f"s3://{aws_env.create_bucket()}/lake").check()
    assert "no AWS credentials" in _one_line(info.value)


@pytest.mark.slow
def test_good_lake_unaffected_by_bad_one(
    s3_url: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = s3_url()
    good = Lake(url)
    good.write_bytes(b"1", "x.bin")
    with monkeypatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")
        with pytest.raises(ConfigError):
            Lake(url).check()
    assert good.read_bytes("x.bin") == b"1"
