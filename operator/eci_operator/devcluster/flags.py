"""Command-line flags of the local control plane's components (one place to read what is set and why)."""

from __future__ import annotations

import os

from eci_operator.devcluster.layout import CLIENT_BURST, CLIENT_QPS, SERVICE_CIDR, Layout, Ports
from eci_operator.devcluster.pki import FRONT_PROXY_CA, FRONT_PROXY_CLIENT

# metrics-server refuses a --metric-resolution below 10 s (its options.validate), and also one whose 90 % is
# shorter than --kubelet-request-timeout (default 10 s): at the minimum resolution the timeout must come down.
METRIC_RESOLUTION = "10s"
KUBELET_REQUEST_TIMEOUT = "5s"
# The controller-manager does not validate --horizontal-pod-autoscaler-sync-period (default 15 s); it is the
# resync of the HPA informer, which client-go raises to 1 s when smaller, and the period of the custom-metrics
# discovery invalidation loop (0 would spin it). 5 s: half a metric resolution, so an HPA sees every new
# metrics window within 5 s (at most 15 s after the usage changed, instead of 75 s with both defaults).
HPA_SYNC_PERIOD = "5s"

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
        # The aggregation layer (metrics.k8s.io from metrics-server): the API server proxies with the
        # front-proxy client certificate and passes the user in these headers (kubeadm's settings).
        f"--requestheader-client-ca-file={d / f'{FRONT_PROXY_CA}.crt'}",
        f"--requestheader-allowed-names={FRONT_PROXY_CLIENT.common_name}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={d / f'{FRONT_PROXY_CLIENT.file_stem}.crt'}",
        f"--proxy-client-key-file={d / f'{FRONT_PROXY_CLIENT.file_stem}.key'}",
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
        f"--horizontal-pod-autoscaler-sync-period={HPA_SYNC_PERIOD}",
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


def metrics_server_args(layout: Layout, p: Ports) -> list[str]:
    d = layout.pki
    kubeconfig = d / "metrics-server.kubeconfig"
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={p.metrics_server}",
        f"--tls-cert-file={d / 'metrics-server-serving.crt'}",
        f"--tls-private-key-file={d / 'metrics-server-serving.key'}",
        # Each virtual node serves its kubelet endpoints on a port of its own (daemonEndpoints) at its
        # InternalIP, with a certificate of the operator's in-memory CA.
        "--kubelet-use-node-status-port",
        "--kubelet-preferred-address-types=InternalIP",
        "--kubelet-insecure-tls",
        f"--metric-resolution={METRIC_RESOLUTION}",
        f"--kubelet-request-timeout={KUBELET_REQUEST_TIMEOUT}",
        "--profiling=false",
        "--v=1",
    ]
