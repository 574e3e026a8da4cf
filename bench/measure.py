"""Figures read from outside a process: CPU seconds and peak RSS from /proc, Prometheus text, percentiles.

A controller's cost is read from the kernel (``/proc/<pid>/stat`` utime+stime, ``/proc/<pid>/status``
VmHWM), never from the controller itself, so ours and KWOK are measured the same way. The peak RSS is reset
before each phase (``echo 5 > /proc/<pid>/clear_refs``) so each phase reports its own peak.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcSample:
    cpu_s: float
    rss_mb: float
    hwm_mb: float


def proc_sample(pid: int) -> ProcSample:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15 of stat)
    rss = hwm = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return ProcSample(cpu, rss, hwm)


def reset_peak_rss(pid: int) -> None:
    """Make VmHWM start again from the current RSS (Linux >= 4.0); harmless where not permitted."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        try:
            out[name] = proc_sample(pid).cpu_s
        except OSError:
            continue
    return out


# ---------------------------------------------------------------------------------------------- Prometheus
_SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} ([0-9.eE+-]+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def prom_samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """All samples of metric ``name`` (with labels) in Prometheus text; cheap: only matching lines parsed."""
    out = []
    prefix = name + "{"
    for line in text.splitlines():
        if line.startswith(prefix):
            m = _SAMPLE.match(line)
            if m:
                out.append((dict(_LABEL.findall(m.group(2))), float(m.group(3))))
    return out


def prom_value(text: str, name: str) -> float:
    """A label-less sample (e.g. a gauge), 0 when absent."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def apiserver_requests(text: str) -> Counter[tuple[str, str]]:
    """apiserver_request_total by (VERB, resource[/subresource]) over every client and code."""
    out: Counter[tuple[str, str]] = Counter()
    for labels, value in prom_samples(text, "apiserver_request_total"):
        resource = labels.get("resource", "")
        if not resource:
            continue
        sub = labels.get("subresource", "")
        out[(labels.get("verb", ""), f"{resource}/{sub}" if sub else resource)] += int(value)
    return out


def operator_requests(text: str) -> Counter[tuple[str, str]]:
    """eci_operator_api_requests_total by (verb, resource) over every code."""
    out: Counter[tuple[str, str]] = Counter()
    for labels, value in prom_samples(text, "eci_operator_api_requests_total"):
        out[(labels["verb"], labels["resource"])] += int(value)
    return out


def delta(after: Counter[tuple[str, str]], before: Counter[tuple[str, str]]) -> dict[str, int]:
    keys = set(after) | set(before)
    out = {f"{v} {r}": after[(v, r)] - before[(v, r)] for v, r in sorted(keys)}
    return {k: n for k, n in out.items() if n}


# --------------------------------------------------------------------------------------------- statistics
def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an unsorted list; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def curve(times: list[float], points: int = 200) -> list[tuple[float, int]]:
    """A step curve (t, count) of events over time, downsampled to about ``points`` points."""
    ordered = sorted(times)
    if not ordered:
        return []
    step = max(1, len(ordered) // points)
    out = [(round(t, 4), i + 1) for i, t in enumerate(ordered) if i % step == 0]
    if out[-1][1] != len(ordered):
        out.append((round(ordered[-1], 4), len(ordered)))
    return out
