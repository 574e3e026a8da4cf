"""Turn result files (default: the latest session) into bench/SUMMARY.md tables and the Ready plot.

Per scenario and size: the median of each side's runs with min-max, and the ratio ours/KWOK of the
medians. The generated part of SUMMARY.md sits between two markers; the text around them (how to read
the figures, the profile, what bounds the wall time) is written by hand and kept. The plot shows pods
Ready over time, one panel per scenario and size, every run of both sides (the median run bold).

    .venv/bin/python bench/report.py [bench/results/<session>-*.json ...]   # default: the latest session
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SUMMARY = HERE / "SUMMARY.md"
PLOT = HERE / "ready-over-time.png"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
SIDES = ("ours", "kwok")

Getter = Callable[[dict[str, Any]], float | None]


def _get(*path: str) -> Getter:
    def get(result: dict[str, Any]) -> float | None:
        node: Any = result
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return float(node) if isinstance(node, (int, float)) else None

    return get


# (row label, getter, format, lower is better)
ROWS: list[tuple[str, Getter, str]] = [
    ("pods Ready: wall time (s)", _get("create", "wall_s"), "{:.2f}"),
    ("harness: all creates sent (s)", _get("create", "send_s"), "{:.2f}"),
    ("Ready latency p50 (s)", _get("create", "latency_s", "p50"), "{:.2f}"),
    ("Ready latency p90 (s)", _get("create", "latency_s", "p90"), "{:.2f}"),
    ("Ready latency p99 (s)", _get("create", "latency_s", "p99"), "{:.2f}"),
    ("controller CPU, create (s)", _get("create", "controller", "cpu_s"), "{:.1f}"),
    ("controller peak RSS, create (MB)", _get("create", "controller", "peak_rss_mb"), "{:.0f}"),
    ("writes/pod, create (operator's own count)", _get("create", "own_writes_per_pod"), "{:.2f}"),
    ("reads/pod, create (operator's own count)", _get("create", "own_reads_per_pod"), "{:.2f}"),
    ("Events/pod, create (operator's own count)", _get("create", "own_events_per_pod"), "{:.2f}"),
    (
        "writes/pod, create (API server, all clients but the harness)",
        _get("create", "apiserver_writes_per_pod"),
        "{:.2f}",
    ),
    ("kube-apiserver CPU, create (s)", _get("create", "cpu_s", "kube-apiserver"), "{:.1f}"),
    ("etcd CPU, create (s)", _get("create", "cpu_s", "etcd"), "{:.1f}"),
    ("pods gone: wall time (s)", _get("delete", "wall_s"), "{:.2f}"),
    ("deletion latency p50 (s)", _get("delete", "latency_s", "p50"), "{:.2f}"),
    ("deletion latency p99 (s)", _get("delete", "latency_s", "p99"), "{:.2f}"),
    ("controller CPU, delete (s)", _get("delete", "controller", "cpu_s"), "{:.1f}"),
    ("controller peak RSS, delete (MB)", _get("delete", "controller", "peak_rss_mb"), "{:.0f}"),
    ("writes/pod, delete (operator's own count)", _get("delete", "own_writes_per_pod"), "{:.2f}"),
    (
        "writes/pod, delete (API server, all clients but the harness)",
        _get("delete", "apiserver_writes_per_pod"),
        "{:.2f}",
    ),
    ("kube-apiserver CPU, delete (s)", _get("delete", "cpu_s", "kube-apiserver"), "{:.1f}"),
]


def load(paths: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in paths]


def latest_session(results: Path) -> list[Path]:
    """The files of the session that wrote the newest file."""
    files = sorted(results.glob("*.json"), key=lambda f: f.stat().st_mtime)
    if not files:
        return []
    last = json.loads(files[-1].read_text()).get("session")
    return [f for f in files if json.loads(f.read_text()).get("session") == last]


def _cell(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def tables(results: list[dict[str, Any]]) -> str:
    groups: dict[tuple[str, int], dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        if "create" in r:
            groups[(r["scenario"], r["n"])][r["side"]].append(r)
    failed = [r for r in results if "error" in r]
    out = []
    sessions = ", ".join(f"`{s}`" for s in sorted({r.get("session", "?") for r in results}))
    meta = results[0] if results else {}
    out.append(
        f"Sessions {sessions}: {meta.get('host', {}).get('cpus', '?')} CPUs, Kubernetes "
        f"{meta.get('versions', {}).get('KUBERNETES_VERSION', '?')}, etcd "
        f"{meta.get('versions', {}).get('ETCD_VERSION', '?')}, KWOK "
        f"{meta.get('versions', {}).get('KWOK_VERSION', '?')}. Pods created by: {meta.get('creation', '?')}. "
        "Cells: median of the runs (min-max); ratio = ours/KWOK of the medians."
    )
    out.append("")
    out.append("| scenario | figure | ours | KWOK | ours/KWOK |")
    out.append("|---|---|---|---|---|")
    for (scenario, n), by_side in sorted(groups.items(), key=lambda kv: (kv[0][0] != "bound", kv[0][1])):
        runs = {s: len(by_side.get(s, [])) for s in SIDES}
        incomplete = sum(
            1
            for s in SIDES
            for r in by_side.get(s, [])
            if not (r["create"]["complete"] and r["delete"]["complete"])
        )
        label = f"{scenario}, {n:,} pods ({runs['ours']}+{runs['kwok']} runs" + (
            f", {incomplete} incomplete)" if incomplete else ")"
        )
        for i, (name, get, fmt) in enumerate(ROWS):
            vals = {s: [v for r in by_side.get(s, []) if (v := get(r)) is not None] for s in SIDES}
            if not vals["ours"] and not vals["kwok"]:
                continue
            ratio = "-"
            if vals["ours"] and vals["kwok"] and statistics.median(vals["kwok"]) > 0:
                ratio = f"{statistics.median(vals['ours']) / statistics.median(vals['kwok']):.2f}"
            out.append(
                f"| {label if i == 0 else ''} | {name} | {_cell(vals['ours'], fmt)} | "
                f"{_cell(vals['kwok'], fmt)} | {ratio} |"
            )
    if failed:
        out.append("")
        out.append(
            "Failed measurements: "
            + "; ".join(
                f"{r['scenario']} {r['n']} {r['side']} r{r['run']}: {r['error'][:120]}" for r in failed
            )
        )
    return "\n".join(out)


def write_summary(results: list[dict[str, Any]]) -> None:
    block = f"{BEGIN}\n{tables(results)}\n{END}"
    if SUMMARY.exists():
        text = SUMMARY.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            SUMMARY.write_text(head + block + tail)
            return
    SUMMARY.write_text(f"# Scale benchmark: ours vs KWOK\n\n{block}\n")


def plot(results: list[dict[str, Any]]) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (pip install -e '.[bench]'): no plot")
        return False
    ok = [r for r in results if "create" in r and r["create"].get("curve")]
    if not ok:
        return False
    panels = sorted({(r["scenario"], r["n"]) for r in ok}, key=lambda p: (p[1], p[0] != "bound"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    colors = {"ours": "tab:blue", "kwok": "tab:orange"}
    for ax, (scenario, n) in zip(axes[0], panels, strict=True):
        for side in SIDES:
            runs = [r for r in ok if r["n"] == n and r["scenario"] == scenario and r["side"] == side]
            if not runs:
                continue
            walls = sorted(runs, key=lambda r: r["create"]["wall_s"])
            median = walls[len(walls) // 2]
            for r in runs:
                xs, ys = zip(*r["create"]["curve"], strict=True)
                bold = r is median
                ax.step(
                    [0, *xs],
                    [0, *ys],
                    where="post",
                    color=colors[side],
                    alpha=1.0 if bold else 0.3,
                    linewidth=2 if bold else 1,
                    label=f"{'ours (eci-operator)' if side == 'ours' else 'KWOK'} - median of {len(runs)}"
                    if bold
                    else None,
                )
        ax.set_title(f"{scenario}: {n:,} pods")
        ax.set_xlabel("seconds since the first create / scale-up")
        ax.set_ylabel("pods Ready")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    return True


def main(paths: list[Path] | None = None) -> int:
    files = paths or latest_session(HERE / "results")
    if not files:
        print("no result files")
        return 1
    results = load(files)
    write_summary(results)
    drew = plot(results)
    print(f"wrote {SUMMARY}" + (f" and {PLOT}" if drew else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main([Path(a) for a in sys.argv[1:]] or None))
