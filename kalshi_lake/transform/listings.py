"""Listing pages (``markets``, ``events``): the months each file touches, and its latest rows.

A listing is filed under its fetch date but may hold markets of any month. :meth:`Listings.index`
parses each new listing file once and records its months in the city's state (so the plan
knows which partitions it feeds); :meth:`Listings.load` reduces the listing rows the dirty
partitions need to the latest copy per ``(city, month, ticker)``.

An unreadable listing file tells no months. One indexed before keeps the months it had (the
partitions it fed still list it as an input, so they keep their last good version); one never
indexed is not recorded, so every run tries it again and reports it until it reads or is gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from kalshi_lake.transform import markets, parse_markets, trades
from kalshi_lake.transform.plan import LISTINGS, Key, RawFile
from kalshi_lake.transform.rawdb import RawDB, only
from kalshi_lake.transform.state import CityState


class Listings:
    """The listing rows of one run (``markets`` and ``events`` frames once :meth:`load` ran)."""

    def __init__(self, db: RawDB, raw: Sequence[RawFile], states: Mapping[str, CityState]):
        self.db = db
        self.raw = raw
        self.states = states
        self.markets: pl.DataFrame | None = None
        self.events: pl.DataFrame | None = None
        self._parsed: set[str] = set()
        self._market_parts: list[pl.DataFrame] = []
        self._event_parts: list[pl.DataFrame] = []

    def index(self, full: bool) -> None:
        """Make sure every listing file's set of months is known (parsing new ones, or all of
        them with ``full``); forget files that are gone."""
        present = {f.rel for f in self.raw if f.endpoint in LISTINGS}
        for st in self.states.values():
            st.listings = {k: v for k, v in st.listings.items() if k in present}
        todo = [
            f
            for f in self.raw
            if f.endpoint in LISTINGS and (full or f.rel not in self.states[f.city].listings)
        ]
        if not todo:
            return
        mk, ev = self._parse(todo)
        months: dict[str, set[str]] = {f.rel: set() for f in todo}
        rel_of = {self.db.fid[f.rel]: f.rel for f in todo}
        for df in (mk, ev):
            if df.height:
                for fid, month in df.select("fid", "month").unique().iter_rows():
                    months[rel_of[fid]].add(month)
        for f in todo:
            if f.rel not in self.db.unreadable:
                self.states[f.city].listings[f.rel] = sorted(months[f.rel])

    def load(self, dirty: Sequence[Key], inputs: Mapping[Key, list[RawFile]]) -> None:
        """Parse the listing files the dirty partitions need (not parsed yet) and reduce."""
        need = {f.rel: f for k in dirty for f in inputs[k] if f.endpoint in LISTINGS}
        todo = [need[r] for r in sorted(need) if r not in self._parsed]
        if todo:
            self._parse(todo)
        if self._market_parts:
            mk = pl.concat(self._market_parts, how="vertical_relaxed")
            self.markets = trades.latest_per_key(mk, ["city", "month", "market_ticker"])
        if self._event_parts:
            ev = pl.concat(self._event_parts, how="vertical_relaxed")
            self.events = trades.latest_per_key(ev, ["city", "month", "event_ticker"])
        self._market_parts, self._event_parts = [], []

    def _parse(self, files: list[RawFile]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Parse listing files; keep their rows for the build and return them."""
        files = [f for f in files if f.rel not in self._parsed]
        self._parsed.update(f.rel for f in files)
        eps = {f.endpoint for f in files}
        mk, ev = self.db.query(
            "listing_pages",
            files,
            only(parse_markets.parse_markets, eps),
            parse_markets.parse_events,
        )
        mk = self.db.good(mk)
        ev = self.db.good(ev, report=False)  # the same pages: already reported above
        mk = markets.listing_dates(mk).with_columns(month=pl.col("date").dt.strftime("%Y-%m"))
        ev = markets.listing_dates(ev, "event_ticker").with_columns(
            month=pl.col("date").dt.strftime("%Y-%m")
        )
        # Keep only the latest copy per (city, month, ticker): the markets table wants the
        # latest state, so older listing copies can never matter (this keeps memory small).
        if mk.height:
            self._market_parts.append(trades.latest_per_key(mk, ["city", "month", "market_ticker"]))
        if ev.height:
            self._event_parts.append(trades.latest_per_key(ev, ["city", "month", "event_ticker"]))
        return mk, ev
