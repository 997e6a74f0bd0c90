"""The simulator's WebSocket handshake authentication.

Kalshi requires the ``KALSHI-ACCESS-KEY``, ``KALSHI-ACCESS-TIMESTAMP`` (Unix milliseconds) and
``KALSHI-ACCESS-SIGNATURE`` headers on the upgrade request, even for public channels
(https://docs.kalshi.com/getting_started/quick_start_websockets); the signature is base64 of
RSA-PSS (SHA-256, MGF1 SHA-256, salt = digest length) over ``timestamp + "GET" +
"/trade-api/ws/v2"``. A failed handshake is HTTP 401 with a small JSON body. Written apart from
the client's signer on purpose: the simulator checks the client, it does not share its code.

The timestamp's distance from the clock is not checked: the simulated clock is not the client's
wall clock.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kalshi_lake.errors import ConfigError

__all__ = ["WS_PATH", "HandshakeAuth", "Rejection", "load_public_key"]

WS_PATH = "/trade-api/ws/v2"
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM text; :class:`ConfigError` (one line) for anything else."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"ws_public_key is not a PEM public key ({reason})") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigError(f"ws_public_key holds a {type(key).__name__}, not an RSA public key")
    return key


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused handshake: HTTP status and JSON body."""

    status: int
    body: bytes

    @classmethod
    def of(cls, status: int, **payload: str) -> Rejection:
        """A rejection whose body is ``payload`` as compact JSON."""
        return cls(status, json.dumps(payload, separators=(",", ":")).encode())


#: No (or incomplete) KALSHI-ACCESS-* headers, as measured on the production socket.
MISSING = Rejection.of(401, code="token_authentication_failure")
#: A key the exchange does not know (e.g. a demo key against production; a revoked key).
UNKNOWN_KEY = Rejection.of(401, code="authentication_error", details="NOT_FOUND")
#: A signature that does not verify, or a timestamp that is not milliseconds.
BAD_SIGNATURE = Rejection.of(401, code="authentication_error", details="INVALID_SIGNATURE")


@dataclass(frozen=True)
class HandshakeAuth:
    """Checks the KALSHI-ACCESS-* headers of an upgrade request.

    ``public_key`` None: any non-empty headers pass (the signature is not verified).
    ``key_id`` set: only that key id passes. ``reject_all``: every handshake is refused.
    """

    public_key: rsa.RSAPublicKey | None = None
    key_id: str | None = None
    reject_all: bool = False

    @classmethod
    def from_config(cls, config: object) -> HandshakeAuth:
        """The checks a :class:`~kalshi_lake.sim.config.SimConfig` asks for."""
        pem = getattr(config, "ws_public_key", None)
        return cls(
            public_key=load_public_key(pem) if pem else None,
            key_id=getattr(config, "ws_key_id", None),
            reject_all=bool(getattr(config, "ws_reject_auth", False)),
        )

    def check(self, headers: Mapping[str, str]) -> Rejection | None:
        """None when the headers authenticate, else the rejection to send.

        ``headers`` is looked up by lower-case name.
        """
        key = headers.get("kalshi-access-key", "")
        ts = headers.get("kalshi-access-timestamp", "")
        sig = headers.get("kalshi-access-signature", "")
        if not (key and ts and sig):
            return MISSING
        if self.reject_all or (self.key_id is not None and key != self.key_id):
            return UNKNOWN_KEY
        if not ts.isdigit():
            return BAD_SIGNATURE
        if self.public_key is None:
            return None
        try:
            raw = base64.b64decode(sig, validate=True)
            self.public_key.verify(raw, f"{ts}GET{WS_PATH}".encode(), _PSS, hashes.SHA256())
        except (InvalidSignature, binascii.Error, ValueError):
            return BAD_SIGNATURE
        return None
