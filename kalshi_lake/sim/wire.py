"""The simulator's HTTP plumbing: replies, Kalshi's error bodies, query parameters, cursors.

Socket-free helpers of :mod:`~kalshi_lake.sim.api`: a :class:`Reply` before faults, the
:class:`ApiError` a handler raises (404, 400 and Go-validator shapes as Kalshi sends them),
:class:`Params` (last value wins, empty means absent) and :class:`Cursors` (opaque,
tamper-evident, bound to the query's filters).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

PREFIX = "/trade-api/v2"
JSON = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer before faults: status, body, and the endpoint label used in stats."""

    status: int
    body: bytes
    endpoint: str
    content_type: str = JSON


class ApiError(Exception):
    """An error reply raised from inside a handler."""

    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        super().__init__(status, payload)
        self.status = status
        self.payload = payload


def dumps(obj: Any) -> bytes:
    """Compact, key-sorted, UTF-8 JSON: byte-identical for equal objects."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class Raw(str):
    """A body a handler already serialized (byte-identical to :func:`dumps` of the object)."""


def json_text(obj: Any) -> str:
    """:func:`dumps` as text, for bodies a handler assembles itself (see :class:`Raw`)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


NOT_FOUND = {"error": {"code": "not_found", "message": "not found"}}


def not_found() -> ApiError:
    """404 with Kalshi's error body."""
    return ApiError(404, {"error": dict(NOT_FOUND["error"])})


def bad_request(details: str) -> ApiError:
    """400 for a request the handler cannot serve (caps, conflicting filters, cursors)."""
    return ApiError(
        400, {"error": {"code": "bad_request", "message": "bad request", "details": details}}
    )


def invalid(field: str, tag: str) -> ApiError:
    """400 in the shape of a Go validator failure (``Parameter validation failed``)."""
    return ApiError(
        400,
        {
            "error": {
                "code": "invalid_parameters",
                "message": "Parameter validation failed",
                "details": f"Key: 'Params.{field}' Error:Field validation for '{field}' failed "
                f"on the '{tag}' tag",
            }
        },
    )


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_"))


class Params:
    """Query parameters: last value wins; empty values count as absent (``omitempty``)."""

    def __init__(self, query: str) -> None:
        self.raw: dict[str, str] = {}
        self._pairs = parse_qsl(query, keep_blank_values=True)
        for k, v in self._pairs:
            if v != "":
                self.raw[k] = v
            else:
                self.raw.pop(k, None)

    def text(self, name: str) -> str | None:
        """A string parameter or None."""
        return self.raw.get(name)

    def integer(self, name: str, required: bool = False) -> int | None:
        """An integer parameter; 400 when malformed or missing but required."""
        v = self.raw.get(name)
        if v is None:
            if required:
                raise invalid(_camel(name), "required")
            return None
        try:
            return int(v)
        except ValueError:
            raise invalid(_camel(name), "number") from None

    def flag(self, name: str) -> bool | None:
        """A boolean parameter (true/false, 1/0); 400 when malformed."""
        v = self.raw.get(name)
        if v is None:
            return None
        low = v.lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0"):
            return False
        raise invalid(_camel(name), "boolean")

    def csv(self, name: str) -> list[str] | None:
        """A comma-separated list parameter, blanks dropped."""
        v = self.raw.get(name)
        if v is None:
            return None
        return [s.strip() for s in v.split(",") if s.strip()]

    def repeated(self, name: str) -> list[str]:
        """Every non-empty value of a repeated parameter (``?a=x&a=y``), in order; commas kept."""
        return [v for k, v in self._pairs if k == name and v != ""]

    def fingerprint(self, endpoint: str) -> int:
        """A 32-bit digest of the endpoint and every filter except ``cursor`` and ``limit``."""
        items = sorted((k, v) for k, v in self.raw.items() if k not in ("cursor", "limit"))
        return zlib.crc32(json.dumps([endpoint, items]).encode())


class Cursors:
    """Opaque, tamper-evident pagination cursors: base64url(fingerprint, offset, HMAC)."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def encode(self, offset: int, fp: int) -> str:
        """The cursor for the page starting at ``offset`` of the query with fingerprint ``fp``."""
        raw = struct.pack(">IQ", fp, offset)
        mac = hmac.new(self.secret, raw, hashlib.sha256).digest()[:8]
        return base64.urlsafe_b64encode(raw + mac).decode().rstrip("=")

    def decode(self, cursor: str, fp: int) -> int:
        """The offset in a cursor; 400 when it was not issued for this query."""
        try:
            data = base64.b64decode(
                cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True
            )
        except (ValueError, TypeError):
            raise bad_request("invalid cursor") from None
        if len(data) != 20:
            raise bad_request("invalid cursor")
        raw, mac = data[:12], data[12:]
        if not hmac.compare_digest(mac, hmac.new(self.secret, raw, hashlib.sha256).digest()[:8]):
            raise bad_request("invalid cursor")
        got_fp, offset = struct.unpack(">IQ", raw)
        if got_fp != fp:
            raise bad_request("cursor does not match the request's filters")
        return offset
