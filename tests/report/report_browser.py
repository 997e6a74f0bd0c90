"""Headless Chromium for the report tests: the page's DOM after its scripts ran, a screenshot,
and a PNG decoder (no imaging library in the venv) to look at the screenshot's pixels.

The browser runs with no network: every request goes to a proxy that is not there, so a page
that needed anything from outside would render without it.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

#: Where Debian's ``chromium`` package puts the browser, and other names it goes by.
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9",  # nothing listens there: no request leaves the machine
    "--proxy-bypass-list=<-loopback>",
    "--virtual-time-budget=20000",  # let the page's scripts run to the end before the dump
)


def chromium() -> str:
    """The browser's path; the test is skipped, loudly, when there is none (``make test``
    installs Debian's ``chromium`` with apt-get where it can: ``.ci/chromium.sh``)."""
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "NO CHROMIUM: the report's browser tests did not run (install Debian's `chromium`; "
        "`make test` does it with apt-get where apt is available)"
    )


def run(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Chromium on ``page`` (a local file) with a fresh profile folder and ``args``."""
    cmd = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, check=True)


def dump_dom(page: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran (``--dump-dom``)."""
    return run(page, profile, "--dump-dom").stdout


def screenshot(page: Path, profile: Path, out: Path, size: str = "1280,1000") -> np.ndarray:
    """A screenshot of the page's first ``size`` pixels, as an (h, w, 3) uint8 array."""
    run(page, profile, f"--window-size={size}", f"--screenshot={out}")
    return read_png(out)


def _unfilter_line(kind: int, line: bytearray, prev: bytes, bpp: int) -> bytearray:
    """Undo one scanline's PNG filter (RFC 2083 6.3) in place: plain ints, which is fast
    enough for the few hundred lines a screenshot has."""
    n = len(line)
    if kind == 1:  # sub
        for x in range(bpp, n):
            line[x] = (line[x] + line[x - bpp]) & 0xFF
    elif kind == 2:  # up
        for x in range(n):
            line[x] = (line[x] + prev[x]) & 0xFF
    elif kind == 3:  # average
        for x in range(n):
            left = line[x - bpp] if x >= bpp else 0
            line[x] = (line[x] + ((left + prev[x]) >> 1)) & 0xFF
    elif kind == 4:  # paeth
        for x in range(n):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[x] = (line[x] + pred) & 0xFF
    return line


def read_png(path: Path) -> np.ndarray:
    """An 8-bit RGB or RGBA PNG (what Chromium writes) as an (h, w, 3) uint8 array."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (2, 6), "unsupported PNG"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray()
    prev = bytes(stride)
    for y in range(height):
        at = y * (stride + 1)
        line = _unfilter_line(raw[at], bytearray(raw[at + 1 : at + 1 + stride]), prev, channels)
        out += line
        prev = bytes(line)
    pixels = np.frombuffer(bytes(out), dtype=np.uint8).reshape(height, width, channels)
    return pixels[:, :, :3]
