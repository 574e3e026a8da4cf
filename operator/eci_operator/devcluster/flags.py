"""Command-line flags of the local control plane's components (one place to read what is set and why)."""

from __future__ import annotations

import os

from eci_operator.devcluster.layout import CLIENT_BURST, CLIENT_QPS, SERVICE_CIDR, Layout, Ports

# Under a burst of writes, Go's garbage collector is about a quarter of the API server's CPU (pprof at
# 1,000 pods, bench/SUMMARY.md): collect less often (GOGC 400 instead of 100), with a soft memory limit
# that keeps the heap bounded all the same. A GOGC or GOMEMLIMIT in the environment wins.
GO_RUNTIME = {"GOGC": "400", "GOMEMLIMIT": "4GiB"}


def component_env(name: str) -> dict[str, str]:
    """Extra environment for one component: the Go runtime settings for the API server and etcd."""
    if name not in ("kube-apiserver", "etcd"):
        return {}
    return {k: os.environ.get(k, v) for k, v in GO_RUNTIME.items()}


def etcd_args(layout: Layout, p: Ports) -> list[str]:
    return [
        "--name=eci-local",
        f"--data-dir={layout.data / 'etcd'}",
        f"--listen-client-urls=http://127.0.0.1:{p.etcd}",
        f"--advertise-client-urls=http://127.0.0.1:{p.etcd}",
        f"--listen-peer-urls=http://127.0.0.1:{p.etcd_peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{p.etcd_peer}",
        f"--initial-cluster=eci-local=http://127.0.0.1:{p.etcd_peer}",
        "--listen-metrics-urls=",
        # A throw-away local cluster: durability is not worth an fsync per write.
        "--unsafe-no-fsync=true",
        "--quota-backend-bytes=8589934592",
        "--log-level=warn",
    ]


def apiserver_args(layout: Layout, p: Ports) -> list[str]:
    d = layout.pki
    return [
        f"--etcd-servers=http://127.0.0.1:{p.etcd}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        # A loopback advertise address is refused by the endpoint reconciler; nothing here needs it.
        "--endpoint-reconciler-type=none",
        f"--secure-port={p.apiserver}",
        f"--tls-cert-file={d / 'apiserver.crt'}",
        f"--tls-private-key-file={d / 'apiserver.key'}",
        f"--client-ca-file={d / 'ca.crt'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={d / 'sa.pub'}",
        f"--service-account-signing-key-file={d / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=RBAC",
        "--allow-privileged=true",
        # kubectl logs/exec on virtual nodes: the apiserver calls the operator's kubelet endpoint.
        f"--kubelet-client-certificate={d / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={d / 'apiserver-kubelet-client.key'}",
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        # Scale tests: more requests in flight than the defaults (400/200).
        "--max-requests-inflight=2000",
        "--max-mutating-requests-inflight=1000",
        # /debug/pprof for the benchmark's investigations (README, "Benchmark"); off by default.
        f"--profiling={'true' if os.environ.get('ECI_CLUSTER_PROFILING') else 'false'}",
        "--v=1",
    ]


def controller_manager_args(layout: Layout, p: Ports) -> list[str]:
    d = layout.pki
    kubeconfig = d / "controller-manager.kubeconfig"
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={p.controller_manager}",
        f"--tls-cert-file={d / 'controller-manager-serving.crt'}",
        f"--tls-private-key-file={d / 'controller-manager-serving.key'}",
        f"--service-account-private-key-file={d / 'sa.key'}",
        f"--root-ca-file={d / 'ca.crt'}",
        f"--cluster-signing-cert-file={d / 'ca.crt'}",
        f"--cluster-signing-key-file={d / 'ca.key'}",
        "--use-service-account-credentials=true",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--leader-elect=false",
        f"--kube-api-qps={CLIENT_QPS}",
        f"--kube-api-burst={CLIENT_BURST}",
        "--concurrent-replicaset-syncs=20",
        "--concurrent-deployment-syncs=10",
        "--concurrent-job-syncs=10",
        "--profiling=false",
        "--v=1",
    ]


def scheduler_args(layout: Layout, p: Ports) -> list[str]:
    d = layout.pki
    kubeconfig = d / "scheduler.kubeconfig"
    return [
        f"--config={d / 'scheduler-config.json'}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={p.scheduler}",
        f"--tls-cert-file={d / 'scheduler-serving.crt'}",
        f"--tls-private-key-file={d / 'scheduler-serving.key'}",
        "--profiling=false",
        "--v=1",
    ]
