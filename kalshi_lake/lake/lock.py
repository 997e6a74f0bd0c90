"""Leases: at most one process at a time works on a named piece of a lake (local or S3).

A lease is a small JSON object at ``<lake>/_state/locks/<name>.json`` naming its holder (host,
pid, a random owner token, when it started) and when it expires. The holder renews it from a
heartbeat thread every ``ttl_s / 3`` seconds; a holder that dies (``kill -9``, a lost machine)
stops renewing, and once the lease has expired anyone may take it over. A holder that ran on
this very machine (same kernel boot and pid namespace) and whose pid no longer exists, or is a
zombie its parent has not reaped yet, is known dead at once, so a re-run right after a crash takes
over without waiting for the expiry. So a crash never needs a human to clean up, and two live
processes never both hold the same name.

Every step is a compare-and-swap, so two processes racing for a free or an expired lease cannot
both win:

- S3: create with a conditional PUT (``If-None-Match: *``); renew, take over and release with
  ``If-Match: <the ETag we last saw>``. AWS S3, MinIO and moto honour both headers; a store that
  ignores them is not safe for parallel workers.
- local disk: each read-modify-write runs under ``flock(2)`` on a ``<name>.json.guard`` file
  beside the lease (the kernel drops it when its process dies), and the JSON is replaced by
  rename, so readers never see half a lease.

Expiry compares wall clocks (UTC), so machines sharing an S3 lake need clocks within a small
fraction of ``ttl_s`` of each other (NTP gives milliseconds; the default TTL is two minutes).

Usage::

    with Lease(lake, "backfill/chicago", purpose="backfill chicago"):
        ...                     # LockedError (exit 2) if someone else holds it

Long jobs call :meth:`Lease.ensure` before every durable commit: it raises
:class:`LockedError` if the lease is lost, and when the heartbeat is overdue (the process was
paused, say by SIGSTOP or a frozen VM) it renews the lease first with a compare-and-swap, which
fails if another process took it over in the meantime. So a job resumed after its lease expired
stops before writing anything more.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from kalshi_lake.errors import ConfigError, LockedError
from kalshi_lake.lake.storage import Lake

#: Folder of lease objects, relative to the lake root.
LOCKS_DIR = "_state/locks"

#: Default time to live of a lease (seconds): how long a dead holder blocks others.
DEFAULT_TTL_S = 120.0

_NAME_RE = re.compile(r"^[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*$")


@dataclass(frozen=True)
class LeaseInfo:
    """What a lease object says about its holder (all times UTC)."""

    name: str
    owner: str
    host: str
    pid: int
    started: dt.datetime
    renewed: dt.datetime
    expires: dt.datetime
    purpose: str = ""
    #: This kernel boot and pid namespace (see :func:`host_id`); "" where unknown.
    host_id: str = ""

    def to_json(self) -> bytes:
        """The lease object's bytes."""
        d: dict[str, Any] = asdict(self)
        for k in ("started", "renewed", "expires"):
            d[k] = d[k].isoformat()
        return json.dumps(d, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> LeaseInfo | None:
        """Parse a lease object; None if it is not one (treated as free)."""
        try:
            d = json.loads(data)
            return cls(
                name=str(d["name"]),
                owner=str(d["owner"]),
                host=str(d["host"]),
                pid=int(d["pid"]),
                started=dt.datetime.fromisoformat(d["started"]),
                renewed=dt.datetime.fromisoformat(d["renewed"]),
                expires=dt.datetime.fromisoformat(d["expires"]),
                purpose=str(d.get("purpose", "")),
                host_id=str(d.get("host_id", "")),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def expired(self, now: dt.datetime | None = None) -> bool:
        """True once the holder has stopped renewing for a whole TTL."""
        return (now or _now()) >= self.expires

    def holder_gone(self) -> bool:
        """True if the holder ran on this machine and its process no longer exists.

        Only trusted when the kernel boot and pid namespace match ours: elsewhere the same pid
        means another process. A reused pid reads as alive, which only means waiting for expiry.
        """
        if not self.host_id or self.host_id != host_id() or self.pid == os.getpid():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        # A killed holder whose parent has not reaped it yet (``timeout -s KILL`` in a script
        # that carries on) still has a pid, but it will never run again: it is gone too.
        return _is_zombie(self.pid)

    def takeable(self) -> bool:
        """True if another process may take this lease over (expired, or its holder died)."""
        return self.expired() or self.holder_gone()


def _is_zombie(pid: int) -> bool:
    """True if ``pid`` has exited and only waits for its parent to reap it (state Z or X)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    # ``pid (comm) state ...``: comm may hold spaces and parentheses, so split at the last ')'.
    fields = stat.rpartition(b")")[2].split()
    return bool(fields) and fields[0] in (b"Z", b"X")


_HOST_ID: str | None = None


def host_id() -> str:
    """This machine's kernel boot id and pid namespace: pids compare only within one."""
    global _HOST_ID
    if _HOST_ID is None:
        try:
            with open("/proc/sys/kernel/random/boot_id") as f:
                boot = f.read().strip()
            _HOST_ID = f"{boot}/{os.readlink('/proc/self/ns/pid')}"
        except OSError:
            _HOST_ID = ""
    return _HOST_ID


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fmt(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _s3_error_code(exc: BaseException) -> str | None:
    """The S3 error code behind ``exc`` (s3fs wraps botocore's ClientError)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        response = getattr(cur, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            if code:
                return str(code)
        cur = cur.__cause__ or cur.__context__
    return None


class Lease:
    """An exclusive, expiring lease on ``name`` in ``lake`` (see the module docstring).

    ``wait_s`` > 0 makes :meth:`acquire` retry every second or so until then before raising
    :class:`LockedError`. ``heartbeat=False`` disables the renewal thread (the caller then
    calls :meth:`renew` itself, at least once per ``ttl_s``).
    """

    def __init__(
        self,
        lake: Lake,
        name: str,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        purpose: str = "",
        wait_s: float = 0.0,
        heartbeat: bool = True,
    ) -> None:
        if not _NAME_RE.match(name) or ".." in name.split("/"):
            raise ValueError(f"bad lease name {name!r}: use letters, digits, _.=- and /")
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        if lake.protocol not in ("file", "s3"):
            raise ConfigError(f"leases need a local or s3:// lake, not {lake.url}")
        self.lake = lake
        self.name = name
        self.ttl_s = float(ttl_s)
        self.purpose = purpose
        self.wait_s = float(wait_s)
        self.heartbeat = heartbeat
        self.owner = secrets.token_hex(12)
        self.rel = f"{LOCKS_DIR}/{name}.json"
        self.path = lake.path(self.rel)
        self.info: LeaseInfo | None = None
        self.taken_over: LeaseInfo | None = None
        self._etag: str | None = None
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()

    # --- public ------------------------------------------------------------------------------
    @property
    def held(self) -> bool:
        """True while this object holds the lease (and has not found it lost)."""
        return self.info is not None and self._lost is None

    def acquire(self) -> Lease:
        """Take the lease or raise :class:`LockedError` naming the holder.

        A lease whose holder stopped renewing (expired), or whose holder was a process of this
        machine that has died, is taken over; the previous holder is kept in
        :attr:`taken_over`.
        """
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                self._acquire_once()
                break
            except LockedError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        if self.heartbeat:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._beat, name=f"lease-{self.name}", daemon=True
            )
            self._thread.start()
        return self

    def renew(self) -> None:
        """Push the expiry ``ttl_s`` into the future; raises LockedError if the lease is lost."""
        with self._mutex:
            self._check_held()
            assert self.info is not None
            now = _now()
            info = LeaseInfo(
                name=self.info.name,
                owner=self.owner,
                host=self.info.host,
                pid=self.info.pid,
                started=self.info.started,
                renewed=now,
                expires=now + dt.timedelta(seconds=self.ttl_s),
                purpose=self.info.purpose,
                host_id=self.info.host_id,
            )
            if self.lake.protocol == "s3":
                ok = self._s3_replace(info, self._etag)
            else:
                ok = self._local_update(
                    lambda cur: cur is not None and cur.owner == self.owner, info
                )
            if not ok:
                self._lost = "another process took it over"
                self._check_held()
            self.info = info

    def ensure(self) -> None:
        """Call before every durable commit: raise :class:`LockedError` unless this object still
        holds the lease.

        The heartbeat renews every ``ttl_s / 3``; if a whole interval went by without a renewal
        (the process was paused), the lease may have expired and been taken over, so it is
        renewed here, synchronously, before the caller writes.
        """
        self._check_held()
        assert self.info is not None
        if _now() >= self.info.expires - dt.timedelta(seconds=self.ttl_s / 3.0):
            self.renew()

    def _check_held(self) -> None:
        if self.info is None:
            raise LockedError(f"lease {self.name!r} is not held by this process")
        if self._lost is not None:
            raise LockedError(
                f"lease {self.name!r} was lost ({self._lost}): this process was paused past its "
                f"expiry; stop and re-run (the work is resumable)"
            )

    def release(self) -> None:
        """Stop renewing and remove the lease if it is still ours (idempotent)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None
        with self._mutex:
            if self.info is None:
                return
            try:
                if self._lost is None:
                    if self.lake.protocol == "s3":
                        self._s3_delete()
                    else:
                        self._local_update(
                            lambda cur: cur is not None and cur.owner == self.owner, None
                        )
            finally:
                self.info = None
                self._etag = None

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    # --- the protocol ------------------------------------------------------------------------
    def _new_info(self) -> LeaseInfo:
        now = _now()
        return LeaseInfo(
            name=self.name,
            owner=self.owner,
            host=socket.gethostname(),
            pid=os.getpid(),
            started=now,
            renewed=now,
            expires=now + dt.timedelta(seconds=self.ttl_s),
            purpose=self.purpose,
            host_id=host_id(),
        )

    def _acquire_once(self) -> None:
        with self._mutex:
            if self.lake.protocol == "s3":
                self._s3_acquire()
            else:
                self._local_acquire()

    def _locked(self, holder: LeaseInfo) -> LockedError:
        left = (holder.expires - _now()).total_seconds()
        what = f" ({holder.purpose})" if holder.purpose else ""
        return LockedError(
            f"{self.name} is locked by {holder.host} pid {holder.pid}{what} since "
            f"{_fmt(holder.started)}, lease {self.lake.uri(self.rel)} expires {_fmt(holder.expires)} "
            f"(in {max(0, round(left))}s) unless renewed: wait for that run to finish; if it "
            "died, re-run after the expiry (no clean-up needed)"
        )

    # local: flock-guarded read-modify-write
    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        import fcntl

        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path + ".guard", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the flock

    def _local_read(self) -> LeaseInfo | None:
        try:
            with open(self.path, "rb") as f:
                return LeaseInfo.from_json(f.read())
        except FileNotFoundError:
            return None

    def _local_acquire(self) -> None:
        with self._guard():
            cur = self._local_read()
            if cur is not None and cur.owner != self.owner and not cur.takeable():
                raise self._locked(cur)
            info = self._new_info()
            self.lake.write_bytes(info.to_json(), self.rel)
            self.taken_over = cur if cur is not None and cur.owner != self.owner else None
            self.info, self._lost = info, None

    def _local_update(self, allowed: Any, info: LeaseInfo | None) -> bool:
        with self._guard():
            if not allowed(self._local_read()):
                return False
            if info is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
            else:
                self.lake.write_bytes(info.to_json(), self.rel)
            return True

    # S3: conditional PUTs
    def _s3_call(self, method: str, **kw: Any) -> Any:
        bucket, _, key = self.path.partition("/")
        with self.lake._guard():
            return self.lake.fs.call_s3(method, Bucket=bucket, Key=key, **kw)  # type: ignore[attr-defined]

    def _s3_read(self) -> tuple[LeaseInfo | None, str] | None:
        """(info, ETag) of the lease object from one GET, or None if there is none."""
        from fsspec.asyn import sync

        fs: Any = self.lake.fs
        bucket, _, key = self.path.partition("/")

        async def get() -> tuple[bytes, str]:
            out = await fs._call_s3("get_object", Bucket=bucket, Key=key)
            async with out["Body"] as stream:
                return bytes(await stream.read()), str(out["ETag"])

        try:
            with self.lake._guard():
                data, etag = sync(fs.loop, get)
        except FileNotFoundError:
            return None
        return LeaseInfo.from_json(data), etag

    def _s3_put(self, info: LeaseInfo, **cond: str) -> bool:
        """PUT the lease with a precondition; False if the precondition failed."""
        try:
            out = self._s3_call("put_object", Body=info.to_json(), **cond)
        except (FileExistsError, OSError) as exc:
            if isinstance(exc, FileExistsError) or _s3_error_code(exc) in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
            ):
                return False
            raise
        self._etag = str(out.get("ETag"))
        return True

    def _s3_acquire(self) -> None:
        for _ in range(20):
            info = self._new_info()
            if self._s3_put(info, IfNoneMatch="*"):
                self.taken_over, self.info, self._lost = None, info, None
                return
            seen = self._s3_read()
            if seen is None:
                continue  # released between our PUT and GET: try again
            cur, etag = seen
            if cur is not None and cur.owner != self.owner and not cur.takeable():
                raise self._locked(cur)
            if etag and self._s3_put(info, IfMatch=etag):
                self.taken_over = cur if cur is not None and cur.owner != self.owner else None
                self.info, self._lost = info, None
                return
        raise LockedError(f"{self.name}: too much contention on {self.lake.uri(self.rel)}; re-run")

    def _s3_replace(self, info: LeaseInfo, etag: str | None) -> bool:
        return bool(etag) and self._s3_put(info, IfMatch=str(etag))

    def _s3_delete(self) -> None:
        if not self._etag:
            return
        try:
            self._s3_call("delete_object", IfMatch=self._etag)
        except FileNotFoundError:
            return
        except OSError as exc:
            code = _s3_error_code(exc)
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                return  # no longer ours: leave the new holder's lease alone
            if code in ("NotImplemented", "InvalidArgument", "InvalidRequest"):
                # A store without conditional deletes: check ownership, then delete.
                seen = self._s3_read()
                if seen is not None and seen[1] == self._etag:
                    self._s3_call("delete_object")
                return
            raise

    # heartbeat
    def _beat(self) -> None:
        interval = self.ttl_s / 3.0
        while not self._stop.wait(interval):
            try:
                self.renew()
            except LockedError:
                return  # lost: ensure() reports it to the worker
            except Exception as exc:  # a network blip: retry until the lease would expire
                info = self.info
                if info is not None and info.expired():
                    self._lost = f"could not renew it before it expired: {exc}"
                    return


def read_lease(lake: Lake, name: str) -> LeaseInfo | None:
    """The current holder of lease ``name`` (expired or not), or None."""
    try:
        return LeaseInfo.from_json(lake.read_bytes(f"{LOCKS_DIR}/{name}.json"))
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def hold_all(lake: Lake, names: Iterable[str], **kw: Any) -> Iterator[list[Lease]]:
    """Hold several leases at once (taken in sorted order, so two callers cannot deadlock).

    If any is held by someone else, those already taken are released and LockedError raised.
    """
    with contextlib.ExitStack() as stack:
        leases = [stack.enter_context(Lease(lake, n, **kw)) for n in sorted(set(names))]
        yield leases
