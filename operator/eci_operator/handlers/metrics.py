"""Prometheus endpoint: the operator's own figures, read from the state it already keeps.

Collectors read the live counters at scrape time (no double bookkeeping): API requests by verb, resource and
response code as counted by the kube client, the work queue's depth and its processed/error totals,
container groups by phase and zone, and Events posted and dropped. Label values are bounded (never a pod
name).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from eci_operator.handlers.state import State


class OperatorCollector(Collector):
    def __init__(self, state: State, queue_depth: object) -> None:
        self.state = state
        self.queue = queue_depth

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "eci_operator_api_requests",
            "Requests the operator made to the Kubernetes API, by verb, resource and response code",
            labels=["verb", "resource", "code"],
        )
        for (verb, resource, code), n in sorted(self.state.client.counts.by_key.items()):
            requests.add_metric([verb, resource, str(code)], n)
        yield requests
        depth = GaugeMetricFamily("eci_operator_queue_depth", "Keys queued or being processed")
        depth.add_metric([], len(self.queue))  # type: ignore[arg-type]
        yield depth
        processed = CounterMetricFamily(
            "eci_operator_reconciles", "Reconciles run, by outcome", labels=["outcome"]
        )
        processed.add_metric(["ok"], getattr(self.queue, "processed", 0) - getattr(self.queue, "errors", 0))
        processed.add_metric(["error"], getattr(self.queue, "errors", 0))
        yield processed
        events = CounterMetricFamily(
            "eci_operator_events", "Kubernetes Events, by outcome", labels=["outcome"]
        )
        events.add_metric(["posted"], self.state.events.posted)
        events.add_metric(["dropped"], self.state.events.dropped)
        yield events
        groups = GaugeMetricFamily(
            "eci_operator_container_groups",
            "ContainerGroups known to the runtime, by phase and zone",
            labels=["phase", "zone"],
        )
        tally: Counter[tuple[str, str]] = Counter()
        for key in self.state.runtime.list_keys():
            status = self.state.runtime.get(key)
            if status is not None:
                tally[(str(status.phase or ""), status.zone_id or "")] += 1
        for (phase, zone), n in sorted(tally.items()):
            groups.add_metric([phase, zone], n)
        yield groups


def serve(state: State, queue: object, port: int, address: str = "0.0.0.0") -> None:
    """Register the collector and serve /metrics on ``address:port`` (a daemon thread)."""
    REGISTRY.register(OperatorCollector(state, queue))
    start_http_server(port, addr=address)
