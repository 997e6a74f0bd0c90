"""`kalshi-lake reconcile`: the lake against Kalshi's public daily reports.

The comparison itself is SQL (``queries/views/reconciliation*.sql``, checks
``reconcile_*``); :func:`run_reconcile` fetches the reports of a range into the raw layer and
summarises the comparison per city.
"""

from kalshi_lake.reconcile.run import (
    CityReconciliation,
    FlaggedDay,
    ReconcileFailed,
    ReconcileSummary,
    daily_report_fetcher,
    reconcile_summary,
    run_reconcile,
)

__all__ = [
    "CityReconciliation",
    "FlaggedDay",
    "ReconcileFailed",
    "ReconcileSummary",
    "daily_report_fetcher",
    "reconcile_summary",
    "run_reconcile",
]
