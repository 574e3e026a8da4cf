"""The local control plane's wiring, without starting it: flags, ports, metrics-server's objects, the PKI."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from eci_operator.devcluster import metrics_server, pki
from eci_operator.devcluster.controlplane import ARGS, ControlPlane
from eci_operator.devcluster.flags import (
    HPA_SYNC_PERIOD,
    apiserver_args,
    controller_manager_args,
    metrics_server_args,
)
from eci_operator.devcluster.layout import BINARIES, COMPONENTS, Layout, Ports

LAYOUT = Layout(Path("/c"))


def flags(args: list[str]) -> dict[str, str]:
    """``--name=value`` (or a bare ``--name``, as "") by name."""
    out = {}
    for arg in args:
        name, _, value = arg.removeprefix("--").partition("=")
        out[name] = value
    return out


def seconds(value: str) -> float:
    assert value.endswith("s"), value
    assert value[:-1].isdigit(), value
    return float(value[:-1])


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_apiserver_has_the_aggregation_layer() -> None:
    f = flags(apiserver_args(LAYOUT, Ports()))
    assert f["requestheader-client-ca-file"] == "/c/pki/front-proxy-ca.crt"
    assert f["requestheader-allowed-names"] == pki.FRONT_PROXY_CLIENT.common_name
    assert f["proxy-client-cert-file"] == "/c/pki/front-proxy-client.crt"
    assert f["proxy-client-key-file"] == "/c/pki/front-proxy-client.key"
    assert f["requestheader-username-headers"] == "X-Remote-User"
    assert f["requestheader-group-headers"] == "X-Remote-Group"
    assert f["requestheader-extra-headers-prefix"] == "X-Remote-Extra-"


def test_metrics_server_reaches_each_virtual_node_on_its_own_port() -> None:
    f = flags(metrics_server_args(LAYOUT, Ports(metrics_server=5443)))
    assert f["secure-port"] == "5443"
    assert f["bind-address"] == "127.0.0.1"
    assert "kubelet-use-node-status-port" in f
    assert f["kubelet-preferred-address-types"] == "InternalIP"
    assert "kubelet-insecure-tls" in f
    assert f["kubeconfig"] == "/c/pki/metrics-server.kubeconfig"
    assert f["tls-cert-file"] == "/c/pki/metrics-server-serving.crt"


def test_metric_resolution_is_metrics_servers_minimum_and_passes_its_validation() -> None:
    f = flags(metrics_server_args(LAYOUT, Ports()))
    resolution = seconds(f["metric-resolution"])
    assert resolution == 10  # the minimum metrics-server accepts
    # metrics-server also refuses a resolution whose 90 % is below the kubelet request timeout.
    assert resolution * 9 / 10 >= seconds(f["kubelet-request-timeout"])


def test_hpa_sync_period_is_short_but_at_least_client_gos_minimum_resync() -> None:
    f = flags(controller_manager_args(LAYOUT, Ports()))
    assert f["horizontal-pod-autoscaler-sync-period"] == HPA_SYNC_PERIOD
    assert 1 <= seconds(HPA_SYNC_PERIOD) < 15  # 15 s is the default


def test_metrics_server_port_is_clear_of_the_others_and_movable(monkeypatch: pytest.MonkeyPatch) -> None:
    default = Ports()
    others = {v for k, v in asdict(default).items() if k != "metrics_server"}
    assert default.metrics_server not in others
    assert not 10250 <= default.metrics_server <= 10250 + 1000  # the virtual nodes' kubelet ports
    assert default.metrics_server < 32768  # below the ephemeral range
    monkeypatch.setenv("ECI_CLUSTER_METRICS_SERVER_PORT", "5443")
    assert Ports.from_env().metrics_server == 5443


def test_every_component_has_flags_a_port_and_a_binary() -> None:
    assert set(ARGS) == set(COMPONENTS)
    assert set(COMPONENTS.values()) == set(asdict(Ports())) - {"etcd_peer"}
    assert set(COMPONENTS) <= set(BINARIES)


def test_apiservice_points_at_an_external_name_service_with_the_ca_bundle() -> None:
    objs = metrics_server.objects(port=5443, ca_bundle=b"PEM")
    by_kind = {o["kind"]: o for o in objs}
    service, apiservice = by_kind["Service"], by_kind["APIService"]
    assert service["metadata"] == {
        "name": "metrics-server",
        "namespace": "kube-system",
        "labels": {"k8s-app": "metrics-server"},
    }
    # No ports, no selector, no Endpoints: those may not hold loopback addresses.
    assert service["spec"] == {"type": "ExternalName", "externalName": "localhost"}
    spec = apiservice["spec"]
    assert apiservice["metadata"]["name"] == metrics_server.APISERVICE == "v1beta1.metrics.k8s.io"
    assert spec["service"] == {"name": "metrics-server", "namespace": "kube-system", "port": 5443}
    assert base64.b64decode(spec["caBundle"]) == b"PEM"
    assert "insecureSkipTLSVerify" not in spec
    # RBAC before the registration: metrics-server reads its settings as soon as it starts.
    assert [o["kind"] for o in objs][-2:] == ["Service", "APIService"]


def test_rbac_binds_metrics_servers_own_user() -> None:
    objs = metrics_server.rbac()
    bindings = {o["metadata"]["name"]: o for o in objs if o["kind"].endswith("Binding")}
    assert {b["roleRef"]["name"] for b in bindings.values()} == {
        "system:metrics-server",
        "system:auth-delegator",
        "extension-apiserver-authentication-reader",
    }
    assert bindings["metrics-server-auth-reader"]["metadata"]["namespace"] == "kube-system"
    for binding in bindings.values():
        assert binding["subjects"] == [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:metrics-server"}
        ]
    role = next(
        o for o in objs if o["metadata"]["name"] == "system:metrics-server" and o["kind"] == "ClusterRole"
    )
    granted = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
    assert {("nodes/metrics", "get"), ("nodes", "list"), ("pods", "watch")} <= granted


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([{"type": "Available", "status": "True"}], True),
        ([{"type": "Available", "status": "False", "reason": "FailedDiscoveryCheck"}], False),
        ([], False),
    ],
)
def test_apiservice_available(conditions: list[dict[str, str]], expected: bool) -> None:
    assert metrics_server.available({"status": {"conditions": conditions}}) is expected
    assert metrics_server.available({}) is False


def test_pki_has_a_front_proxy_ca_and_metrics_servers_certificates(tmp_path: Path) -> None:
    pki.ensure_all(tmp_path)
    ca, front_ca = load_cert(tmp_path / "ca.crt"), load_cert(tmp_path / "front-proxy-ca.crt")
    assert ca.subject != front_ca.subject

    client = load_cert(tmp_path / "front-proxy-client.crt")
    assert client.issuer == front_ca.subject
    assert client.subject.rfc4514_string() == "CN=front-proxy-client"
    usages = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]

    serving = load_cert(tmp_path / "metrics-server-serving.crt")
    assert serving.issuer == ca.subject  # the APIService's caBundle is the local CA
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "metrics-server.kube-system.svc" in sans.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]

    user = load_cert(tmp_path / "metrics-server.crt")
    assert user.issuer == ca.subject
    assert user.subject.rfc4514_string() == f"CN={metrics_server.USER}"

    # Files are kept: a restarted control plane keeps trusting what it handed out.
    before = (tmp_path / "front-proxy-client.crt").read_bytes()
    pki.ensure_all(tmp_path)
    assert (tmp_path / "front-proxy-client.crt").read_bytes() == before


def test_a_cluster_started_without_metrics_server_is_not_running(tmp_path: Path) -> None:
    # What an older checkout recorded: `up` must start the cluster whole rather than call it running.
    plane = ControlPlane(tmp_path, say=lambda _: None)
    plane.layout.state_file.parent.mkdir(parents=True)
    components = [
        {"name": name, "pid": 1, "executable": "/proc/self/exe", "log": "x"}
        for name in COMPONENTS
        if name != "metrics-server"
    ]
    plane.layout.state_file.write_text(json.dumps({"ports": asdict(Ports()), "components": components}))
    assert plane.state() is not None
    assert plane.running() is False
