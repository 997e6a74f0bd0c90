"""Request signing: RSA-PSS over `<ms>GET/trade-api/v2/<path>` (no query); key file checks."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kalshi_lake.api.auth import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    Signer,
    load_private_key,
    signing_message,
)
from kalshi_lake.api.client import KalshiClient
from kalshi_lake.config import Settings
from kalshi_lake.errors import ConfigError


def _verify(public: rsa.RSAPublicKey, signature_b64: str, message: bytes) -> None:
    # Raises InvalidSignature if it does not verify; salt length = digest length (32 bytes).
    public.verify(
        base64.b64decode(signature_b64),
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


def test_signing_message_is_timestamp_method_path_without_query() -> None:
    msg = signing_message(1703123456789, "get", "/trade-api/v2/portfolio/orders?limit=5")
    assert msg == b"1703123456789GET/trade-api/v2/portfolio/orders"


def test_client_signature_verifies_over_the_exact_reference_string(
    key_file: Path, rsa_key: rsa.RSAPrivateKey, fast_settings: Settings
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"trades": [], "cursor": ""})

    settings = fast_settings.with_(api_key_id="key-id-123", private_key_path=str(key_file))

    async def go() -> None:
        async with KalshiClient(settings, transport=httpx.MockTransport(handler)) as client:
            await client.get(
                "/markets/trades", {"ticker": "KXHIGHCHI-26NOV20-B45.5", "limit": 1000}
            )

    asyncio.run(go())
    (req,) = seen
    assert req.url.query  # the query was sent ...
    ts = req.headers[HEADER_TIMESTAMP]
    assert ts.isdigit() and len(ts) == 13  # milliseconds
    assert req.headers[HEADER_KEY] == "key-id-123"
    # ... but the signature covers only <ms>GET<path from the host root>.
    exact = f"{ts}GET/trade-api/v2/markets/trades".encode()
    _verify(rsa_key.public_key(), req.headers[HEADER_SIGNATURE], exact)
    with pytest.raises(Exception):  # noqa: B017 - any InvalidSignature
        _verify(rsa_key.public_key(), req.headers[HEADER_SIGNATURE], exact + b"?limit=1000")


def test_each_retry_is_signed_afresh(rsa_key: rsa.RSAPrivateKey) -> None:
    clock = iter([1000, 2000])
    signer = Signer("k", rsa_key, clock_ms=lambda: next(clock))
    a = signer.sign("GET", "/trade-api/v2/x")
    b = signer.sign("GET", "/trade-api/v2/x")
    assert a[HEADER_TIMESTAMP] == "1000" and b[HEADER_TIMESTAMP] == "2000"
    assert "k" in repr(signer) and "PRIVATE" not in repr(signer)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_key_readable_by_group_or_others_is_refused(key_file: Path, mode: int) -> None:
    os.chmod(key_file, mode)
    with pytest.raises(ConfigError, match="chmod 600") as info:
        load_private_key(str(key_file))
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)


def test_group_readable_key_fails_the_client_before_any_request(
    key_file: Path, fast_settings: Settings
) -> None:
    os.chmod(key_file, 0o640)
    settings = fast_settings.with_(api_key_id="k", private_key_path=str(key_file))
    with pytest.raises(ConfigError):
        KalshiClient(settings)


def test_missing_invalid_and_non_rsa_keys_are_one_line_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_private_key(str(tmp_path / "nope.pem"))
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    os.chmod(bad, 0o600)
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key") as info:
        load_private_key(str(bad))
    assert "\n" not in str(info.value)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_key = ec.generate_private_key(ec.SECP256R1())
    ecf = tmp_path / "ec.pem"
    ecf.write_bytes(
        ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(ecf, 0o600)
    with pytest.raises(ConfigError, match="not an RSA key"):
        load_private_key(str(ecf))


def test_unreadable_key_is_a_config_error(key_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kalshi_lake.api.auth as auth

    def refuse(*_a: object, **_k: object) -> None:
        raise PermissionError(13, "Permission denied")

    # As root every file is readable, so simulate the kernel saying no.
    monkeypatch.setattr(auth, "open", refuse, raising=False)
    with pytest.raises(ConfigError, match=r"cannot read private key file .*Permission denied"):
        load_private_key(str(key_file))


def test_key_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a regular file"):
        load_private_key(str(tmp_path))
