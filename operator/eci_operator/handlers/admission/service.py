"""Starting the webhook server and registering the webhook configurations with the API server.

The TLS material is made fresh at every start (in memory); the configurations are created, or replaced
wholesale with a merge patch, so they always carry this process's CA and address. A failure here (port in
use, no RBAC for webhook configurations) is logged and the operator runs on without admission: its main
job does not depend on it, and a pod that slips through still fails at binding with a clear event.
"""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
from dataclasses import dataclass

import structlog

from eci_operator import certs
from eci_operator.domain import webhooks
from eci_operator.handlers.admission.server import AdmissionServer
from eci_operator.handlers.caches import Caches
from eci_operator.handlers.settings import Settings
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import ApiError

log = structlog.get_logger("eci_operator.admission")
ADMISSION_API = "/apis/admissionregistration.k8s.io/v1"
COLLECTIONS = {
    "ValidatingWebhookConfiguration": f"{ADMISSION_API}/validatingwebhookconfigurations",
    "MutatingWebhookConfiguration": f"{ADMISSION_API}/mutatingwebhookconfigurations",
}


@dataclass
class Admission:
    """A running webhook server (what ``stop`` needs)."""

    server: AdmissionServer
    endpoint: webhooks.Endpoint
    configmap: bool = False  # the eci-profile ConfigMap's webhook too (--ask-configmap)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def endpoint_and_names(settings: Settings, ca_bundle: str) -> tuple[webhooks.Endpoint, list[str], list[str]]:
    """Where the API server calls us, and the DNS names / IPs the serving certificate must name."""
    if settings.webhook_service:
        namespace, _, name = settings.webhook_service.partition("/")
        if not namespace or not name:
            raise ValueError(f"--webhook-service {settings.webhook_service!r}: expected NAMESPACE/NAME")
        dns = [
            name,
            f"{name}.{namespace}",
            f"{name}.{namespace}.svc",
            f"{name}.{namespace}.svc.cluster.local",
        ]
        endpoint = webhooks.Endpoint(ca_bundle=ca_bundle, service_namespace=namespace, service_name=name)
        return endpoint, dns, []
    # With the local control plane's node network the nodes' address is relayed for kubelet ports only;
    # the apiserver is on this machine, so the webhooks stay on loopback.
    host = settings.webhook_host or ("127.0.0.1" if settings.kubelet_socket_dir else settings.node_address)
    shown = f"[{host}]" if ":" in host else host
    endpoint = webhooks.Endpoint(ca_bundle=ca_bundle, url_base=f"https://{shown}:{settings.webhook_port}")
    return endpoint, ([] if _is_ip(host) else [host]), ([host] if _is_ip(host) else [])


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def tls_secret_name(service_name: str) -> str:
    return f"{service_name}-webhook-tls"


async def shared_tls(
    client: KubeClient, endpoint: webhooks.Endpoint, ca_pem: bytes, pair: certs.KeyPair
) -> tuple[bytes, certs.KeyPair]:
    """Every replica behind the Service serves the same certificate: the first to start stores its CA and
    serving pair in a Secret beside the Service (create-only), the others read that one and use it."""
    namespace, name = str(endpoint.service_namespace), tls_secret_name(str(endpoint.service_name))
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "eci-operator"}},
        "type": "kubernetes.io/tls",
        "data": {
            "ca.crt": _b64(ca_pem),
            "tls.crt": _b64(pair.cert_pem),
            "tls.key": _b64(pair.key_pem),
        },
    }
    secret, created = await client.create_or_get(f"/api/v1/namespaces/{namespace}/secrets", body)
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    log.info("webhooks.tls", secret=f"{namespace}/{name}", created=created)
    return data["ca.crt"], certs.KeyPair(cert_pem=data["tls.crt"], key_pem=data["tls.key"])


async def register(client: KubeClient, endpoint: webhooks.Endpoint, *, configmap: bool = False) -> None:
    """Create or replace the ``eci-operator`` webhook configurations."""
    validating = webhooks.validating_configuration(endpoint, configmap=configmap)
    for body in (validating, webhooks.mutating_configuration(endpoint)):
        collection = COLLECTIONS[body["kind"]]
        _, created = await client.create_or_get(collection, body)
        if not created:
            patch = {"metadata": {"labels": body["metadata"]["labels"]}, "webhooks": body["webhooks"]}
            await client.merge_patch(f"{collection}/{webhooks.NAME}", patch)


async def start(
    caches: Caches, client: KubeClient, settings: Settings, *, register_now: bool = True
) -> Admission | None:
    """Serve the webhooks (and register them unless told to wait for leadership); None when disabled or
    when they could not be served."""
    if not settings.webhooks:
        log.info("webhooks.disabled")
        return None
    ca = certs.make_ca("eci-operator-webhooks")
    ca_bundle = base64.b64encode(ca.cert_pem).decode()
    try:
        endpoint, dns, ips = endpoint_and_names(settings, ca_bundle)
        pair = certs.issue_server_cert(ca, dns_names=dns, ip_addresses=ips)
        if endpoint.service_namespace and endpoint.service_name and settings.leader_elect:
            ca_pem, pair = await shared_tls(client, endpoint, ca.cert_pem, pair)
            endpoint = dataclasses.replace(endpoint, ca_bundle=base64.b64encode(ca_pem).decode())
    except ApiError as exc:
        log.error("webhooks.failed", stage="tls-secret", error=str(exc))
        return None
    try:
        server = AdmissionServer(caches)
        await server.start(settings.webhook_bind_address, settings.webhook_port, certs.server_context(pair))
    except (OSError, ValueError) as exc:
        log.error("webhooks.failed", stage="serve", port=settings.webhook_port, error=str(exc))
        return None
    admission = Admission(server=server, endpoint=endpoint, configmap=settings.ask_configmap)
    log.info("webhooks.serving", port=settings.webhook_port)
    if register_now and not await claim(admission, client):
        await server.stop()
        return None
    return admission


async def claim(admission: Admission | None, client: KubeClient) -> bool:
    """Point the webhook configurations at this replica (the leader owns them); False when refused."""
    if admission is None:
        return False
    endpoint = admission.endpoint
    try:
        await register(client, endpoint, configmap=admission.configmap)
    except ApiError as exc:
        log.error("webhooks.failed", stage="register", error=str(exc))
        return False
    where = endpoint.url_base or f"service {endpoint.service_namespace}/{endpoint.service_name}"
    log.info("webhooks.registered", name=webhooks.NAME, endpoint=where)
    return True


async def stop(admission: Admission | None) -> None:
    """Stop serving; the configurations stay (failurePolicy Ignore: nothing waits on a stopped operator)."""
    if admission is not None:
        await admission.server.stop()
        log.info("webhooks.stopped")
