"""``make bench``: N pods to Ready and back, ours (eci-operator) against KWOK, on the local control plane.

For every scenario (bound, deployment, burst), size (e.g. 1000, 10000; the burst's 100, 1000) and run, both
sides are measured one after the other, alternating which goes first, never both controllers at once (the
burst runs on ours only: ``burst.py`` says why). Each measurement is written to
``bench/results/<session>-<scenario>-<n>-<side>-r<run>.json``; at the end ``report.py`` turns the session
into ``bench/SUMMARY.md`` and ``bench/ready-over-time.png``.

The control plane is brought up through ``eci_operator.devcluster.controlplane.ControlPlane`` at
``$ECI_CLUSTER_DIR`` (its ports from ``ECI_CLUSTER_*_PORT``), by default at ``.cluster/bench/`` with ports
of its own (etcd 24790/24800, apiserver 16443, controller-manager 30257, scheduler 30259, metrics-server
14443), so it never meets ``make run``'s or ``make test``'s cluster. Its ``bin/`` is a symlink to
``.cluster/bin``. A control plane the harness started is stopped at the end (``--keep-cluster`` or
``ECI_KEEP_CLUSTER=1`` keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from kube import Api  # noqa: E402
from scenario import Measurement  # noqa: E402
from sides import make_side  # noqa: E402

BENCH_PORTS = {
    "ETCD": "24790",
    "ETCD_PEER": "24800",
    "APISERVER": "16443",
    "CONTROLLER_MANAGER": "30257",
    "SCHEDULER": "30259",
    "METRICS_SERVER": "14443",
}


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def cluster_root() -> Path:
    """$ECI_CLUSTER_DIR, else .cluster/bench with its own default ports and bin/ -> ../bin."""
    if env := os.environ.get("ECI_CLUSTER_DIR"):
        return Path(env).resolve()
    root = REPO / ".cluster" / "bench"
    root.mkdir(parents=True, exist_ok=True)
    link = root / "bin"
    if not link.exists():
        link.symlink_to(REPO / ".cluster" / "bin")
    for name, port in BENCH_PORTS.items():
        os.environ.setdefault(f"ECI_CLUSTER_{name}_PORT", port)
    return root


def versions() -> dict[str, str]:
    out = {}
    for line in (REPO / "cluster" / "versions.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out[key] = value
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "1000,10000,20000"), help="N of bound")
    p.add_argument(
        "--deployment-sizes",
        default=os.environ.get("BENCH_DEPLOYMENT_SIZES", "1000,10000"),
        help="N of the deployment scenario",
    )
    p.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
    p.add_argument("--scenarios", default=os.environ.get("BENCH_SCENARIOS", "bound,deployment,burst"))
    p.add_argument(
        "--burst-sizes",
        default=os.environ.get("BENCH_BURST_SIZES", "100,1000"),
        help="N of the burst scenario (HPA max replicas), instead of --sizes",
    )
    p.add_argument("--sides", default=os.environ.get("BENCH_SIDES", "ours,kwok"))
    p.add_argument("--concurrency", type=int, default=64, help="create/delete requests in flight (64)")
    p.add_argument("--results", type=Path, default=HERE / "results")
    p.add_argument("--session", default=None, help="results file prefix (default: a timestamp)")
    p.add_argument("--keep-cluster", action="store_true", default=bool(os.environ.get("ECI_KEEP_CLUSTER")))
    p.add_argument("--no-report", action="store_true", help="write the JSON files only")
    p.add_argument(
        "--time-budget",
        type=float,
        default=float(os.environ.get("BENCH_TIME_BUDGET", "0")),
        help="seconds; skip measurements that would start after this much time (0: no limit)",
    )
    return p.parse_args(argv)


def install_crds(kubectl: Path, kubeconfig: Path) -> None:
    subprocess.run(
        [str(kubectl), f"--kubeconfig={kubeconfig}", "apply", "-f", str(REPO / "crds")],
        check=True,
        capture_output=True,
        text=True,
    )
    wait = [
        str(kubectl),
        f"--kubeconfig={kubeconfig}",
        "wait",
        "--for=condition=Established",
        "-f",
        str(REPO / "crds"),  # every CRD in crds/
        "--timeout=60s",
    ]
    # kubectl wait fails at once while a new CRD has no conditions yet: try again for up to ~60 s.
    deadline = time.monotonic() + 60
    while subprocess.run(wait, capture_output=True, text=True).returncode != 0:
        if time.monotonic() > deadline:
            subprocess.run(wait, check=True, capture_output=True, text=True)
        time.sleep(1)


def plan(args: argparse.Namespace) -> list[tuple[str, int, int, str]]:
    """(scenario, n, run, side) in the order run: per run both sides, alternating who goes first."""
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    out: list[tuple[str, int, int, str]] = []
    for scenario in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
        sizes = {"burst": args.burst_sizes, "deployment": args.deployment_sizes}.get(scenario, args.sizes)
        for n in [int(s) for s in sizes.split(",") if s.strip()]:
            for run in range(1, args.runs + 1):
                order = sides if run % 2 else list(reversed(sides))
                if scenario == "burst":  # KWOK cannot play a Load (README, "Rehearsing a burst")
                    order = [s for s in order if s == "ours"]
                out.extend((scenario, n, run, side) for side in order)
    return out


async def bench(
    args: argparse.Namespace, kubeconfig: Path, bin_dir: Path, pids: dict[str, int]
) -> list[Path]:
    session = args.session or dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.results.mkdir(parents=True, exist_ok=True)
    log_dir = args.results / f"{session}-logs"
    log_dir.mkdir(exist_ok=True)
    written: list[Path] = []
    steps = plan(args)
    started = time.monotonic()
    meta_common = {
        "session": session,
        "host": {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()},
        "versions": versions(),
        "creation": f"harness aiohttp POSTs, {args.concurrency} in flight (bound); "
        "Deployment scale 0 -> N (deployment); an HPA 1 -> N under a Load step (burst)",
    }
    async with Api(kubeconfig, connections=args.concurrency + 8) as api:
        sides = {name: make_side(name, api, kubeconfig, bin_dir, log_dir) for name in {s for *_, s in steps}}
        for side in sides.values():
            await side.prepare()
        for i, (scenario, n, run, side_name) in enumerate(steps, 1):
            elapsed = time.monotonic() - started
            if args.time_budget and elapsed > args.time_budget:
                left = len(steps) - i + 1
                say(f"time budget of {args.time_budget:.0f}s spent: skipping the remaining {left}")
                break
            label = f"{scenario} {n} {side_name} r{run}"
            say(f"({i}/{len(steps)}) {label}: starting (session {session}, {elapsed:.0f}s so far)")
            m = Measurement(
                api,
                sides[side_name],
                scenario,
                n,
                label=label,
                components=pids,
                concurrency=args.concurrency,
                say=say,
            )
            try:
                figures = await m.run()
            except Exception as exc:  # one failed measurement must not lose the others
                say(f"({i}/{len(steps)}) {label}: FAILED: {exc!r}")
                figures = {"error": repr(exc)}
            result = {
                **meta_common,
                "scenario": scenario,
                "n": n,
                "run": run,
                "side": side_name,
                "order": i,
                **figures,
            }
            path = args.results / f"{session}-{scenario}-{n}-{side_name}-r{run}.json"
            path.write_text(json.dumps(result, indent=1))
            written.append(path)
            if "create" in figures and scenario == "burst":
                c = figures["create"]
                say(
                    f"({i}/{len(steps)}) {label}: Ready {c['pods']}/{n} in {c['wall_s']:.2f}s "
                    f"(first HPA decision {c['first_decision_s']}s), "
                    f"with ImageCache {figures['cached']['create']['wall_s']:.2f}s"
                )
            elif "create" in figures:
                c, d = figures["create"], figures["delete"]
                say(
                    f"({i}/{len(steps)}) {label}: Ready {c['pods']}/{n} in {c['wall_s']:.2f}s "
                    f"(p50 {c['latency_s']['p50']:.2f}s p99 {c['latency_s']['p99']:.2f}s), "
                    f"controller {c['controller']['cpu_s']:.1f} CPU-s "
                    f"peak {c['controller']['peak_rss_mb']:.0f} MB, "
                    f"{c.get('own_writes_per_pod', c['apiserver_writes_per_pod'])} writes/pod; "
                    f"deleted in {d['wall_s']:.2f}s"
                )
    return written


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from eci_operator.devcluster.controlplane import ControlPlane

    root = cluster_root()
    plane = ControlPlane(root, say=say)
    bin_dir = plane.layout.bin
    for needed in ("kwok", "kwok-stages.yaml"):
        if "kwok" in args.sides and not (bin_dir / needed).exists():
            say(f"missing {bin_dir / needed}: run bench/build-kwok.sh (make bench does)")
            return 2
    was_running = plane.running()
    kubeconfig = plane.up()
    try:
        state = plane.state()
        assert state is not None
        pids = {c.name: c.pid for c in state.components}
        install_crds(bin_dir / "kubectl", kubeconfig)
        say(f"control plane at {root} (:{state.ports.apiserver}); plan: {len(plan(args))} measurements")
        written = asyncio.run(bench(args, kubeconfig, bin_dir, pids))
    finally:
        if not was_running and not args.keep_cluster:
            plane.down()
    if not args.no_report and written:
        import report

        report.main(written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
