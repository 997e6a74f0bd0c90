"""A real S3 server on loopback (moto's threaded server), for tests and benchmarks.

moto is a development dependency: it is imported only when a server is started.
"""

from __future__ import annotations

import logging
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

#: Credentials the local server accepts (moto accepts any unless IAM checks are switched on).
ACCESS_KEY = "kalshi-lake-test"
SECRET_KEY = "kalshi-lake-test-secret"
REGION = "us-east-1"


@dataclass(frozen=True)
class LocalS3:
    """A running S3 server on 127.0.0.1: its endpoint and helpers to set up buckets."""

    endpoint: str
    server: Any

    def env(self) -> dict[str, str]:
        """The AWS variables that point clients (s3fs, polars, boto3) at this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def client(self, service: str = "s3", **kw: str) -> Any:
        """A boto3 client on the server (test credentials unless ``key``/``secret`` given)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            aws_access_key_id=kw.get("key", ACCESS_KEY),
            aws_secret_access_key=kw.get("secret", SECRET_KEY),
            region_name=REGION,
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh name unless ``name`` is given) and return its name."""
        bucket = name or f"kl-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=bucket)
        return bucket


@contextmanager
def local_s3(*, separate_process: bool = False) -> Iterator[LocalS3]:
    """Run moto's S3 server on 127.0.0.1 (a free port) until the block exits.

    In a thread by default (cheap, for tests); ``separate_process=True`` runs it in its own
    Python process so that it does not compete with the client for the GIL (benchmarks).
    """
    if separate_process:
        with _moto_process() as running:
            yield running
        return
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    # werkzeug logs every request at INFO: far too chatty for a benchmark or a test log.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    host, port = server.get_host_and_port()
    try:
        yield LocalS3(endpoint=f"http://{host}:{port}", server=server)
    finally:
        server.stop()


@contextmanager
def _moto_process() -> Iterator[LocalS3]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start on {endpoint}") from None
                time.sleep(0.1)
        yield LocalS3(endpoint=endpoint, server=proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
