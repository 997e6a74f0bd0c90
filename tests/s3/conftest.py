"""A real S3 server on loopback (moto's threaded server) and fresh S3 lakes on it.

One server per test process (session scope; each xdist worker has its own). Every test that
uses it gets the AWS variables pointing at it through ``monkeypatch``, so nothing leaks into
other tests, and each ``Lake`` builds its own s3fs client (``skip_instance_cache``), so a test
with bad credentials cannot poison the next one through fsspec's instance cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kalshi_lake.lake import Lake
from kalshi_lake.lake.s3 import LocalS3, local_s3


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[LocalS3]:
    """moto's S3 server in a thread on 127.0.0.1 (a free port), for the whole session."""
    with local_s3() as server:
        yield server


@pytest.fixture
def aws_env(moto_s3: LocalS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LocalS3:
    """The AWS variables of this test point at the moto server (and nowhere else)."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    # Never the ~/.aws of whoever runs the tests, never an instance metadata lookup.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in moto_s3.env().items():
        monkeypatch.setenv(name, value)
    return moto_s3


@pytest.fixture
def s3_url(aws_env: LocalS3) -> Callable[..., str]:
    """Factory: the URL of a fresh, empty lake (``s3://<new bucket>/<prefix>``)."""

    def make(prefix: str = "lake") -> str:
        return f"s3://{aws_env.create_bucket()}/{prefix}".rstrip("/")

    return make


@pytest.fixture
def s3_lake(s3_url: Callable[..., str]) -> Callable[[], Lake]:
    """Factory: a :class:`Lake` on a fresh bucket and prefix of the moto server."""

    def make() -> Lake:
        return Lake(s3_url())

    return make
