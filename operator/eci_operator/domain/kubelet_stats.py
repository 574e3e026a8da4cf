"""What a virtual node's kubelet answers on ``/metrics/resource`` and ``/stats/summary``, from a reading.

``/metrics/resource`` is the Prometheus text format metrics-server (v0.6 and later) scrapes: per container
``container_cpu_usage_seconds_total`` (a counter of core-seconds), ``container_memory_working_set_bytes``
and ``container_start_time_seconds``, the same per pod and per node, and ``scrape_error``, each sample with
its timestamp in milliseconds; label order as the kubelet writes it (``container``, ``namespace``,
``pod``). ``/stats/summary`` is the Summary API (``stats/v1alpha1``) with nanocores and core-nanoseconds.
Pure: it renders what ``domain.usage`` read, nothing else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from eci_operator.domain.kubetime import stamp
from eci_operator.domain.usage import ContainerReading, Key, NodeReading, Reading

_HELP = {
    "container_cpu_usage_seconds_total": (
        "counter",
        "Cumulative cpu time consumed by the container in core-seconds",
    ),
    "container_memory_working_set_bytes": ("gauge", "Current working set of the container in bytes"),
    "container_start_time_seconds": ("gauge", "Start time of the container since unix epoch in seconds"),
    "node_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed by the node in core-seconds"),
    "node_memory_working_set_bytes": ("gauge", "Current working set of the node in bytes"),
    "pod_cpu_usage_seconds_total": ("counter", "Cumulative cpu time consumed by the pod in core-seconds"),
    "pod_memory_working_set_bytes": ("gauge", "Current working set of the pod in bytes"),
    "scrape_error": ("gauge", "1 if there was an error while getting container metrics, 0 otherwise"),
}


def _header(name: str) -> str:
    kind, text = _HELP[name]
    return f"# HELP {name} [STABLE] {text}\n# TYPE {name} {kind}\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def resource_metrics(reading: Reading, node: str, pods: Sequence[Key]) -> str:
    """The ``/metrics/resource`` text of ``node`` for the pods bound to it (in ``pods`` order)."""
    ms = f" {int(reading.at.timestamp() * 1000)}\n"
    containers = [c for key in pods for c in reading.containers.get(key, ())]
    labels = [_container_labels(c) for c in containers]
    out: list[str] = []

    def series(name: str, rows: Iterable[tuple[str, float]]) -> None:
        out.append(_header(name))
        out.extend(f"{name}{label} {value!r}{ms}" for label, value in rows)

    series("container_cpu_usage_seconds_total", zip(labels, (c.cpu_seconds for c in containers), strict=True))
    series(
        "container_memory_working_set_bytes",
        zip(labels, (float(int(c.memory)) for c in containers), strict=True),
    )
    series(
        "container_start_time_seconds", zip(labels, (c.started.timestamp() for c in containers), strict=True)
    )
    state = reading.nodes.get(node, NodeReading())
    series("node_cpu_usage_seconds_total", [("", state.cpu_seconds)])
    series("node_memory_working_set_bytes", [("", float(int(state.memory)))])
    by_pod = [(_pod_labels(key), reading.containers[key]) for key in pods if key in reading.containers]
    series("pod_cpu_usage_seconds_total", [(label, sum(c.cpu_seconds for c in cs)) for label, cs in by_pod])
    series(
        "pod_memory_working_set_bytes",
        [(label, float(int(sum(c.memory for c in cs)))) for label, cs in by_pod],
    )
    out.append(_header("scrape_error"))
    out.append("scrape_error 0\n")
    return "".join(out)


def _container_labels(c: ContainerReading) -> str:
    return f'{{container="{_label(c.name)}",namespace="{_label(c.pod[0])}",pod="{_label(c.pod[1])}"}}'


def _pod_labels(key: Key) -> str:
    return f'{{namespace="{_label(key[0])}",pod="{_label(key[1])}"}}'


def _cpu(at: str, cores: float, seconds: float) -> dict[str, Any]:
    return {"time": at, "usageNanoCores": int(cores * 1e9), "usageCoreNanoSeconds": int(seconds * 1e9)}


def _memory(at: str, working_set: float, available: float | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"time": at, "usageBytes": int(working_set), "workingSetBytes": int(working_set)}
    if available is not None:
        body["availableBytes"] = int(max(0.0, available))
    return body


def summary(
    reading: Reading, node: str, node_started: dt.datetime, pods: Sequence[tuple[Key, str, dt.datetime]]
) -> dict[str, Any]:
    """The Summary API answer of ``node``: ``pods`` are (key, uid, start time) of the pods bound to it."""
    at = stamp(reading.at)
    state = reading.nodes.get(node, NodeReading())
    items = []
    for key, uid, started in pods:
        containers = reading.containers.get(key)
        if not containers:
            continue
        items.append(
            {
                "podRef": {"name": key[1], "namespace": key[0], "uid": uid},
                "startTime": stamp(started),
                "containers": [
                    {
                        "name": c.name,
                        "startTime": stamp(c.started),
                        "cpu": _cpu(at, c.cpu, c.cpu_seconds),
                        "memory": _memory(at, c.memory),
                    }
                    for c in containers
                ],
                "cpu": _cpu(at, sum(c.cpu for c in containers), sum(c.cpu_seconds for c in containers)),
                "memory": _memory(at, sum(c.memory for c in containers)),
            }
        )
    return {
        "node": {
            "nodeName": node,
            "startTime": stamp(node_started),
            "cpu": _cpu(at, state.cpu, state.cpu_seconds),
            "memory": _memory(at, state.memory),
        },
        "pods": items,
    }
