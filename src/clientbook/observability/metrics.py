"""The process's Prometheus metrics (a leaf module: anything may count into it).

Import jobs are not here: they are counted in the database at scrape time (`collect`).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # the `_created` series double the scrape and say nothing useful

# Sub-millisecond buckets: a read by id takes well under a millisecond of server time.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED_ROUTE = "unmatched"  # every path no route answers, so that labels stay bounded

REQUESTS = Counter(
    "clientbook_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "clientbook_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by route template and status",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "clientbook_http_requests_in_flight",
    "Requests being answered now",
    multiprocess_mode="livesum",
)
POOL_IN_USE = Gauge(
    "clientbook_db_connections_in_use",
    "Database connections checked out of the pool (SQLite: writer and reader pools)",
    ["pool"],
    multiprocess_mode="livesum",
)
POOL_CAPACITY = Gauge(
    "clientbook_db_connections_capacity",
    "Most connections the pool may hand out (pool size and overflow)",
    ["pool"],
    multiprocess_mode="livesum",
)
LOGIN_FAILURES = Counter(
    "clientbook_login_failures",
    "Failed sign-ins, by reason (unknown_account, wrong_password, not_activated, blocked, "
    "throttled)",
    ["reason"],
)

_LOGIN_REASONS = {
    "unknown account": "unknown_account",
    "wrong password": "wrong_password",
    "account not activated": "not_activated",
    "account blocked": "blocked",
    "throttled": "throttled",
}


def count_login_failure(reason: str) -> None:
    """Count a failed sign-in; `reason` is the audit reason (a few fixed words)."""
    LOGIN_FAILURES.labels(_LOGIN_REASONS.get(reason, "other")).inc()
