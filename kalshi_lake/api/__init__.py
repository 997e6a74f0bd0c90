"""The Kalshi API seam: async client (limiter, retries, signing) and pure pagination helpers."""

from kalshi_lake.api.auth import Signer, load_private_key, signing_message
from kalshi_lake.api.client import ApiResponse, ClientStats, KalshiClient, auto_concurrency
from kalshi_lake.api.limiter import TokenBucket
from kalshi_lake.api.paging import CANDLE_CAP, AdjustedEndPager, ChunkPager, CursorPager
from kalshi_lake.api.retry import RetryBudget, RetryPolicy, parse_retry_after

__all__ = [
    "CANDLE_CAP",
    "AdjustedEndPager",
    "ApiResponse",
    "ChunkPager",
    "ClientStats",
    "CursorPager",
    "KalshiClient",
    "RetryBudget",
    "RetryPolicy",
    "Signer",
    "TokenBucket",
    "auto_concurrency",
    "load_private_key",
    "parse_retry_after",
    "signing_message",
]
