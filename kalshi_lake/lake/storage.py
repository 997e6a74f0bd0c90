"""`Lake`: the one seam between kalshi-lake and a filesystem (local disk or S3 via fsspec).

Every write is atomic and uniquely named: on a local disk the bytes go to ``<name>.tmp`` in the
target directory and are renamed into place; on object stores a single PUT (or a multipart upload
completed in one call) makes the object appear whole. No glob of ours ever matches ``*.tmp``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_lake.errors import ConfigError

#: Parquet settings shared by every writer: deterministic, compact, fast to read.
PARQUET_KW: dict[str, Any] = {"compression": "zstd", "compression_level": 3, "write_statistics": True}


def unique_name(suffix: str = ".parquet") -> str:
    """A file name unique per write that also sorts by creation time.

    ``20261121T120301123456Z-<16 hex>.parquet``
    """
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{now}-{secrets.token_hex(8)}{suffix}"


def _s3_options_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        opts["endpoint_url"] = endpoint
    return opts


@dataclass
class Lake:
    """A lake rooted at a URL: ``lake``, ``/abs/path``, ``file:///x`` or ``s3://bucket/prefix``.

    ``root`` is the fsspec path (no protocol); :meth:`uri` gives full URLs for engines.
    """

    url: str
    storage_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        url = str(self.url)
        if "://" not in url:
            url = "file://" + str(Path(url).expanduser().resolve())
        protocol = url.split("://", 1)[0]
        if protocol not in ("file", "s3", "memory"):
            raise ConfigError(f"unsupported lake URL {self.url!r}: use a local path or s3://bucket/prefix")
        opts = dict(self.storage_options)
        if protocol == "s3":
            opts = {**_s3_options_from_env(os.environ), **opts}
            bucket = url[len("s3://") :].split("/", 1)[0]
            if not bucket:
                raise ConfigError(f"lake URL {self.url!r} names no bucket")
        self.protocol = protocol
        self.storage_options = opts
        self.fs: fsspec.AbstractFileSystem = fsspec.filesystem(protocol, **opts)
        self.root = url.split("://", 1)[1].rstrip("/") if protocol != "file" else url[len("file://") :].rstrip("/")
        self.url = url.rstrip("/")

    # --- paths -------------------------------------------------------------------------------
    @property
    def is_local(self) -> bool:
        """True for a lake on the local filesystem (renames are available)."""
        return self.protocol == "file"

    def path(self, *parts: str) -> str:
        """The fsspec path (no protocol) of ``parts`` under the root."""
        return "/".join([self.root, *[p.strip("/") for p in parts if p]])

    def uri(self, *parts: str) -> str:
        """The full URL of ``parts`` under the root, for DuckDB, polars or pyarrow."""
        p = self.path(*parts)
        return p if self.is_local else f"{self.protocol}://{p}"

    def rel(self, path: str) -> str:
        """``path`` relative to the root (accepts fsspec paths or URLs)."""
        p = path.split("://", 1)[-1]
        root = self.root.lstrip("/") if not self.is_local else self.root
        p = p if self.is_local else p.lstrip("/")
        return p[len(root) :].lstrip("/") if p.startswith(root) else p

    # --- reading -----------------------------------------------------------------------------
    def exists(self, *parts: str) -> bool:
        """True if the file or folder exists."""
        return bool(self.fs.exists(self.path(*parts)))

    def glob(self, pattern: str) -> list[str]:
        """Sorted fsspec paths matching ``pattern`` (relative to the root), never ``*.tmp``."""
        hits = self.fs.glob(self.path(pattern))
        return sorted(h for h in hits if not str(h).endswith(".tmp"))

    def ls_dirs(self, *parts: str) -> list[str]:
        """Names of the immediate sub-folders of ``parts`` (empty if it does not exist)."""
        p = self.path(*parts)
        try:
            entries = self.fs.ls(p, detail=True)
        except FileNotFoundError:
            return []
        return sorted(
            str(e["name"]).rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory"
        )

    def read_bytes(self, *parts: str) -> bytes:
        """The whole file."""
        return bytes(self.fs.cat_file(self.path(*parts)))

    def read_table(self, path: str, columns: list[str] | None = None) -> pa.Table:
        """One Parquet file (an fsspec path from :meth:`glob`, or relative parts)."""
        p = path if path.startswith(self.root) else self.path(path)
        with self.fs.open(p, "rb") as f:
            return pq.read_table(f, columns=columns)

    # --- writing -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def open_atomic(self, *parts: str) -> Iterator[IO[bytes]]:
        """Open ``parts`` for writing; the file becomes visible whole when the block exits.

        On error nothing becomes visible (local temp files are removed).
        """
        target = self.path(*parts)
        parent = target.rsplit("/", 1)[0]
        if self.is_local:
            os.makedirs(parent, exist_ok=True)
            tmp = f"{target}.{secrets.token_hex(4)}.tmp"
            try:
                with open(tmp, "wb") as f:
                    yield f
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, target)
                _fsync_dir(parent)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        else:
            # Object stores: the object appears when the upload completes, in one request.
            with self.fs.open(target, "wb") as f:
                yield f

    def write_bytes(self, data: bytes, *parts: str) -> str:
        """Write ``data`` atomically; returns the fsspec path."""
        if not self.is_local:
            target = self.path(*parts)
            self.fs.pipe_file(target, data)
            return target
        with self.open_atomic(*parts) as f:
            f.write(data)
        return self.path(*parts)

    def write_table(self, table: pa.Table, *parts: str, **kw: Any) -> str:
        """Write a Parquet file atomically; returns the fsspec path."""
        opts = {**PARQUET_KW, **kw}
        if not self.is_local:
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink, **opts)
            return self.write_bytes(sink.getvalue().to_pybytes(), *parts)
        with self.open_atomic(*parts) as f:
            pq.write_table(table, f, **opts)
        return self.path(*parts)

    def delete(self, paths: list[str]) -> None:
        """Remove files (fsspec paths); missing ones are ignored."""
        for p in paths:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(p)

    # --- engines -----------------------------------------------------------------------------
    def polars_storage_options(self) -> dict[str, Any] | None:
        """``storage_options`` for polars readers/writers (None for local lakes)."""
        if self.is_local:
            return None
        opts: dict[str, Any] = {}
        so = dict(self.storage_options)
        if "endpoint_url" in so:
            opts["aws_endpoint_url"] = so["endpoint_url"]
            if str(so["endpoint_url"]).startswith("http://"):
                opts["aws_allow_http"] = "true"
        for env_name, key in (
            ("AWS_ACCESS_KEY_ID", "aws_access_key_id"),
            ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
            ("AWS_SESSION_TOKEN", "aws_session_token"),
            ("AWS_REGION", "aws_region"),
            ("AWS_DEFAULT_REGION", "aws_region"),
        ):
            if os.environ.get(env_name) and key not in opts:
                opts[key] = os.environ[env_name]
        opts.setdefault("aws_region", "us-east-1")
        return opts

    def __repr__(self) -> str:
        return f"Lake({self.url!r})"


def _fsync_dir(path: str) -> None:
    """Make a rename durable (a crash after this cannot lose the new name)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
