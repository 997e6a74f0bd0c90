"""Fixtures for the API client tests: an RSA key on disk and fast retry settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_lake.config import Settings


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """A throwaway 2048-bit RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    """The key as an unencrypted PKCS#8 PEM file, mode 0600."""
    path = tmp_path / "kalshi.pem"
    path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def fast_settings() -> Settings:
    """Settings for MockTransport tests: no real waiting."""
    return Settings(
        api_url="https://api.test/trade-api/v2",
        rate=10_000.0,
        burst=10_000.0,
        concurrency=4,
        max_retries=3,
        retry_budget=100,
        backoff_base_s=0.001,
        backoff_max_s=0.005,
        progress=False,
    )
