"""Kalshi's public daily reports: the one seam to the public bucket, and a streaming filter.

Kalshi publishes ``market_data_<day>`` and ``trade_data_<day>`` for every New York calendar
day in the public S3 bucket ``kalshi-public-docs`` under ``reporting/``, readable without
credentials: plain ``.json`` up to 2026-07-29, ``.json.gz`` from 2026-07-30, each one top-level
JSON array of flat objects, with every series of the exchange in it (2026 trade files are
60-190 MB gzipped).

:class:`ReportSource` finds a day's file (``.json.gz`` first, then ``.json``) with its ETag and
opens it as a stream of uncompressed bytes; :func:`filter_rows` walks the array and yields only
the rows whose ``report_ticker`` is wanted, each with its position in the array and its exact
bytes. Nothing ever holds a whole file: memory is one read chunk plus one row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

from kalshi_lake.config import DEFAULT_REPORTS_URL
from kalshi_lake.errors import ConfigError, CorruptFileError, KalshiLakeError

#: The two kinds of daily report.
KINDS = ("market_data", "trade_data")
#: Bytes read from the (decompressed) stream at a time.
CHUNK = 1 << 20
#: A single row longer than this is not a report row: the file is not what we expect.
MAX_ROW_BYTES = 1 << 20


#: A report file that always exists once Kalshi's bucket is readable (its first report day):
#: the probe that tells "not published yet" from "refused" when the bucket does not let anyone
#: list it (S3 then answers 403 to a missing key too).
FIRST_REPORT_KEY = "market_data_2021-06-28.json"


class ReportChanged(KalshiLakeError):
    """The report file was rewritten while it was read (its ETag changed): read it again."""


class ReportsRefusedError(ConfigError):
    """The report source refuses anonymous reads (403): a private bucket or a wrong URL
    (exit 2: no retry helps; the configuration must change)."""


@dataclass(frozen=True)
class ReportFile:
    """One published report file: its key (relative to the source's root), ETag and size."""

    kind: str
    day: dt.date
    key: str
    etag: str
    size: int

    @property
    def etag8(self) -> str:
        """The ETag's first 8 hex digits (quotes and a multipart ``-N`` tail dropped)."""
        clean = "".join(c for c in self.etag.split("-", 1)[0] if c in "0123456789abcdefABCDEF")
        return (clean.lower() or "noetag")[:8]


@dataclass(frozen=True)
class ReportRow:
    """One kept row: its 0-based position in the file's array, its fields and exact bytes."""

    row_no: int
    ticker_name: str
    report_ticker: str
    body: bytes


@dataclass
class FilterStats:
    """What :func:`filter_rows` walked: rows of the array and uncompressed bytes."""

    rows: int = 0
    bytes: int = 0


class ReportSource:
    """The public report bucket, read anonymously (or a local folder, for tests and benches).

    ``url`` is ``s3://bucket/prefix`` or a local path / ``file://`` URL; ``endpoint_url`` points
    S3 reads at another server (moto in the tests). No credentials are ever sent to S3.
    """

    def __init__(self, url: str = DEFAULT_REPORTS_URL, endpoint_url: str | None = None) -> None:
        self.url = url.rstrip("/")
        if self.url.startswith("s3://"):
            import s3fs

            self.fs: Any = s3fs.S3FileSystem(
                anon=True,
                endpoint_url=endpoint_url,
                skip_instance_cache=True,
                use_listings_cache=False,
                config_kwargs={"retries": {"mode": "standard", "max_attempts": 3}},
            )
            self.root = self.url[len("s3://") :]
        elif "://" not in self.url or self.url.startswith("file://"):
            import fsspec

            self.fs = fsspec.filesystem("file")
            self.root = self.url.removeprefix("file://")
        else:
            raise ConfigError(f"reports URL {url!r}: use s3://bucket/prefix or a local folder")
        self._readable: bool | None = None  # whether a 403 can mean "not published"

    def key(self, kind: str, day: dt.date, ext: str) -> str:
        """The file's path on the source (``<root>/<kind>_<day><ext>``)."""
        if kind not in KINDS:
            raise ValueError(f"unknown report kind {kind!r}")
        return f"{self.root}/{kind}_{day.isoformat()}{ext}"

    def locate(self, kind: str, day: dt.date) -> ReportFile | None:
        """The published file of ``kind`` for report day ``day`` (``.json.gz``, else
        ``.json``), or None when neither exists yet (the day is pending).

        Raises :class:`ReportsRefusedError` (exit 2) when the source refuses to be read.
        """
        for ext in (".json.gz", ".json"):
            path = self.key(kind, day, ext)
            try:
                info = self.fs.info(path)
            except FileNotFoundError:
                continue
            except PermissionError as exc:
                # S3 answers 403, not 404, for a missing key when the bucket cannot be
                # listed: a 403 is "not published" only if the bucket is readable at all.
                self._check_readable(path, exc)
                continue
            return ReportFile(kind, day, path, _etag_of(info), int(info.get("size") or 0))
        return None

    def _check_readable(self, path: str, refused: PermissionError) -> None:
        """Raise :class:`ReportsRefusedError` unless the bucket is readable anonymously: its
        listing works (then a 403 on ``path`` is a real refusal: raise), or its first report
        file can be read (then the 403 only hid a missing key)."""
        if self._readable is None:
            try:
                self.fs.ls(self.root)
            except PermissionError:
                pass  # listing is private: ask the file that always exists
            else:
                self._readable = False  # listing works, so a 403 is not "missing"
            if self._readable is None:
                try:
                    self.fs.info(f"{self.root}/{FIRST_REPORT_KEY}")
                    self._readable = True
                except FileNotFoundError:
                    self._readable = True  # a 404: the bucket answers us, the key is absent
                except PermissionError:
                    self._readable = False
        if not self._readable:
            raise ReportsRefusedError(
                f"Kalshi's daily reports at {self.url} refuse anonymous reads (403 on "
                f"{path}: {' '.join(str(refused).split())}): the bucket is private or the "
                "reports URL is wrong (KALSHI_REPORTS_URL)"
            )

    @contextlib.contextmanager
    def open(self, report: ReportFile) -> Iterator[IO[bytes]]:
        """The file's uncompressed bytes as a stream (gunzipped on the fly for ``.gz``),
        pinned to ``report.etag``: on S3 every ranged GET carries ``If-Match`` (a rewrite
        mid-read fails the next GET instead of mixing two versions), and after the reading
        the ETag is checked again (the local fallback, and a rewrite after the last GET).
        A change raises :class:`ReportChanged`; the caller reads the new version."""
        raw = self.fs.open(report.key, "rb", block_size=4 << 20, cache_type="readahead")
        if hasattr(raw, "read_kw"):  # s3fs's S3File: the kwargs of each get_object
            raw.read_kw = {**raw.read_kw, "IfMatch": f'"{report.etag}"'}
        try:
            if report.key.endswith(".gz"):
                with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                    yield cast(IO[bytes], gz)
            else:
                yield raw
        except Exception as exc:
            # a failed GET on If-Match, or bytes that stopped parsing because the file changed
            # under a reader without If-Match: either way, the version is what went wrong
            if _precondition_failed(exc) or self._changed(report):
                raise ReportChanged(f"{report.key} was rewritten while it was read") from None
            raise
        finally:
            raw.close()
        if self._changed(report):
            raise ReportChanged(f"{report.key} was rewritten while it was read")

    def _changed(self, report: ReportFile) -> bool:
        """True when ``report``'s key no longer has the ETag it was located with."""
        try:
            return _etag_of(self.fs.info(report.key)) != report.etag
        except FileNotFoundError:
            return True


def _etag_of(info: dict[str, Any]) -> str:
    etag = str(info.get("ETag") or info.get("etag") or "")
    if not etag:
        # A local file has no ETag: its size and mtime stand for one.
        etag = f"{int(info.get('size') or 0):x}{int(info.get('mtime') or 0):x}"
    return etag.strip('"')


def _precondition_failed(exc: BaseException) -> bool:
    """True for s3fs's "the object changed" errors (412 on If-Match, or its own ETag check)."""
    text = f"{type(exc).__name__} {exc}"
    return "FileExpired" in text or "PreconditionFailed" in text or "pre-conditions" in text


def _ticker_of(row: bytes) -> bytes | None:
    """The ``report_ticker`` string of a row without backslashes (fast path), or None.

    Without backslashes a string cannot hold a quote, so a quoted ``report_ticker`` followed by
    a colon is the key itself, never a value that happens to spell it.
    """
    m = _TICKER.search(row)
    return m.group(1) if m is not None else None


def _object_end(buf: bytes, start: int) -> int:
    """Index just past the JSON object at ``buf[start]`` (``{``), or -1 if ``buf`` ends first.

    The exact scanner (strings, escapes, nesting) for rows the fast path cannot vouch for.
    """
    depth = 0
    in_str = False
    esc = False
    for i in range(start, len(buf)):
        c = buf[i]
        if in_str:
            if esc:
                esc = False
            elif c == 0x5C:  # backslash
                esc = True
            elif c == 0x22:  # quote
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c == 0x7B:  # {
            depth += 1
        elif c == 0x7D:  # }
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


_SPACE = b" \t\r\n"
#: A flat JSON object with no backslash anywhere (its strings may hold braces), possessive so
#: that a failed match costs one pass; after a comma for every row but the first.
_FLAT = rb'(\{(?:[^{}"\\]++|"[^"\\]*+")*+\})'
_FIRST_ROW = re.compile(rb"[ \t\r\n]*+" + _FLAT)
_NEXT_ROW = re.compile(rb"[ \t\r\n]*+,[ \t\r\n]*+" + _FLAT)
#: The report_ticker key and its string value in such a row (a string there cannot hold a
#: quote, so a match is the key itself, never text inside a value).
_TICKER = re.compile(rb'"report_ticker"[ \t\r\n]*+:[ \t\r\n]*+"([^"\\]*+)"')
#: A run of ", row" where every row is flat, has no backslash and holds the string
#: "report_ticker" exactly once, as a key with a string value: in such a run each row's ticker
#: is the one occurrence of ``"report_ticker"`` in it, so rows can be counted and the kept ones
#: found with byte searches, without a Python step per row.
_OTHER = rb'(?:[^{}"\\]++|"(?!report_ticker")[^"\\]*+")'
_RUN = re.compile(
    rb"(?:[ \t\r\n]*+,[ \t\r\n]*+\{"
    + _OTHER
    + rb'*+"report_ticker"[ \t\r\n]*+:[ \t\r\n]*+"(?!report_ticker")[^"\\]*+"'
    + _OTHER
    + rb"*+\})*+"
)
#: Runs shorter than this are left to the row-at-a-time path.
BULK_MIN = 1 << 16


def _decode(row: bytes, row_no: int, keep: frozenset[str] | set[str]) -> ReportRow | None:
    """The row as a :class:`ReportRow` if its ``report_ticker`` is kept (checked on the decoded
    JSON), else None; :class:`CorruptFileError` if it is not a JSON object."""
    try:
        obj = json.loads(row)
    except ValueError as exc:
        raise CorruptFileError(f"report file: row {row_no} is not valid JSON: {exc}") from None
    rt = obj.get("report_ticker") if isinstance(obj, dict) else None
    if isinstance(rt, str) and rt in keep:
        return ReportRow(row_no, str(obj.get("ticker_name") or ""), rt, row)
    return None


def filter_rows(
    stream: IO[bytes],
    keep: frozenset[str] | set[str],
    *,
    chunk: int = CHUNK,
    stats: FilterStats | None = None,
    bulk_min: int = BULK_MIN,
) -> Iterator[ReportRow]:
    """The rows of a report's JSON array whose ``report_ticker`` is in ``keep``, in file order.

    Reads ``stream`` ``chunk`` bytes at a time over a sliding buffer: each row's extent is
    found with one ``find`` of the closing brace, trusted only when the row has no backslash,
    no nested object and an even number of quotes (so that brace cannot sit in a string);
    other rows go through an exact byte scanner. Only kept rows are decoded (``json.loads``,
    which also checks them). Whole runs of at least ``bulk_min`` bytes of plain rows are first
    checked in one regular-expression match and searched for the wanted tickers as a block
    (:data:`_RUN`). ``row_no`` counts every row of the array from 0; ``stats``, when
    given, holds the rows and bytes walked once the array ends. Raises
    :class:`CorruptFileError` for anything but one array of objects.
    """
    wanted = {t.encode() for t in keep}
    hit = re.compile(
        rb'"report_ticker"[ \t\r\n]*+:[ \t\r\n]*+"(?:'
        + (b"|".join(re.escape(t) for t in sorted(wanted)) or rb"(?!)")
        + rb')"'
    )
    buf = b""
    pos = 0
    eof = False
    chunk_no = 0
    bulk_tried = -1

    def more() -> bool:
        nonlocal buf, pos, eof, chunk_no
        if eof:
            return False
        chunk_no += 1
        data = stream.read(chunk)
        if not data:
            eof = True
            return False
        if stats is not None:
            stats.bytes += len(data)
        buf = buf[pos:] + data
        pos = 0
        return True

    # The opening bracket.
    while True:
        while pos < len(buf) and buf[pos] in _SPACE:
            pos += 1
        if pos < len(buf):
            break
        if not more():
            raise CorruptFileError("report file is empty: expected a JSON array")
    if buf[pos] != 0x5B:
        raise CorruptFileError(f"report file does not start with a JSON array: {buf[:40]!r}")
    pos += 1
    row_no = 0
    expect_row = True  # after "[" or ",": a row (or "]" right after "[")
    while True:
        # Bulk path, once per chunk: the buffer's complete rows as one checked run.
        if not expect_row and bulk_tried != chunk_no and len(buf) - pos >= bulk_min:
            bulk_tried = chunk_no
            cut = buf.rfind(b"}") + 1
            region = buf[pos:cut]
            if len(region) >= bulk_min and b"\\" not in region and _RUN.fullmatch(region):
                before = 0  # rows of the run before ``prev``
                prev = 0
                for key in hit.finditer(region):
                    at = key.start()
                    before += region.count(b'"report_ticker"', prev, at)
                    prev = at
                    # The row around the ticker: the nearest braces outside strings (no
                    # backslash here, so a position is inside a string iff an odd number of
                    # quotes lies between it and the key).
                    start = region.rfind(b"{", 0, at)
                    while region.count(b'"', start, at) % 2:
                        start = region.rfind(b"{", 0, start)
                    end = region.find(b"}", at)
                    while region.count(b'"', at, end) % 2:
                        end = region.find(b"}", end + 1)
                    found = _decode(region[start : end + 1], row_no + before, keep)
                    if found is not None:
                        yield found
                row_no += before + region.count(b'"report_ticker"', prev)
                pos = cut
                continue
        # Fast path: (a comma and) a whole flat row with no backslash, matched in C.
        m = (_FIRST_ROW if expect_row else _NEXT_ROW).match(buf, pos)
        if m is not None:
            start, end = m.span(1)
            t = _TICKER.search(buf, start, end)
            if t is None or t.group(1) in wanted:
                found = _decode(buf[start:end], row_no, keep)
                if found is not None:
                    yield found
            pos = end
            row_no += 1
            expect_row = False
            continue
        # Slow path: separators, the array's end, more data, rows with escapes or nesting.
        while True:
            n = len(buf)
            while pos < n and buf[pos] in _SPACE:
                pos += 1
            if pos < n:
                break
            if not more():
                raise CorruptFileError(f"report file ends inside its array (after row {row_no})")
        c = buf[pos]
        if c == 0x5D:  # ]
            if expect_row and row_no:
                raise CorruptFileError(f"report file has a trailing comma after row {row_no - 1}")
            if stats is not None:
                stats.rows = row_no
            break
        if not expect_row:
            if c != 0x2C:  # ,
                raise CorruptFileError(f"report file: expected ',' or ']' after row {row_no - 1}")
            pos += 1
            expect_row = True
            continue
        if c != 0x7B:
            raise CorruptFileError(f"report file: row {row_no} is not a JSON object")
        end = -1
        while True:
            close = buf.find(b"}", pos)
            if close >= 0:
                row = buf[pos : close + 1]
                if b"\\" not in row and row.count(b'"') % 2 == 0 and row.find(b"{", 1) < 0:
                    end = close + 1
                    break
                end = _object_end(buf, pos)
                if end >= 0:
                    row = buf[pos:end]
                    break
            if len(buf) - pos > MAX_ROW_BYTES:
                raise CorruptFileError(f"report file: row {row_no} is longer than 1 MiB")
            if not more():
                raise CorruptFileError(f"report file ends inside row {row_no}")
        ticker = _ticker_of(row) if b"\\" not in row else None
        if ticker is None or ticker in wanted or b"\\" in row:
            found = _decode(row, row_no, keep)
            if found is not None:
                yield found
        pos = end
        row_no += 1
        expect_row = False
