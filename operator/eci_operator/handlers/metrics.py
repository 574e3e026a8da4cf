"""Prometheus endpoint: the operator's own figures, read from the state it already keeps.

Collectors read the live counters at scrape time (no double bookkeeping): API requests by verb, resource and
response code as counted by the kube client, the work queue's depth and its processed/error totals,
container groups by phase and zone, and Events posted and dropped. Label values are bounded (never a pod
name).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from eci_operator.domain import conditions
from eci_operator.domain.bill import status_charge
from eci_operator.domain.bodies import spec_of
from eci_operator.handlers.caches import BY_PROFILE
from eci_operator.handlers.operator import Operator
from eci_operator.models.keys import PROFILE_LABEL


class OperatorCollector(Collector):
    def __init__(self, op: Operator) -> None:
        self.op = op
        self.queue = op.queue

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "eci_operator_api_requests",
            "Requests the operator made to the Kubernetes API, by verb, resource and response code",
            labels=["verb", "resource", "code"],
        )
        for (verb, resource, code), n in sorted(self.op.client.counts.by_key.items()):
            requests.add_metric([verb, resource, str(code)], n)
        yield requests
        depth = GaugeMetricFamily("eci_operator_queue_depth", "Keys queued or being processed")
        depth.add_metric([], len(self.queue))
        yield depth
        processed = CounterMetricFamily(
            "eci_operator_reconciles", "Reconciles run, by outcome", labels=["outcome"]
        )
        processed.add_metric(["ok"], self.queue.processed - self.queue.errors)
        processed.add_metric(["error"], self.queue.errors)
        yield processed
        events = CounterMetricFamily(
            "eci_operator_events", "Kubernetes Events, by outcome", labels=["outcome"]
        )
        events.add_metric(["posted"], self.op.events.posted)
        events.add_metric(["dropped"], self.op.events.dropped)
        yield events
        yield from self._groups()
        yield from self._stock()
        nodes = GaugeMetricFamily(
            "eci_operator_virtual_nodes",
            "Virtual nodes by profile and readiness",
            labels=["profile", "ready"],
        )
        tally: Counter[tuple[str, str]] = Counter()
        for node in self.op.caches.nodes.items.values():
            labels = (node.get("metadata") or {}).get("labels") or {}
            is_ready = conditions.is_true(node, "Ready")
            tally[(labels.get(PROFILE_LABEL, ""), str(is_ready).lower())] += 1
        for (profile, ready), n in sorted(tally.items()):
            nodes.add_metric([profile, ready], n)
        yield nodes

    def _groups(self) -> Iterator[Metric]:
        groups = GaugeMetricFamily(
            "eci_operator_container_groups",
            "ContainerGroups known to the runtime, by phase, zone and profile",
            labels=["phase", "zone", "profile"],
        )
        live_cost = GaugeMetricFamily(
            "eci_operator_live_cost_cny",
            "Cost so far of the container groups not yet released, by namespace, in CNY",
            labels=["namespace"],
        )
        tally: Counter[tuple[str, str, str]] = Counter()
        costs: dict[str, Decimal] = {}
        now = self.op.clock.now()
        for key in self.op.runtime.list_keys():
            status = self.op.runtime.get(key)
            if status is None:
                continue
            profile = self.op.caches.groups.indexed(key, BY_PROFILE) or ""
            zone = status.zone_id  # a group waiting for stock has no placement: its record's zone
            zone = zone or str(spec_of(self.op.caches.groups.get(key) or {}).get("zoneId") or "")
            tally[(str(status.phase or ""), zone, profile)] += 1
            if (charge := status_charge(status, now)) is not None:
                costs[key[0]] = costs.get(key[0], Decimal(0)) + charge[2]
        for (phase, zone, profile), n in sorted(tally.items()):
            groups.add_metric([phase, zone, profile], n)
        for namespace, cost in sorted(costs.items()):
            live_cost.add_metric([namespace], float(cost))
        yield groups
        yield live_cost
        yield from self._utilisation()

    def _utilisation(self) -> Iterator[Metric]:
        """vCPU billed (the running instances' spec) and used (the model's last reading), by namespace."""
        billed = GaugeMetricFamily(
            "eci_operator_vcpu_billed", "vCPU of the running instances, by namespace", labels=["namespace"]
        )
        used = GaugeMetricFamily(
            "eci_operator_vcpu_used", "vCPU the running pods use now, by namespace", labels=["namespace"]
        )
        # The collector runs in the HTTP server's thread: it only reads the last reading (made on the loop by
        # a scrape or the status round), never advances the meter.
        reading = self.op.usage.last
        if reading is None:
            return
        totals: dict[str, list[float]] = {}
        for key, containers in reading.containers.items():
            status = self.op.runtime.get(key)
            row = totals.setdefault(key[0], [0.0, 0.0])
            row[0] += float(status.vcpu or 0) if status is not None else 0.0
            row[1] += sum(c.cpu for c in containers)
        for namespace, (vcpu, cores) in sorted(totals.items()):
            billed.add_metric([namespace], vcpu)
            used.add_metric([namespace], cores)
        yield billed
        yield used

    def _stock(self) -> Iterator[Metric]:
        stock = GaugeMetricFamily(
            "eci_operator_stock_remaining",
            "Instances each zone can still start, per stock entry (only specs with a limit)",
            labels=["zone", "spec"],
        )
        available = GaugeMetricFamily("eci_operator_zone_available", "1 when the zone is up", labels=["zone"])
        for zone in dict.fromkeys(served.zone_id for served in self.op.nodes.served.values()):
            report = self.op.runtime.zone_report(zone)
            available.add_metric([zone], 1 if report.available else 0)
            for spec, left in sorted(report.remaining.items()):
                stock.add_metric([zone, spec], left)
        yield stock
        yield available


def serve(op: Operator, port: int, address: str = "0.0.0.0") -> None:
    """Register the collector and serve /metrics on ``address:port`` (a daemon thread)."""
    REGISTRY.register(OperatorCollector(op))
    start_http_server(port, addr=address)
