"""CPU cost of one kubelet resource scrape of a virtual node with many pods (the usage model alone).

Run: ``.venv/bin/python bench/scrape_cost.py [PODS]``. Builds PODS running pods on one node under a
ramping Load, advances the meter by one metrics-server resolution (10 s) and renders ``/metrics/resource``
and ``/stats/summary``, timing each in process CPU seconds. No cluster: this is the part of a scrape the
operator computes (README, "Metrics and autoscaling").
"""

from __future__ import annotations

import datetime as dt
import sys
import time

from eci_operator.domain.kubelet_stats import resource_metrics, summary
from eci_operator.domain.usage import LoadInput, Meter, PodInput, fixed_usage
from eci_operator.models.load import LoadSpec

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
GIB = 2**30


def main(count: int) -> None:
    pods = [
        PodInput(
            ("ns", f"p{i}"),
            f"u{i}",
            "n1",
            {"app": "web"},
            True,
            (("c", T0),),
            2.0,
            4 * GIB,
            fixed_usage({}, 2.0, 4 * GIB),
        )
        for i in range(count)
    ]
    spec = LoadSpec.model_validate(
        {
            "selector": {"matchLabels": {"app": "web"}},
            "schedule": [{"durationSeconds": 600, "cpu": "4000", "cpuTo": "8000"}],
        }
    )
    load = LoadInput.of(("ns", "l"), spec, T0)
    meter = Meter()
    meter.advance(T0, pods, [load])
    keys = [p.key for p in pods]
    started = time.process_time()
    reading = meter.advance(T0 + dt.timedelta(seconds=10), pods, [load])
    advanced = time.process_time() - started
    started = time.process_time()
    text = resource_metrics(reading, "n1", keys)
    rendered = time.process_time() - started
    started = time.process_time()
    summary(reading, "n1", T0, [(k, "uid", T0) for k in keys])
    summarised = time.process_time() - started
    print(
        f"{count} pods: advance 10 s {advanced:.3f} s CPU, /metrics/resource {rendered:.3f} s "
        f"({len(text) // 1024} KiB), /stats/summary {summarised:.3f} s"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
