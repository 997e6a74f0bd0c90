"""A repair run, per city: scan, record, quarantine, reset, re-fetch, transform (see the
package docstring for the steps)."""

from __future__ import annotations

import datetime as dt
import time

import httpx

from kalshi_lake.backfill import run_backfill
from kalshi_lake.backfill.keys import keys_covering
from kalshi_lake.cities import City, get_city
from kalshi_lake.config import Settings
from kalshi_lake.errors import FetchIncompleteError, LockedError, UnknownCityError
from kalshi_lake.lake.lock import Lease
from kalshi_lake.lake.raw import page_endpoints
from kalshi_lake.lake.state import StateStore, new_run_id, read_run_records
from kalshi_lake.lake.storage import Lake
from kalshi_lake.log import get_logger
from kalshi_lake.repair.held import lost_dates
from kalshi_lake.repair.scan import ScanProgress, find_unreadable, raw_files
from kalshi_lake.repair.summary import BadFile, CityRepair, RepairIncomplete, RepairSummary

log = get_logger(__name__)

#: Where bad raw files are moved: ``_quarantine/<repair run id>/raw/...``. The leading ``_``
#: keeps engines that read whole folders (Spark, Hive, Athena) out of it.
QUARANTINE_DIR = "_quarantine"


def run_repair(
    settings: Settings,
    city: City | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    transform: bool = True,
) -> RepairSummary:
    """Repair ``city`` (or every city with raw files) of ``settings.lake``; see the module
    docstring. Returns the summary; raises :class:`LockedError` (exit 2) when a backfill of a
    city holds its lease, :class:`RepairIncomplete` (exit 3, with the summary) when a re-fetch
    or transform did not finish. ``transport`` replaces the network (tests)."""
    t0 = time.monotonic()
    lake = Lake.of(settings)
    summary = RepairSummary(lake=lake.url, run_id=new_run_id())
    names = [city.name] if city else _cities(lake)
    for name in names:
        try:
            the_city = get_city(name)
        except UnknownCityError:
            log.warning("skipping raw/*/city=%s: not a city of the registry", name)
            continue
        done = _repair_city(settings, lake, the_city, summary, transport)
        summary.cities.append(done)
        # Not after an incomplete re-fetch: the curated tables keep what they had until the
        # pages are back (the next repair transforms).
        if transform and done.bad and not done.fetch_error:
            _transform(settings, done)
    summary.elapsed_s = time.monotonic() - t0
    if not summary.complete:
        first = next(c for c in summary.cities if c.fetch_error or c.transform_error)
        head = f"repair of {first.city} set {len(first.bad)} unreadable file(s) aside"
        if first.fetch_error:
            msg = (
                f"{head} but could not fetch all they held ({first.fetch_error}); "
                "re-run `kalshi-lake repair` to finish"
            )
        else:
            msg = f"{head} and fetched them again, but the transform: {first.transform_error}"
        raise RepairIncomplete(msg, summary)
    return summary


def _cities(lake: Lake) -> list[str]:
    """Cities with raw files, or with an unfinished repair."""
    found: set[str] = set()
    for endpoint in page_endpoints(lake):
        found |= {d[5:] for d in lake.ls_dirs("raw", endpoint) if d.startswith("city=")}
    found |= {d[5:] for d in lake.ls_dirs("_state", "repair") if d.startswith("city=")}
    return sorted(found)


def _repair_city(
    settings: Settings,
    lake: Lake,
    city: City,
    summary: RepairSummary,
    transport: httpx.AsyncBaseTransport | None,
) -> CityRepair:
    """Scan and set aside under the city's lease, then re-fetch (the backfill takes it again)."""
    out = CityRepair(city.name)
    pending = StateStore(lake, f"repair/city={city.name}")
    lease = Lease(
        lake,
        f"backfill/{city.name}",
        ttl_s=settings.lease_ttl_s,
        purpose=f"repair run {summary.run_id}",
    )
    with lease:
        pending.load()
        files = raw_files(lake, city.name)
        out.scanned = len(files)
        with ScanProgress(
            settings.progress, len(files), city.name, settings.progress_interval_s
        ) as shown:
            found = [BadFile(f, why) for f, why in find_unreadable(lake, files, shown.advance)]
        _set_aside(lake, city.name, found, pending, lease, summary.run_id, out)
    if out.span is None:
        return out
    try:
        out.backfill = run_backfill(
            settings,
            city,
            out.span[0],
            out.span[1],
            candle_window=_last_candle_window(lake, city.name),
            transport=transport,
        )
    except FetchIncompleteError as exc:
        out.backfill = exc.summary  # type: ignore[assignment]
        out.fetch_error = str(exc)
        return out
    # Done: forget the record (the quarantined bytes stay).
    pending.load()
    pending.commit({k: None for k, _ in pending.items()}, run_id=summary.run_id)
    return out


def _set_aside(
    lake: Lake,
    city: str,
    found: list[BadFile],
    pending: StateStore,
    lease: Lease,
    run_id: str,
    out: CityRepair,
) -> None:
    """Record, quarantine and reset (module docstring, steps 2-4); fills ``out.bad``,
    ``out.span`` (None: nothing to do) and ``out.reset_keys``."""
    # An earlier repair's files are moved and reset already, unless found here again (it
    # stopped before moving them: this run moves and resets them).
    again = {b.file.rel for b in found}
    earlier = [
        BadFile.from_state(r) for _, r in pending.items("file/") if r.get("rel") not in again
    ]
    if not found and not earlier:
        return
    state = StateStore(lake, f"backfill/city={city}").load()
    lost = lost_dates(lake, city, [*earlier, *found], state)
    lo, hi = min(lost), max(lost)
    if prev := pending.get("span"):
        lo = min(lo, dt.date.fromisoformat(prev["start"]))
        hi = max(hi, dt.date.fromisoformat(prev["end"]))
    found = [BadFile(b.file, b.reason, f"{QUARANTINE_DIR}/{run_id}/{b.file.rel}") for b in found]
    # Record first: a run stopped anywhere below is finished by the next repair.
    lease.ensure()
    pending.commit(
        {
            **{f"file/{b.file.rel}": b.to_state() for b in found},
            "span": {"start": lo.isoformat(), "end": hi.isoformat()},
        },
        run_id=run_id,
    )
    for b in found:
        _quarantine(lake, b, lease)
    # Reset the progress the lost pages proved, once per file (recorded): resetting again
    # after an earlier repair's re-fetch began would throw away what it got.
    todo = [*[b for b in earlier if not b.reset], *found]
    if todo:
        reset = keys_covering(state.items(), lost_dates(lake, city, todo, state))
        lease.ensure()
        state.commit({k: None for k in reset}, repair_run=run_id)
        out.reset_keys = len(reset)
        done = {b.file.rel: BadFile(b.file, b.reason, b.quarantined, reset=True) for b in todo}
        pending.commit({f"file/{rel}": b.to_state() for rel, b in done.items()})
        earlier = [done.get(b.file.rel, b) for b in earlier]
        found = [done[b.file.rel] for b in found]
    out.bad = [*earlier, *found]
    out.resumed = len(earlier)
    out.span = (lo, hi)


def _quarantine(lake: Lake, bad: BadFile, lease: Lease) -> None:
    """Move ``bad`` to its quarantine path: copy its bytes, then remove the original."""
    data = lake.read_bytes(bad.file.rel)
    lake.write_bytes(data, bad.quarantined, check=lease.ensure)
    lease.ensure()
    lake.delete([bad.file.rel])
    log.info("quarantined %s (%d bytes) to %s", bad.file.rel, len(data), bad.quarantined)


def _last_candle_window(lake: Lake, city: str) -> str:
    """The ``--candle-window`` of the city's latest backfill (``full`` if none)."""
    runs = [
        r
        for r in read_run_records(lake)
        if r.get("command") == "backfill" and r.get("city") == city and r.get("candle_window")
    ]
    runs.sort(key=lambda r: str(r.get("started_at", "")))
    return str(runs[-1]["candle_window"]) if runs else "full"


def _transform(settings: Settings, out: CityRepair) -> None:
    """The city's transform, as ``backfill`` runs it after fetching (the whole city: a file
    that left may have fed any month)."""
    from kalshi_lake.transform import TransformIncomplete, run_transform

    try:
        out.transform = run_transform(settings, city=get_city(out.city))
    except TransformIncomplete as exc:
        out.transform = exc.summary
        out.transform_error = str(exc)
    except LockedError as exc:
        out.transform_note = f"transform left to the other worker: {exc}"
