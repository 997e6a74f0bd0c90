"""S3 behind :class:`~kalshi_lake.lake.storage.Lake`: s3fs options from the environment, the
s3fs subclasses (a bucket probe on first use, the engines' cached metadata), the same options in
polars' names, and the mapping of S3 errors to one-line :class:`~kalshi_lake.errors.ConfigError`."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from kalshi_lake.errors import ConfigError

#: S3 error codes that mean the configuration cannot work, and what to tell the user.
_S3_CONFIG_CODES: dict[str, str] = {
    "NoSuchBucket": "bucket {bucket!r} does not exist: create it or fix --lake / KALSHI_LAKE",
    "InvalidAccessKeyId": (
        "the AWS access key id is not known to {where}: check AWS_ACCESS_KEY_ID or AWS_PROFILE"
    ),
    "SignatureDoesNotMatch": (
        "the AWS secret key does not match the access key id: check AWS_SECRET_ACCESS_KEY"
    ),
    "AccessDenied": (
        "access to s3://{bucket}/{prefix} was denied: the credentials need s3:ListBucket, "
        "s3:GetObject, s3:PutObject and s3:DeleteObject on it"
    ),
    "AllAccessDisabled": "all access to bucket {bucket!r} is disabled: check the bucket policy",
    "ExpiredToken": "the AWS session token has expired: refresh AWS_SESSION_TOKEN",
    "InvalidToken": "the AWS session token is not valid: check AWS_SESSION_TOKEN",
    "TokenRefreshRequired": "the AWS session token has expired: refresh AWS_SESSION_TOKEN",
    "InvalidBucketName": "{bucket!r} is not a valid S3 bucket name: fix --lake / KALSHI_LAKE",
    "PermanentRedirect": (
        "bucket {bucket!r} is in another region: set AWS_REGION to the bucket's region"
    ),
}


def _s3_options_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """s3fs options from the usual AWS variables (explicit options win over these).

    Credentials from the environment are passed explicitly (not left to botocore) so that every
    option an S3 client depends on is visible in one dict, which also feeds polars.
    """
    opts: dict[str, Any] = {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        opts["endpoint_url"] = endpoint
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        opts["key"] = env["AWS_ACCESS_KEY_ID"]
        opts["secret"] = env["AWS_SECRET_ACCESS_KEY"]
        if env.get("AWS_SESSION_TOKEN"):
            opts["token"] = env["AWS_SESSION_TOKEN"]
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        opts["client_kwargs"] = {"region_name": region}
    return opts


def _merge_s3_options(env_opts: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    opts = {**env_opts, **given}
    if "client_kwargs" in env_opts and "client_kwargs" in given:
        opts["client_kwargs"] = {**env_opts["client_kwargs"], **given["client_kwargs"]}
    # botocore's "standard" retry mode (3 attempts, jittered backoff, throttling-aware) under
    # s3fs's own retries: robust for long runs, and a dead endpoint is reported in seconds.
    opts.setdefault("config_kwargs", {})
    opts["config_kwargs"] = {
        "retries": {"mode": "standard", "max_attempts": 3},
        **opts["config_kwargs"],
    }
    # Listings must be fresh: other processes (parallel workers) write into the same lake, and a
    # cached listing would hide their files or show deleted ones.
    opts["use_listings_cache"] = False
    # Each Lake gets its own client, so credentials or endpoints never leak between lakes
    # through fsspec's instance cache (keyed on arguments, blind to the environment).
    opts["skip_instance_cache"] = True
    return opts


def _polars_s3_options(storage_options: Mapping[str, Any]) -> dict[str, Any]:
    """The s3fs options ``storage_options`` in the ``aws_*`` names polars' object store
    understands (endpoint, credentials, region; us-east-1 when none is given)."""
    so = dict(storage_options)
    opts: dict[str, Any] = {}
    if so.get("endpoint_url"):
        opts["aws_endpoint_url"] = str(so["endpoint_url"])
        if str(so["endpoint_url"]).startswith("http://"):
            opts["aws_allow_http"] = "true"
    for ours, theirs in (
        ("key", "aws_access_key_id"),
        ("secret", "aws_secret_access_key"),
        ("token", "aws_session_token"),
    ):
        if so.get(ours):
            opts[theirs] = str(so[ours])
    region = (so.get("client_kwargs") or {}).get("region_name")
    opts["aws_region"] = str(region or "us-east-1")
    return opts


def _s3_config_error(exc: BaseException, url: str, endpoint: str | None) -> ConfigError | None:
    """The ConfigError that ``exc`` (or its cause chain) means for the lake at ``url``, or None."""
    bucket, _, prefix = url[len("s3://") :].partition("/")
    where = f"the S3 endpoint {endpoint}" if endpoint else "AWS"
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        name = type(cur).__name__
        response = getattr(cur, "response", None)
        code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
        if code in _S3_CONFIG_CODES:
            what = _S3_CONFIG_CODES[str(code)].format(bucket=bucket, prefix=prefix, where=where)
            return ConfigError(f"S3 lake {url}: {what}")
        if name in ("NoCredentialsError", "PartialCredentialsError"):
            return ConfigError(
                f"S3 lake {url}: no AWS credentials found: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
            )
        if name in ("EndpointConnectionError", "ConnectTimeoutError", "ProxyConnectionError"):
            return ConfigError(
                f"S3 lake {url}: cannot reach {where}: check AWS_ENDPOINT_URL and that the S3 "
                "service is up"
            )
        cur = cur.__cause__ or cur.__context__
    return None


#: How long :meth:`Lake.engine_fs` trusts an ``info`` answer outside ``raw/`` (seconds): long
#: enough to cover the burst of calls DuckDB makes while opening a file, short enough that a
#: query started after a partition swap sees the new file.
ENGINE_INFO_TTL_S = 2.0

#: :meth:`Lake.engine_fs` keeps whole raw files (immutable) of up to this size in memory...
ENGINE_RAW_MAX_OBJECT = 64 * 2**20
#: ...and at most this many bytes of them (least recently used dropped first).
ENGINE_RAW_CACHE_BYTES = 128 * 2**20

_S3_CLASSES: tuple[type, type] | None = None


def _s3_classes() -> tuple[type, type]:
    """The s3fs subclasses behind S3 lakes (built on first use: s3fs is slow to import).

    ``CheckedS3FileSystem`` (:attr:`Lake.fs`) probes the lake's bucket before its first
    request and turns a configuration that cannot work into one :class:`ConfigError`.
    ``EngineS3FileSystem`` (:meth:`Lake.engine_fs`) adds what engines need: DuckDB opens a raw
    file once per query, asks for its size and mtime about eight times and reads it in several
    ranged requests, and the transform queries each raw file four to six times. Raw files never
    change once visible, so their ``info`` is kept for good and each is fetched whole in one
    GET, later opens being served from memory; other ``info`` answers are kept for
    :data:`ENGINE_INFO_TTL_S`, and every listing (a glob starts each query over a folder)
    refreshes them, so a query that globs a just-swapped partition reads the new file.
    """
    global _S3_CLASSES
    if _S3_CLASSES is not None:
        return _S3_CLASSES
    import io
    from collections import OrderedDict

    import s3fs

    class CheckedS3FileSystem(s3fs.S3FileSystem):  # type: ignore[misc]
        """s3fs that probes ``probe = (lake url, bucket, prefix)`` before its first request."""

        def __init__(self, *args: Any, probe: tuple[str, str, str], **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.kl_probe = probe
            self.kl_checked = False

        async def set_session(self, refresh: bool = False, kwargs: Any = None) -> Any:
            client = await super().set_session(refresh=refresh, kwargs=kwargs or {})
            if not self.kl_checked:
                url, bucket, prefix = self.kl_probe
                try:
                    await client.list_objects_v2(
                        Bucket=bucket, Prefix=f"{prefix}/" if prefix else "", MaxKeys=1
                    )
                except Exception as exc:
                    err = _s3_config_error(exc, url, self.endpoint_url)
                    if err is not None:
                        raise err from None
                    # Anything else (a 5xx, a timeout) is left to the request's own retries.
                    return client
                self.kl_checked = True
            return client

    class EngineS3FileSystem(CheckedS3FileSystem):
        """Checked s3fs with ``info`` remembered, and whole files kept, under ``memo_forever``."""

        memo_forever: tuple[str, ...] = ()

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._memo: dict[str, tuple[float, dict[str, Any]]] = {}
            self._blobs: OrderedDict[str, bytes] = OrderedDict()
            self._blob_bytes = 0
            self._memo_lock = threading.Lock()

        async def _info(self, path: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
            key = self._strip_protocol(path)
            now = time.monotonic()
            with self._memo_lock:
                hit = self._memo.get(key)
            if hit is not None and (
                key.startswith(self.memo_forever) or now - hit[0] < ENGINE_INFO_TTL_S
            ):
                return dict(hit[1])
            out: dict[str, Any] = await super()._info(path, *args, **kwargs)
            if out.get("type") == "file":
                with self._memo_lock:
                    if len(self._memo) > 100_000:
                        self._memo.clear()
                    self._memo[key] = (now, dict(out))
            return out

        async def _find(self, path: str, *args: Any, **kwargs: Any) -> Any:
            # A listing is the freshest word on a file (ETag, size): every glob, which starts
            # every query over a folder, refreshes what ``info`` will answer for what it found.
            out = await super()._find(path, *args, **kwargs)
            if isinstance(out, dict):
                now = time.monotonic()
                with self._memo_lock:
                    for name, entry in out.items():
                        if entry.get("type") == "file" and entry.get("ETag"):
                            self._memo[self._strip_protocol(name)] = (now, dict(entry))
            return out

        def _open(self, path: str, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
            key = self._strip_protocol(path)
            if mode != "rb" or not key.startswith(self.memo_forever):
                return super()._open(path, mode, *args, **kwargs)
            with self._memo_lock:
                data = self._blobs.get(key)
                if data is not None:
                    self._blobs.move_to_end(key)
            if data is None:
                if int(self.info(key).get("size") or 0) > ENGINE_RAW_MAX_OBJECT:
                    return super()._open(path, mode, *args, **kwargs)
                data = bytes(self.cat_file(key))
                with self._memo_lock:
                    if key not in self._blobs:
                        self._blobs[key] = data
                        self._blob_bytes += len(data)
                    while self._blob_bytes > ENGINE_RAW_CACHE_BYTES and len(self._blobs) > 1:
                        _, old = self._blobs.popitem(last=False)
                        self._blob_bytes -= len(old)
            return io.BytesIO(data)

    _S3_CLASSES = (CheckedS3FileSystem, EngineS3FileSystem)
    return _S3_CLASSES
