"""Backoff with full jitter, Retry-After parsing and the run's retry budget."""

from __future__ import annotations

import datetime as dt
import random

from kalshi_lake.api.retry import MAX_RETRY_AFTER_S, RetryBudget, RetryPolicy, parse_retry_after


def test_full_jitter_stays_within_the_exponential_ceiling() -> None:
    policy = RetryPolicy(max_retries=8, base_s=0.5, cap_s=4.0)
    rng = random.Random(1)
    for attempt in range(8):
        ceiling = min(4.0, 0.5 * 2**attempt)
        delays = [policy.backoff(attempt, rng=rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        # Full jitter uses the whole range, not just the top.
        assert min(delays) < ceiling * 0.2 and max(delays) > ceiling * 0.8


def test_retry_after_is_a_floor() -> None:
    policy = RetryPolicy(base_s=0.1, cap_s=1.0)
    rng = random.Random(2)
    for _ in range(50):
        d = policy.backoff(0, retry_after=3.0, rng=rng)
        assert 3.0 <= d <= 3.1
    assert policy.backoff(0, retry_after=10_000.0, rng=rng) <= MAX_RETRY_AFTER_S + 0.1


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = dt.datetime(2026, 11, 21, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("Sat, 21 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Sat, 21 Nov 2026 11:00:00 GMT", now=now) == 0.0


def test_budget_is_spent_once_per_retry() -> None:
    budget = RetryBudget(total=2)
    assert budget.take() and budget.take()
    assert not budget.take()
    assert budget.exhausted and budget.used == 2
