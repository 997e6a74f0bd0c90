"""Optional request signing (https://docs.kalshi.com/getting_started/api_keys).

Every signed request carries three headers:

- ``KALSHI-ACCESS-KEY``: the API key id;
- ``KALSHI-ACCESS-TIMESTAMP``: the current Unix time in milliseconds;
- ``KALSHI-ACCESS-SIGNATURE``: base64 of RSA-PSS(SHA-256, MGF1 SHA-256, salt = digest length)
  over ``timestamp_ms + METHOD + path``, where ``path`` is the URL path from the host root
  (it includes ``/trade-api/v2``) without the query string.

The private key never leaves this module: it is not logged, not put in reprs, not written to the
lake. A key file that group or others can read is refused, like ssh does.
"""

from __future__ import annotations

import base64
import os
import stat
import time
from collections.abc import Callable, Generator

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kalshi_lake.errors import ConfigError

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"

PSS_PADDING = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def load_private_key(path: str) -> rsa.RSAPrivateKey:
    """Read a PEM RSA private key, refusing files readable by group or others.

    Raises :class:`ConfigError` (exit 2) with one line naming the file and the fix.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(
            f"private key file {path} does not exist (KALSHI_PRIVATE_KEY_PATH)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read private key file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"private key path {path} is not a regular file")
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"private key file {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}"
        )
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ConfigError(f"cannot read private key file {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        # The message of cryptography's exception never contains key material.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"private key file {path} is not an unencrypted PEM private key ({reason})"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"private key file {path} holds a {type(key).__name__}, not an RSA key")
    return key


def signing_message(timestamp_ms: int, method: str, path: str) -> bytes:
    """The exact bytes signed: ``<ms><METHOD><path without query>``."""
    return f"{timestamp_ms}{method.upper()}{path.split('?', 1)[0]}".encode()


class Signer(httpx.Auth):
    """An httpx auth flow that signs each request (and each retry) with a fresh timestamp."""

    def __init__(
        self,
        key_id: str,
        private_key: rsa.RSAPrivateKey,
        *,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.key_id = key_id
        self._key = private_key
        self._clock_ms = clock_ms

    @classmethod
    def from_files(cls, key_id: str, key_path: str) -> Signer:
        """Load the key at ``key_path`` (see :func:`load_private_key`)."""
        return cls(key_id, load_private_key(key_path))

    def sign(self, method: str, path: str, timestamp_ms: int | None = None) -> dict[str, str]:
        """The three auth headers for one request."""
        ts = self._clock_ms() if timestamp_ms is None else timestamp_ms
        sig = self._key.sign(signing_message(ts, method, path), PSS_PADDING, hashes.SHA256())
        return {
            HEADER_KEY: self.key_id,
            HEADER_TIMESTAMP: str(ts),
            HEADER_SIGNATURE: base64.b64encode(sig).decode("ascii"),
        }

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign the path from the host root, without the query string."""
        path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
        request.headers.update(self.sign(request.method, path))
        yield request

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r})"


def signer_from_settings(key_id: str | None, key_path: str | None) -> Signer | None:
    """A :class:`Signer` when both the key id and the key path are set, else None."""
    if not (key_id and key_path):
        return None
    return Signer.from_files(key_id, key_path)
