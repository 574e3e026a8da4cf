"""Prometheus instruments observed where things happen (latencies, renewals, recorded costs, errors).

Counts the operator already keeps elsewhere (API requests, queue depth, groups by phase, stock) are read at
scrape time by ``handlers.metrics``; this module holds only what must be observed at the moment it happens.
Names follow Prometheus conventions (base units in the name; counters get ``_total``); labels are bounded.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)

PROVISIONING = Histogram(
    "eci_operator_provisioning_seconds",
    "Time from a pod being bound to a virtual node to its Ready condition, as written by the operator",
    buckets=LATENCY_BUCKETS,
)
DELETION = Histogram(
    "eci_operator_deletion_seconds",
    "Time from a pod's deletionTimestamp to the operator finishing its deletion",
    buckets=LATENCY_BUCKETS,
)
LEASE_RENEWALS = Counter(
    "eci_operator_lease_renewals", "Node lease renewals by outcome (ok, created, failed)", ["outcome"]
)
LEASE_LATENCY = Histogram(
    "eci_operator_lease_renewal_seconds",
    "Duration of one node lease renewal request",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
COST_RECORDED = Counter(
    "eci_operator_cost_cny",
    "Cost of released container groups put on the bill, in CNY",
    ["profile", "namespace"],
)
RECONCILE_ERRORS = Counter(
    "eci_operator_reconcile_errors", "Failed reconciles (retried with backoff) by kind of error", ["kind"]
)
LEADER = Gauge("eci_operator_leader", "1 while this replica holds the leader election Lease")
LEADER_TRANSITIONS = Counter(
    "eci_operator_leader_acquisitions", "Times this replica became leader (its election Lease acquired)"
)
LEADER_TAKEOVER = Gauge(
    "eci_operator_leader_takeover_seconds",
    "At the last acquisition: seconds since the previous holder last renewed (or released) the Lease",
)
