"""The local disk behind :class:`~kalshi_lake.lake.storage.Lake`: atomic writes (a hidden temp
file renamed into place, then the folder synced), the one ``os.scandir`` walker, file stamps,
temp-file sweeps and the writability probe.

Object stores have their own mechanics in :mod:`kalshi_lake.lake.s3fs`; :class:`Lake` picks one
or the other, so nothing here knows about URLs or fsspec.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kalshi_lake.errors import ConfigError


@dataclass(frozen=True)
class FileStat:
    """What a listing says about a file, for free: its size and a change stamp.

    The stamp changes whenever the file's bytes may have: locally the modification and change
    times (ns) and the inode (a rename over it, ``touch`` or ``cp -p`` all change one of them;
    the change time cannot be set back), on object stores the ETag (or the modification time
    when the store gives none). Equal stamps mean unchanged content; different stamps mean
    "hash it to know" (a ``chmod`` changes the stamp, not the bytes).
    """

    size: int
    stamp: str


def local_stat(st: os.stat_result) -> FileStat:
    """The :class:`FileStat` of a local file's ``stat``."""
    return FileStat(st.st_size, f"{st.st_mtime_ns}/{st.st_ctime_ns}/{st.st_ino}")


def file_entries(base: str) -> Iterator[os.DirEntry[str]]:
    """Every file under the local folder ``base``, depth first (the one local walker)."""
    stack = [base]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                stack.append(e.path)
            elif e.is_file():
                yield e


def scan(base: str) -> Iterator[tuple[str, int]]:
    """``(path, size)`` of every file under the local folder ``base``, depth first."""
    for e in file_entries(base):
        yield e.path, e.stat().st_size


@contextlib.contextmanager
def atomic_file(target: str, check: Callable[[], object] | None = None) -> Iterator[IO[bytes]]:
    """Open the local file ``target`` for writing; it appears whole when the block exits.

    The bytes go to a hidden temp file beside the target (fsynced), ``check`` runs, and the temp
    file is renamed into place and the folder synced; on any error the temp file is removed and
    nothing becomes visible.
    """
    parent, name = target.rsplit("/", 1)
    os.makedirs(parent, exist_ok=True)
    tmp = f"{parent}/.{name}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            check()
        os.replace(tmp, target)
        fsync_dir(parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def fsync_dir(path: str) -> None:
    """Make a rename durable (a crash after this cannot lose the new name); best effort."""
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


def clear_temp_files(folder: str) -> None:
    """Remove every temp file directly in the local ``folder`` (missing folder: nothing)."""
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for name in os.listdir(folder):
            if name.endswith(".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{folder}/{name}")


def remove_stale_temp_files(folder: str, *, before: float) -> int:
    """Remove temp files at any depth under the local ``folder`` last written before ``before``
    (epoch seconds); returns how many."""
    removed = 0
    for e in file_entries(folder):
        if e.name.endswith(".tmp"):
            with contextlib.suppress(FileNotFoundError):
                if e.stat(follow_symlinks=False).st_mtime < before:
                    os.unlink(e.path)
                    removed += 1
    return removed


def probe_writable(root: Path) -> None:
    """Raise :class:`ConfigError` when the local lake ``root`` cannot be written at all.

    Creates and removes one hidden file in ``root``, or in its nearest existing ancestor when
    ``root`` does not exist yet (nothing is created then).
    """
    probe_dir = root
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        where = "is" if probe_dir == root else f"is under {probe_dir}, which is"
        raise ConfigError(f"cannot use {root} as the lake: it {where} a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".kalshi-lake-probe-", suffix=".tmp", dir=probe_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"cannot write the lake at {root}: {probe_dir} is not writable ({reason})"
        ) from None
