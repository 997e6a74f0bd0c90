"""The frozen run configuration, built once from flags > environment > defaults.

Every library entry point takes a :class:`Settings`; nothing reads the environment elsewhere.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from kalshi_lake.errors import ConfigError

DEFAULT_API_URL = "https://external-api.kalshi.com/trade-api/v2"
DEFAULT_LAKE = "lake"
#: Kalshi's public daily reports (bucket and folder), read anonymously.
DEFAULT_REPORTS_URL = "s3://kalshi-public-docs/reporting"
DEFAULT_RATE_UNSIGNED = 10.0
DEFAULT_RATE_SIGNED = 20.0
#: The slowest request rate accepted: one request every 20 s. A city-day takes tens of requests,
#: so below this a backfill looks hung (minutes between requests, nothing printed) while each
#: request still holds the city's lease; a rate that low is a typo (0.001 for 1000), not a plan.
MIN_RATE = 0.05
#: A hostname: dot-separated labels of letters, digits, ``-`` and ``_`` (internal DNS names).
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(\.(?!-)[A-Za-z0-9_-]{1,63})*\.?")


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know, resolved once.

    ``rate`` is requests per second for the client's token bucket; ``burst`` the bucket size in
    requests (Kalshi's Basic and Advanced read buckets hold two seconds of budget).
    """

    lake: str = DEFAULT_LAKE
    api_url: str = DEFAULT_API_URL
    rate: float = DEFAULT_RATE_UNSIGNED
    burst: float | None = None
    concurrency: int = 8
    timeout_s: float = 30.0
    # Read timeout of the requests sent before the API first answered: a server that accepts
    # connections and never answers is reported after two of these, not after minutes of
    # retries. Kalshi answers its small first requests (cutoff, series) in well under a second.
    first_answer_timeout_s: float = 10.0
    max_retries: int = 8
    retry_budget: int = 2000
    backoff_base_s: float = 0.25
    backoff_max_s: float = 30.0
    api_key_id: str | None = None
    private_key_path: str | None = None
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    progress: bool = True
    # Seconds between two backfill progress lines when stderr is not a terminal (cron, nohup).
    progress_interval_s: float = 30.0
    # Backfill raw writes: a batch of pages becomes durable (one file per partition) once it holds
    # this many pages, its oldest page is this old, or a walk ends; a crash loses at most that
    # much work (backfill/sink.py).
    flush_pages: int = 256
    flush_seconds: float = 1.0
    # Seconds a backfill's lease outlives its last renewal (lake/lock.py): how long a dead run
    # blocks the next one, and how long a paused one may sleep before another may take over.
    lease_ttl_s: float = 120.0
    # Kalshi's public daily reports: where they are (s3://bucket/prefix or a local folder) and,
    # for S3 elsewhere than AWS (a test server), its endpoint. Read without credentials.
    reports_url: str = DEFAULT_REPORTS_URL
    reports_endpoint_url: str | None = None

    @property
    def signed(self) -> bool:
        """True when requests are signed (both key id and key path are set)."""
        return bool(self.api_key_id and self.private_key_path)

    @property
    def effective_burst(self) -> float:
        """Bucket size in requests: explicit, or two seconds of the rate (at least 1)."""
        if self.burst is not None:
            return max(1.0, float(self.burst))
        return max(1.0, 2.0 * self.rate)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **flags: Any) -> Settings:
        """Resolve flags > env > defaults. Flags whose value is ``None`` are treated as unset."""
        env = os.environ if env is None else env
        given = {k: v for k, v in flags.items() if v is not None}

        def pick(name: str, env_name: str, default: Any, conv: Any = str) -> Any:
            if name in given:
                return given[name]
            raw = env.get(env_name)
            if raw is None or raw == "":
                return default
            try:
                return conv(raw)
            except ValueError as exc:
                raise ConfigError(f"{env_name}={raw!r} is not valid: {exc}") from None

        api_key_id = pick("api_key_id", "KALSHI_API_KEY_ID", None)
        key_path = pick("private_key_path", "KALSHI_PRIVATE_KEY_PATH", None)
        # One of the two is a half-done set-up: running unsigned would quietly use the smaller
        # public rate budget (and 401 on anything that needs a key) instead of saying so.
        if bool(api_key_id) != bool(key_path):
            have, missing = (
                ("KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH")
                if api_key_id
                else ("KALSHI_PRIVATE_KEY_PATH", "KALSHI_API_KEY_ID")
            )
            raise ConfigError(
                f"{have} is set but {missing} is not set: set both to sign requests, or neither"
            )
        if key_path:
            key_path = str(Path(key_path).expanduser())
        signed = bool(api_key_id and key_path)
        default_rate = DEFAULT_RATE_SIGNED if signed else DEFAULT_RATE_UNSIGNED
        rate = float(pick("rate", "KALSHI_RATE", default_rate, float))
        if not math.isfinite(rate) or rate < MIN_RATE:
            source = "--rate" if "rate" in given else "KALSHI_RATE"
            raise ConfigError(
                f"{source} must be a number of requests per second of at least {MIN_RATE} "
                f"(one request every {1 / MIN_RATE:g} s), got {rate}"
            )
        # Default in-flight requests: enough to keep the rate busy at 1 s of latency (Little's law).
        auto_concurrency = max(8, math.ceil(rate))
        concurrency = int(pick("concurrency", "KALSHI_CONCURRENCY", auto_concurrency, int))
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
        lake = pick("lake", "KALSHI_LAKE", DEFAULT_LAKE)
        if not str(lake).strip():
            raise ConfigError("--lake is empty: pass a folder or s3://bucket/prefix")
        api_url = str(pick("api_url", "KALSHI_API_URL", DEFAULT_API_URL)).rstrip("/")
        check_api_url(api_url)
        reports_url = str(pick("reports_url", "KALSHI_REPORTS_URL", DEFAULT_REPORTS_URL))
        reports_endpoint = pick("reports_endpoint_url", "KALSHI_REPORTS_ENDPOINT_URL", None)
        rest = {
            k: v
            for k, v in given.items()
            if k
            not in {
                "api_key_id",
                "private_key_path",
                "rate",
                "concurrency",
                "lake",
                "api_url",
                "reports_url",
                "reports_endpoint_url",
            }
        }
        return cls(
            lake=str(lake),
            api_url=api_url,
            rate=rate,
            concurrency=concurrency,
            api_key_id=api_key_id,
            private_key_path=key_path,
            reports_url=reports_url,
            reports_endpoint_url=reports_endpoint,
            **rest,
        )


def check_api_url(url: str) -> None:
    """Raise :class:`ConfigError` unless ``url`` is an http(s) URL with a usable host and port.

    Caught here, at start, instead of as a traceback from the HTTP stack (an unparsable port,
    a port over 65535) or as "cannot reach the API" after the first request (no host, a host
    with spaces in it).
    """
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"API URL must start with http:// or https://, got {url!r}")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"API URL {url!r} is not a valid URL: {exc}") from None
    host = parsed.raw_host.decode("ascii", "replace")
    if not host:
        raise ConfigError(f"API URL {url!r} names no host")
    if not _HOSTNAME.fullmatch(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(f"API URL {url!r} has an invalid host {parsed.host!r}") from None
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise ConfigError(f"API URL {url!r} has port {parsed.port}; a port is 1 to 65535")
