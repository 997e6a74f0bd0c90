"""State keys keep the exact strings existing lakes hold, so their runs resume."""

from __future__ import annotations

import secrets

from kalshi_lake.backfill import keys
from kalshi_lake.lake.state import StateStore
from kalshi_lake.lake.storage import Lake

T = "KXHIGHCHI-26NOV01-B45.5"
E = "KXHIGHCHI-26NOV01"


def test_key_formats_are_unchanged() -> None:
    assert keys.trades_key(T) == f"trades/{T}"
    assert keys.candles_key(T) == f"candles/{T}"
    assert keys.market_key(T) == f"market/{T}"
    assert keys.event_key(E) == f"event/{E}"
    assert keys.trades_walk_key("live", T, None) == f"walk/trades/live/{T}/0"
    assert keys.trades_walk_key("historical", T, 1761955200) == (
        f"walk/trades/historical/{T}/1761955200"
    )
    assert keys.event_candles_walk_key(E, (100, 200)) == f"walk/ecandles/{E}/100-200"
    assert keys.market_candles_walk_key(T, (100, 200)) == f"walk/hcandles/{T}/100-200"


def test_batch_candle_walk_keys_belong_to_their_event() -> None:
    assert keys.batch_candles_walk_key(E, (100, 200)) == f"walk/bcandles/{E}/100-200"
    assert keys.batch_candles_walk_key(E, (100, 200), 2) == f"walk/bcandles/{E}/100-200:2"
    for batch in (0, 2):
        key = keys.batch_candles_walk_key(E, (100, 200), batch)
        assert keys.key_family(key) == (keys.CANDLES, E)


def test_saved_state_reads_records_and_ignores_them_under_refresh() -> None:
    lake = Lake(f"memory://keys-{secrets.token_hex(6)}")
    store = StateStore(lake, "backfill/city=chicago")
    store.commit(
        {
            f"trades/{T}": {"lo": 1.0, "hi": 2.0, "final": True},
            f"event/{E}": {"date": "2026-11-01", "markets": [T], "final": True},
            "event/KXHIGHCHI-26NOV02": {"date": "2026-11-02", "markets": [], "final": False},
        }
    )
    saved = keys.SavedState(store, refresh=False)
    assert saved.trades(T) == {"lo": 1.0, "hi": 2.0, "final": True}
    assert saved.event(E) == {"date": "2026-11-01", "markets": [T], "final": True}
    assert saved.candles(T) is None
    assert saved.final_event_dates() == {"2026-11-01"}
    fresh = keys.SavedState(store, refresh=True)
    assert fresh.trades(T) is None and fresh.final_event_dates() == set()


def test_a_familys_finished_days_are_its_own() -> None:
    # A city's high and low events share climate days, never tickers: the days a family has
    # finished must not hide the other family's unfinished ones (the live listing is skipped
    # only when every day of the range is done for the series being discovered).
    lake = Lake(f"memory://keys-{secrets.token_hex(6)}")
    store = StateStore(lake, "backfill/city=chicago")
    low_t = "KXLOWTCHI-26NOV01-B30.5"
    store.commit(
        {
            f"event/{E}": {"date": "2026-11-01", "markets": [T], "final": True},
            "event/HIGHCHI-24OCT01": {"date": "2024-10-01", "markets": [], "final": True},
            "event/KXLOWTCHI-26NOV01": {"date": "2026-11-01", "markets": [low_t], "final": False},
            f"trades/{low_t}": {"lo": 1.0, "hi": 2.0, "final": True},
        }
    )
    saved = keys.SavedState(store, refresh=False)
    assert saved.final_event_dates({"KXHIGHCHI", "HIGHCHI"}) == {"2026-11-01", "2024-10-01"}
    assert saved.final_event_dates({"KXLOWTCHI"}) == set()
    assert saved.trades(low_t) is not None and saved.trades(T) is None
    assert keys.key_family(f"trades/{low_t}") == ("trades", low_t)
