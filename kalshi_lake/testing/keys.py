"""An API key pair for tests and benchmarks that sign requests to the simulator."""

from __future__ import annotations

import os
from pathlib import Path


def write_key_pair(folder: Path, name: str = "key.pem") -> tuple[Path, str]:
    """A fresh RSA key written to ``folder/name`` (mode 600, as the client requires); returns the
    key file's path and the public key's PEM text (for ``SimConfig(ws_public_key=...)``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = folder / name
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(path, 0o600)
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, pub.decode()
