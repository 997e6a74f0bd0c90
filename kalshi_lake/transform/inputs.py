"""What the lake holds for the transform: its cities, raw input files and curated files.

Every listing goes through :meth:`Lake.walk_files` (:meth:`Lake.walk_stats` for the curated
layer) and :meth:`Lake.ls_dirs`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Sequence

from kalshi_lake.lake.raw import CONNECTION_CITY, ENDPOINTS, WS_FOLDER, page_endpoints
from kalshi_lake.lake.storage import FileStat, Lake
from kalshi_lake.log import get_logger
from kalshi_lake.schemas import TABLES
from kalshi_lake.transform.plan import DATE_SCOPED, INPUT_ENDPOINTS, Key, RawFile, poll_months

log = get_logger(__name__)


def cities_in(lake: Lake, only: str | None) -> list[str]:
    """Cities with raw input (pages or recorded frames) or curated output (or just ``only``)."""
    if only:
        return [only]
    found: set[str] = set()
    raw = page_endpoints(lake) + ([WS_FOLDER] if WS_FOLDER in lake.ls_dirs("raw") else [])
    for top, subs in (("raw", raw), ("curated", lake.ls_dirs("curated"))):
        for sub in subs:
            found.update(
                d.split("=", 1)[1] for d in lake.ls_dirs(top, sub) if d.startswith("city=")
            )
    found.discard(CONNECTION_CITY)  # frames about no one market: no curated partition
    return sorted(found)


def list_raw(
    lake: Lake, cities: Sequence[str], months: Collection[str] | None = None
) -> list[RawFile]:
    """Every raw input file of ``cities``, sorted by path.

    With ``months`` (``YYYY-MM``), event- and market-scoped endpoints are listed only in the
    ``date=`` folders of those months: a transform scoped to a date range then lists a
    constant slice of the lake, not all of it. Listings (``markets``, ``events``) are filed by
    fetch date and may hold any month, so they are always listed whole.
    """
    out: list[RawFile] = []
    dates: dict[str, dt.date | None] = {}  # folder name -> date (few distinct; parse once)
    for endpoint in lake.ls_dirs("raw"):
        if endpoint not in INPUT_ENDPOINTS:
            continue
        for c in cities:
            prefix = f"raw/{endpoint}/city={c}/"
            if months is not None and endpoint in DATE_SCOPED:
                bases = [
                    prefix + d
                    for d in lake.ls_dirs(prefix)
                    if d.startswith("date=") and _in_months(endpoint, d, months)
                ]
            else:
                bases = [prefix]
            for base in bases:
                for path, size in lake.walk_files(base).items():
                    tail = lake.rel(path)[len(prefix) :].split("/")  # [date=YYYY-MM-DD, name]
                    if (
                        len(tail) != 2
                        or not tail[1].endswith(".parquet")
                        or tail[1].startswith((".", "_"))
                    ):
                        continue
                    folder = tail[0]
                    if folder not in dates:
                        dates[folder] = _folder_date(folder)
                    date = dates[folder]
                    if date is None:
                        log.warning(
                            "ignoring raw file with a bad date folder: %s%s", prefix, folder
                        )
                        continue
                    out.append(RawFile(prefix + folder + "/" + tail[1], endpoint, c, date, size))
    assert all(f.endpoint in ENDPOINTS or f.endpoint == WS_FOLDER for f in out)
    return sorted(out, key=lambda f: f.rel)


def _in_months(endpoint: str, folder: str, months: Collection[str]) -> bool:
    """True if a ``date=`` folder of ``endpoint`` feeds one of ``months`` (a REST order book
    poll feeds the months of the days around it)."""
    if endpoint == "orderbooks":
        day = _folder_date(folder)
        return day is not None and any(m in months for m in poll_months(day))
    return folder[len("date=") : len("date=YYYY-MM")] in months


def _folder_date(folder: str) -> dt.date | None:
    """The date of a ``date=YYYY-MM-DD`` folder name, or None."""
    if not folder.startswith("date="):
        return None
    try:
        return dt.date.fromisoformat(folder[len("date=") :])
    except ValueError:
        return None


def list_curated(lake: Lake, cities: Sequence[str]) -> dict[Key, dict[str, dict[str, FileStat]]]:
    """``(city, month) -> table -> file name -> size and stamp`` of the curated layer (temp
    files excluded): the same one listing, whose sizes and stamps are free."""
    out: dict[Key, dict[str, dict[str, FileStat]]] = defaultdict(dict)
    for table in TABLES:
        for c in cities:
            for path, st in lake.walk_stats("curated", table, f"city={c}").items():
                parts = lake.rel(path).split("/")
                if len(parts) != 5 or not parts[3].startswith("month="):
                    continue
                out[(c, parts[3][len("month=") :])].setdefault(table, {})[parts[4]] = st
    return dict(out)
