"""Run state under ``<lake>/_state/``: resumable progress (a key -> record log) and run records.

Everything goes through :class:`~kalshi_lake.lake.storage.Lake` (fsspec), so a lake on S3 keeps
its state on S3 too. Nothing here is needed to *read* the lake; it only saves work.

Leases (one run per city at a time) live beside it in :mod:`kalshi_lake.lake.lock`.

Progress (:class:`StateStore`) is a key -> record map stored as an append-only log of small JSON
segments, folded in name order (last write wins). Appending new objects instead of rewriting one
works the same on a local disk and on object stores, and a crash can only lose the segment being
written, never corrupt an older one. The backfill writes a segment only *after* the raw pages it
describes are durable, so state never claims a page the lake does not hold.
:meth:`StateStore.compact` folds the log into one snapshot now and then.

::

    _state/<scope>/segments/<time>-<seq>-<rand>.json    progress log (StateStore)
    _state/runs/<run_id>.json                            one record per run (write_run_record)

A run record says "running" until its run closes it ("ok", "incomplete", "failed",
"interrupted"); one whose run was killed is marked "killed" by the next run of the same city
(:func:`close_abandoned_runs`).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from kalshi_lake.lake.storage import Lake
from kalshi_lake.log import get_logger

log = get_logger(__name__)

#: Marks a lake written by `kalshi-lake demo` from the simulator; real backfills refuse it so
#: simulated pages never mix with real ones.
DEMO_MARKER = "_state/demo.json"

STATE_DIR = "_state"


def new_run_id() -> str:
    """``20261121T120301Z-3f9a1c``: sortable by start time, unique per run."""
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


class StateStore:
    """A durable key -> record map for one scope (e.g. ``backfill/city=chicago``).

    Records are JSON objects. :meth:`commit` appends one segment; ``None`` as a value deletes
    the key. Not safe for two writers at once on the same scope: hold a :class:`Lease`.
    """

    def __init__(self, lake: Lake, scope: str) -> None:
        self.lake = lake
        self.scope = scope.strip("/")
        self.dir = f"{STATE_DIR}/{self.scope}/segments"
        self._records: dict[str, dict[str, Any]] = {}
        self._segments: list[str] = []
        self._lock = threading.Lock()
        self._seq = 0
        self._last_stamp = ""

    # --- reading -----------------------------------------------------------------------------
    def load(self) -> StateStore:
        """Read and fold every segment (unreadable segments are skipped: they claim nothing)."""
        records: dict[str, dict[str, Any]] = {}
        segments = self.lake.glob(f"{self.dir}/*.json")
        for path in segments:
            try:
                doc = json.loads(self.lake.read_bytes(self.lake.rel(path)))
                updates = doc["records"]
                if not isinstance(updates, dict):
                    raise ValueError("records is not an object")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("skipping unreadable state segment %s: %s", path, exc)
                continue
            for key, value in updates.items():
                if value is None:
                    records.pop(key, None)
                else:
                    records[key] = value
        with self._lock:
            self._records = records
            self._segments = segments
        return self

    def get(self, key: str) -> dict[str, Any] | None:
        """The record of ``key`` or None."""
        with self._lock:
            rec = self._records.get(key)
            return dict(rec) if rec is not None else None

    def items(self, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
        """``(key, record)`` pairs whose key starts with ``prefix``, sorted by key."""
        with self._lock:
            snapshot = sorted(
                (k, dict(v)) for k, v in self._records.items() if k.startswith(prefix)
            )
        yield from snapshot

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    # --- writing -----------------------------------------------------------------------------
    def _segment_name(self) -> str:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        # Names must sort in commit order: the clock can repeat or step back, the counter cannot.
        stamp = max(stamp, self._last_stamp)
        self._last_stamp = stamp
        self._seq += 1
        return f"{stamp}-{self._seq:010d}-{secrets.token_hex(4)}.json"

    def commit(self, updates: Mapping[str, Mapping[str, Any] | None], **meta: Any) -> str | None:
        """Durably record ``updates`` (one new segment); returns its path, or None if empty."""
        if not updates:
            return None
        clean = {k: (dict(v) if v is not None else None) for k, v in updates.items()}
        with self._lock:
            name = self._segment_name()
        doc = {"written_at": dt.datetime.now(dt.UTC).isoformat(), **meta, "records": clean}
        path = self.lake.write_bytes(_json_bytes(doc), f"{self.dir}/{name}")
        with self._lock:
            for key, value in clean.items():
                if value is None:
                    self._records.pop(key, None)
                else:
                    self._records[key] = value
            self._segments.append(path)
        return path

    def compact(self, min_segments: int = 32) -> bool:
        """Fold the log into one snapshot segment and delete the older ones.

        The snapshot is written first: a crash in between leaves the old segments plus a
        snapshot that folds to the same map. Returns True when it compacted.
        """
        with self._lock:
            old = list(self._segments)
            snapshot = {k: dict(v) for k, v in self._records.items()}
        if len(old) < min_segments:
            return False
        with self._lock:
            name = self._segment_name()
        doc = {
            "written_at": dt.datetime.now(dt.UTC).isoformat(),
            "snapshot": True,
            "records": snapshot,
        }
        path = self.lake.write_bytes(_json_bytes(doc), f"{self.dir}/{name}")
        self.lake.delete(old)
        with self._lock:
            self._segments = [s for s in self._segments if s not in set(old)]
            if path not in self._segments:
                self._segments.insert(0, path)
        return True

    def clear(self) -> None:
        """Forget everything in this scope (used by ``--refresh`` before a fresh walk)."""
        with self._lock:
            old = list(self._segments)
            self._records = {}
            self._segments = []
        self.lake.delete(old)


def write_run_record(lake: Lake, run_id: str, record: Mapping[str, Any]) -> str:
    """Write (or replace) ``_state/runs/<run_id>.json``; returns its path."""
    return lake.write_bytes(
        json.dumps(dict(record), indent=2, sort_keys=True, default=str).encode(),
        f"{STATE_DIR}/runs/{run_id}.json",
    )


#: Status given to a run record left at "running" by a run that never closed it (killed with
#: SIGKILL, or cut off after its lease expired); set by the next run of the same scope.
KILLED = "killed"


def close_abandoned_runs(
    lake: Lake,
    *,
    command: str,
    city: str,
    current_run_id: str,
    last_heard: Mapping[str, dt.datetime] | None = None,
) -> list[str]:
    """Mark every other "running" record of ``command`` on ``city`` as :data:`KILLED`.

    Call only while holding the lease those runs held (the city's): no other run of the scope
    can still be working then, so a record that still says "running" belongs to a run that died
    or lost its lease. ``finished_at`` is when it was last heard of (``last_heard``: run id ->
    its lease's last renewal, when known), else now. Returns the run ids marked.
    """
    marked: list[str] = []
    now = dt.datetime.now(dt.UTC)
    for rec in read_run_records(lake):
        run_id = rec.get("run_id")
        if (
            not isinstance(run_id, str)
            or run_id == current_run_id
            or rec.get("status") != "running"
            or rec.get("command") != command
            or rec.get("city") != city
        ):
            continue
        when = (last_heard or {}).get(run_id, now)
        rec.update(
            status=KILLED,
            finished_at=when.isoformat(),
            closed_by=current_run_id,
            note="the run ended without closing its record (killed, or its lease expired)",
        )
        write_run_record(lake, run_id, rec)
        marked.append(run_id)
    return marked


def read_run_records(lake: Lake) -> list[dict[str, Any]]:
    """Every run record, oldest first (unreadable ones skipped)."""
    out = []
    for path in lake.glob(f"{STATE_DIR}/runs/*.json"):
        try:
            out.append(json.loads(lake.read_bytes(lake.rel(path))))
        except (OSError, ValueError):
            continue
    return out
