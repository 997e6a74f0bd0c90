"""The one exception tree of kalshi-lake.

    KalshiLakeError                 base; carries the process exit code
    ├── UsageError                  bad input from the user (exit 2)
    │   ├── UnknownCityError
    │   ├── BadDateError
    │   ├── ConfigError             bad lake URL, unreadable or unsafe key file, missing bucket
    │   └── QueryError              a SQL query that DuckDB cannot run (syntax, names, files)
    ├── TransientError              worth retrying: the same request may succeed later
    │   ├── RateLimitedError        HTTP 429
    │   ├── ServerError             HTTP 5xx
    │   ├── TimeoutError_           connect/read timeouts
    │   └── ConnectionDroppedError  reset, refused mid-run, truncated body
    ├── PermanentError              retrying will not help
    │   ├── ClientError             HTTP 4xx other than 429
    │   │   └── NotFoundError       HTTP 404
    │   ├── SchemaError             a payload that does not have the shape we rely on
    │   ├── CorruptFileError        a Parquet file or page body that cannot be read
    │   └── WalkStuckError          a paginated walk that would never end (cycle, stale pages)
    ├── ApiUnreachableError         no connection to the API could ever be made (exit 3, at once)
    ├── StorageError                the lake could not be written mid-run: disk full, read-only (exit 3)
    ├── RunIncomplete               a run ended with work it could not do; carries its summary (exit 3)
    │   └── FetchIncompleteError    a backfill ended with data it could not fetch
    ├── LockedError                 another process holds the lease, or took it over (exit 2)
    └── ValidationFailed            error-level data checks failed (exit 1)

Callers retry on the *category* (``TransientError``), never on message text. The CLI maps
``exit_code`` to the process status and prints ``str(error)`` as one line.
"""

from __future__ import annotations

from typing import Any, Protocol


class KalshiLakeError(Exception):
    """Base of every error kalshi-lake raises on purpose."""

    exit_code: int = 2
    transient: bool = False


class UsageError(KalshiLakeError):
    """The user asked for something that cannot be done as asked."""

    exit_code = 2


class UnknownCityError(UsageError):
    """A city name or alias that is not in the registry."""


class UnknownFamilyError(UsageError):
    """A market family name (``high``, ``low``) that is not in the registry, or not the city's."""


class BadDateError(UsageError):
    """A date that does not parse, or a range that is empty or out of bounds."""


class ConfigError(UsageError):
    """Configuration that cannot work: lake URL, key file, credentials, bucket."""


class AuthRefusedError(ConfigError):
    """The API refused our key (HTTP 401 or 403 on the WebSocket handshake): retrying will not
    help; the key id, the key file, the environment or the clock must be fixed."""


class TransientError(KalshiLakeError):
    """A failure that may go away if the same request is retried."""

    exit_code = 3
    transient = True

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    """HTTP 429."""


class ServerError(TransientError):
    """HTTP 5xx."""


class TimeoutError_(TransientError):
    """The request timed out."""


class ConnectionDroppedError(TransientError):
    """The connection was reset, closed early, or the body was cut short."""


class PermanentError(KalshiLakeError):
    """A failure that retrying will not fix."""

    exit_code = 3


class ClientError(PermanentError):
    """HTTP 4xx other than 429."""

    def __init__(self, message: str, *, status: int | None = None, body: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = body


class NotFoundError(ClientError):
    """HTTP 404."""


class SchemaError(PermanentError):
    """A payload lacks a field we require, or has one of the wrong type."""


class CorruptFileError(PermanentError):
    """A file in the lake (or a page body inside it) cannot be read."""


class WalkStuckError(PermanentError):
    """A paginated walk that would never end: a cursor handed out twice, pages that bring
    nothing new, an endless run of empty pages, or more pages than any real walk of its kind.

    The message names the endpoint and the reason; the walk's unit fails like any other.
    """


class RunSummary(Protocol):
    """What a finished run reports: a short text for people and a JSON-able form."""

    def render(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


class RunIncomplete(KalshiLakeError):
    """A run finished what it could and ended with work left undone (exit 3).

    ``summary`` is the run's full report (what was done, what is missing); the CLI prints it
    before the one-line error. Re-running the same command resumes.
    """

    exit_code = 3

    def __init__(self, message: str, summary: RunSummary) -> None:
        super().__init__(message)
        self.summary = summary


class FetchIncompleteError(RunIncomplete):
    """A backfill ended with data it could not fetch or parse after all retries.

    Its ``summary`` is the backfill's summary (what landed, which units failed).
    """


class ApiUnreachableError(KalshiLakeError):
    """No connection to the API could be made at all (wrong URL, no network): fail at once.

    The client raises it before any request succeeded; the backfill turns it into a
    :class:`FetchIncompleteError` carrying the run's summary, with the same message.
    """

    exit_code = 3


class StorageError(KalshiLakeError):
    """The lake could not be written mid-run (disk full, read-only file system, no permission).

    Not a :class:`PermanentError`: no unit is at fault and every later write would fail the
    same way, so the run stops at once. The backfill turns it into a
    :class:`FetchIncompleteError` carrying the run's summary (what was kept), same message.
    """

    exit_code = 3


class LockedError(KalshiLakeError):
    """Another process holds the lease on the same work."""

    exit_code = 2


class ValidationFailed(KalshiLakeError):
    """Error-level data-quality checks found offending rows."""

    exit_code = 1


class QueryError(UsageError):
    """A SQL query (``kalshi-lake sql``, a view, a check) that DuckDB refused to run."""
