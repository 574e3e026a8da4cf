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
BURST_PLOT = HERE / "burst-over-time.png"
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


def _per_pod(get: Getter, scale: float) -> Getter:
    """``get`` divided by the run's N, times ``scale`` (1000: seconds -> ms; 1024: MB -> KB)."""

    def per(result: dict[str, Any]) -> float | None:
        value = get(result)
        return None if value is None or not result.get("n") else value * scale / float(result["n"])

    return per


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
    (
        "CPU per pod, create: kube-apiserver (ms)",
        _per_pod(_get("create", "cpu_s", "kube-apiserver"), 1000),
        "{:.2f}",
    ),
    ("CPU per pod, create: etcd (ms)", _per_pod(_get("create", "cpu_s", "etcd"), 1000), "{:.2f}"),
    ("CPU per pod, create: controller (ms)", _per_pod(_get("create", "controller", "cpu_s"), 1000), "{:.2f}"),
    (
        "controller peak RSS per pod, create (KB)",
        _per_pod(_get("create", "controller", "peak_rss_mb"), 1024),
        "{:.1f}",
    ),
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
    ("eci-operator check after Ready: violations", _get("create", "invariants", "violations"), "{:.0f}"),
    ("eci-operator check after deletion: violations", _get("delete", "invariants", "violations"), "{:.0f}"),
    ("pods left after deletion (Terminating or not)", _get("delete", "invariants", "pods"), "{:.0f}"),
]

# The burst scenario's own rows (ours only: burst.py says why): times from the Load step.
BURST_ROWS: list[tuple[str, Getter, str]] = [
    ("HPA's first decision after the step (s)", _get("create", "first_decision_s"), "{:.2f}"),
    ("N replicas decided (s)", _get("create", "n_decided_s"), "{:.2f}"),
    ("N pods created (s)", _get("create", "n_created_s"), "{:.2f}"),
    ("N pods Ready (s)", _get("create", "wall_s"), "{:.2f}"),
    ("cost to N Ready (CNY)", _get("create", "cost_cny"), "{:.4f}"),
    ("with ImageCache: HPA's first decision (s)", _get("cached", "create", "first_decision_s"), "{:.2f}"),
    ("with ImageCache: N pods created (s)", _get("cached", "create", "n_created_s"), "{:.2f}"),
    ("with ImageCache: N pods Ready (s)", _get("cached", "create", "wall_s"), "{:.2f}"),
    ("with ImageCache: cost to N Ready (CNY)", _get("cached", "create", "cost_cny"), "{:.4f}"),
    ("ImageCache Ready, built before the run (s)", _get("cached", "imagecache_ready_s"), "{:.1f}"),
    ("controller CPU, burst (s)", _get("create", "controller", "cpu_s"), "{:.1f}"),
    ("controller peak RSS, burst (MB)", _get("create", "controller", "peak_rss_mb"), "{:.0f}"),
    ("kube-apiserver CPU, burst (s)", _get("create", "cpu_s", "kube-apiserver"), "{:.1f}"),
    ("pods gone after the scale-in (s)", _get("delete", "wall_s"), "{:.2f}"),
]
SCENARIO_ORDER = {"bound": 0, "deployment": 1, "burst": 2}


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
    for (scenario, n), by_side in sorted(
        groups.items(), key=lambda kv: (SCENARIO_ORDER.get(kv[0][0], 9), kv[0][1])
    ):
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
        first = True
        for name, get, fmt in BURST_ROWS if scenario == "burst" else ROWS:
            vals = {s: [v for r in by_side.get(s, []) if (v := get(r)) is not None] for s in SIDES}
            if not vals["ours"] and not vals["kwok"]:
                continue
            ratio = "-"
            if vals["ours"] and vals["kwok"] and statistics.median(vals["kwok"]) > 0:
                ratio = f"{statistics.median(vals['ours']) / statistics.median(vals['kwok']):.2f}"
            out.append(
                f"| {label if first else ''} | {name} | {_cell(vals['ours'], fmt)} | "
                f"{_cell(vals['kwok'], fmt)} | {ratio} |"
            )
            first = False
    if failed:
        out.append("")
        out.append(
            "Failed measurements: "
            + "; ".join(
                f"{r['scenario']} {r['n']} {r['side']} r{r['run']}: {r['error'][:120]}" for r in failed
            )
        )
    return "\n".join(out)


def _split_table(block: str) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """A generated block as (lines before the table, rows by "scenario, N pods", lines after it)."""
    before: list[str] = []
    groups: dict[str, list[str]] = {}
    after: list[str] = []
    key = ""
    for line in block.strip("\n").splitlines():
        if line.startswith("| scenario |") or line.startswith("|---"):
            continue
        if line.startswith("| "):
            cell = line.split("|")[1].strip()
            key = cell.split(" (")[0] if cell else key
            groups.setdefault(key, []).append(line)
        elif groups:
            after.append(line)
        else:
            before.append(line)
    return before, groups, after


def merged(old: str, new: str) -> str:
    """The new block, keeping the rows of every scenario and size it did not measure (a run of one scenario
    does not erase the others), and saying which sessions those rows came from."""
    old_before, old_groups, _ = _split_table(old)
    before, groups, after = _split_table(new)
    kept = {k: v for k, v in old_groups.items() if k not in groups}
    if not kept:
        return new
    old_sessions = next((line.split(":")[0] for line in old_before if line.startswith("Sessions")), "")

    def order(key: str) -> tuple[int, int]:
        scenario, _, size = key.partition(", ")
        return SCENARIO_ORDER.get(scenario, 9), int(size.split()[0].replace(",", "") or 0)

    rows = [line for key in sorted({**kept, **groups}, key=order) for line in {**kept, **groups}[key]]
    note = (
        f"Rows of {', '.join(sorted(kept, key=order))}: {old_sessions.lower()} (kept from the earlier run)."
    )
    head = [*before[:1], "", note] if before else [note]
    table = ["| scenario | figure | ours | KWOK | ours/KWOK |", "|---|---|---|---|---|", *rows]
    return "\n".join([*head, "", *table, *after])


def write_summary(results: list[dict[str, Any]]) -> None:
    block = f"{BEGIN}\n{tables(results)}\n{END}"
    if SUMMARY.exists():
        text = SUMMARY.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            old, tail = rest.split(END, 1)
            block = f"{BEGIN}\n{merged(old, tables(results))}\n{END}"
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
    ok = [r for r in results if "create" in r and r["create"].get("curve") and r["scenario"] != "burst"]
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


def plot_burst(results: list[dict[str, Any]]) -> bool:
    """Replicas decided, pods Ready and per-pod CPU (as the HPA sees it) over time, one panel per N."""
    runs = [r for r in results if r.get("scenario") == "burst" and "create" in r and "cached" in r]
    if not runs:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r["n"] for r in runs})
    fig, axes = plt.subplots(1, len(sizes), figsize=(6.4 * len(sizes), 4.4), squeeze=False)
    for ax, n in zip(axes[0], sizes, strict=True):
        mine = sorted((r for r in runs if r["n"] == n), key=lambda r: r["create"]["wall_s"])
        median = mine[len(mine) // 2]
        cpu_ax = ax.twinx()
        for variant, style in ((median, "-"), (median["cached"], "--")):
            series = variant["create"]["series"]
            tag = "with ImageCache" if variant is not median else "without"
            ts = [p["t"] for p in series]
            ax.step(
                ts,
                [p["replicas"] for p in series],
                where="post",
                color="tab:gray",
                linestyle=style,
                label=f"replicas decided ({tag})",
            )
            ax.step(
                ts,
                [p["ready"] for p in series],
                where="post",
                color="tab:blue",
                linestyle=style,
                label=f"pods Ready ({tag})",
            )
            cpu_ax.plot(
                ts,
                [p["pod_cpu"] * 1000 for p in series],
                color="tab:red",
                linestyle=style,
                alpha=0.6,
                label=f"per-pod CPU, m ({tag})",
            )
        ax.set_title(f"burst: HPA 1 -> {n:,} (median of {len(mine)} runs)")
        ax.set_xlabel("seconds since the Load step")
        ax.set_ylabel("pods")
        cpu_ax.set_ylabel("per-pod CPU the HPA sees (millicores)")
        ax.grid(alpha=0.3)
        lines = ax.get_legend_handles_labels()
        more = cpu_ax.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], loc="center right", fontsize=7)
    fig.tight_layout()
    fig.savefig(BURST_PLOT, dpi=110)
    return True


def main(paths: list[Path] | None = None) -> int:
    files = paths or latest_session(HERE / "results")
    if not files:
        print("no result files")
        return 1
    results = load(files)
    write_summary(results)
    drew = plot(results)
    burst = plot_burst(results)
    print(f"wrote {SUMMARY}" + (f" and {PLOT}" if drew else "") + (f" and {BURST_PLOT}" if burst else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main([Path(a) for a in sys.argv[1:]] or None))
