"""Local PKI for the dev control plane: CAs, serving and client certificates, a service-account key.

Everything is made here with ``cryptography``; nothing is fetched. Files are written once and reused, so a
restarted control plane keeps trusting the kubeconfigs it handed out. Private keys are written 0600.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from eci_operator import certs


@dataclass(frozen=True)
class CertPair:
    """Paths of one certificate and its private key (PEM)."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate's subject: CN is the user name, O the groups."""

    file_stem: str
    common_name: str
    organizations: tuple[str, ...] = ()


# metrics-server's own user: its RBAC (metrics_server.py) is bound to this name.
METRICS_SERVER_CLIENT = ClientIdentity("metrics-server", "system:metrics-server")

CLIENTS = (
    ClientIdentity("admin", "kubernetes-admin", ("system:masters",)),
    ClientIdentity("controller-manager", "system:kube-controller-manager"),
    ClientIdentity("scheduler", "system:kube-scheduler"),
    # The apiserver's identity towards kubelets (containerLogs etc. on virtual nodes).
    ClientIdentity("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("kubeadm:cluster-admins",)),
    METRICS_SERVER_CLIENT,
)

# The aggregation layer, laid out as kubeadm does: the API server proxies to extension API servers
# (metrics-server) with a client certificate of a CA of its own, which they trust for X-Remote-* headers
# only (``--requestheader-client-ca-file``), from this one name (``--requestheader-allowed-names``).
FRONT_PROXY_CA = "front-proxy-ca"
FRONT_PROXY_CLIENT = ClientIdentity("front-proxy-client", "front-proxy-client")

# The API server checks metrics-server's certificate against the APIService's caBundle (our CA) under the
# Service's DNS name; the control plane's own probe connects to 127.0.0.1.
METRICS_SERVER_DNS = ("metrics-server.kube-system.svc", "localhost")


def _write(pair: CertPair, material: certs.KeyPair) -> None:
    pair.cert.parent.mkdir(parents=True, exist_ok=True)
    pair.key.write_bytes(material.key_pem)
    pair.key.chmod(0o600)
    pair.cert.write_bytes(material.cert_pem)


def ensure_ca(directory: Path, stem: str = "ca", common_name: str = "eci-operator-local-ca") -> CertPair:
    """Create a self-signed CA in ``directory`` unless it exists."""
    pair = CertPair(directory / f"{stem}.crt", directory / f"{stem}.key")
    if not (pair.cert.exists() and pair.key.exists()):
        _write(pair, certs.make_ca(common_name))
    return pair


def issue(
    ca: CertPair,
    directory: Path,
    stem: str,
    *,
    common_name: str,
    organizations: tuple[str, ...] = (),
    dns_names: tuple[str, ...] = (),
    ip_addresses: tuple[str, ...] = (),
    server: bool = False,
    client: bool = False,
) -> CertPair:
    """Issue a leaf certificate signed by ``ca`` unless ``directory/stem.crt`` exists."""
    pair = CertPair(directory / f"{stem}.crt", directory / f"{stem}.key")
    if pair.cert.exists() and pair.key.exists():
        return pair
    authority = certs.KeyPair(ca.cert.read_bytes(), ca.key.read_bytes())
    material = certs.issue(
        authority,
        common_name=common_name,
        organizations=organizations,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        server=server,
        client=client,
    )
    _write(pair, material)
    return pair


def ensure_all(directory: Path) -> None:
    """Everything the control plane needs under ``directory``; files that exist are kept."""
    ca = ensure_ca(directory)
    issue(
        ca,
        directory,
        "apiserver",
        common_name="kube-apiserver",
        dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
        ip_addresses=("127.0.0.1", "10.96.0.1"),
        server=True,
    )
    for ident in CLIENTS:
        _issue_client(ca, directory, ident)
    # controller-manager, scheduler and metrics-server serve /healthz (metrics-server also its API) on
    # secure ports of their own.
    servers = {
        "controller-manager-serving": ("localhost",),
        "scheduler-serving": ("localhost",),
        "metrics-server-serving": METRICS_SERVER_DNS,
    }
    for stem, dns_names in servers.items():
        issue(
            ca,
            directory,
            stem,
            common_name=stem,
            dns_names=dns_names,
            ip_addresses=("127.0.0.1",),
            server=True,
        )
    front_proxy = ensure_ca(directory, FRONT_PROXY_CA, "eci-operator-local-front-proxy-ca")
    _issue_client(front_proxy, directory, FRONT_PROXY_CLIENT)
    ensure_service_account_keys(directory)


def _issue_client(ca: CertPair, directory: Path, ident: ClientIdentity) -> CertPair:
    return issue(
        ca,
        directory,
        ident.file_stem,
        common_name=ident.common_name,
        organizations=ident.organizations,
        client=True,
    )


def ensure_service_account_keys(directory: Path) -> tuple[Path, Path]:
    """The RSA key pair that signs and verifies service-account tokens."""
    private, public = directory / "sa.key", directory / "sa.pub"
    if private.exists() and public.exists():
        return private, public
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public
