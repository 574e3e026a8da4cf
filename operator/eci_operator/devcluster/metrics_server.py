"""The API objects that register the local metrics-server: RBAC, an ExternalName Service, the APIService.

metrics-server runs beside the control plane as a local process (as in ``kwokctl --runtime binary``), not as
a pod, so upstream's manifests do not fit as they are: there is no Deployment; the Service is an
ExternalName Service for ``localhost`` (Endpoints may not hold loopback addresses; the aggregator resolves an
ExternalName Service to ``https://<externalName>:<the APIService's port>``); RBAC is bound to metrics-server's
own client-certificate user instead of a ServiceAccount. The API server verifies metrics-server's serving
certificate against the APIService's ``caBundle`` (the local CA) under the Service's DNS name
``metrics-server.kube-system.svc``; nothing skips TLS verification.

Pure builders: nothing here talks to the cluster (the control plane applies them with kubectl).
"""

from __future__ import annotations

import base64
from typing import Any

from eci_operator.devcluster.pki import METRICS_SERVER_CLIENT

APISERVICE = "v1beta1.metrics.k8s.io"
NAMESPACE, SERVICE = "kube-system", "metrics-server"
USER = METRICS_SERVER_CLIENT.common_name

Obj = dict[str, Any]


def _user() -> list[Obj]:
    return [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}]


def _cluster_role_binding(name: str, role: str) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": _user(),
    }


def rbac() -> list[Obj]:
    """Upstream's RBAC (manifests/base/rbac.yaml) bound to metrics-server's user."""
    read = ["get", "list", "watch"]
    return [
        {
            # Lets whoever may view/edit/admin read metrics too (upstream's aggregated role).
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": "system:aggregated-metrics-reader",
                "labels": {
                    f"rbac.authorization.k8s.io/aggregate-to-{role}": "true"
                    for role in ("view", "edit", "admin")
                },
            },
            "rules": [{"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"], "verbs": read}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:metrics-server"},
            "rules": [
                {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": read},
            ],
        },
        _cluster_role_binding("system:metrics-server", "system:metrics-server"),
        # Delegated authentication and authorization: TokenReviews and SubjectAccessReviews.
        _cluster_role_binding("metrics-server:system:auth-delegator", "system:auth-delegator"),
        {
            # Reading the API server's client CA and request-header settings (the ConfigMap
            # kube-system/extension-apiserver-authentication).
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "metrics-server-auth-reader", "namespace": NAMESPACE},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "extension-apiserver-authentication-reader",
            },
            "subjects": _user(),
        },
    ]


def registration(*, port: int, ca_bundle: bytes) -> list[Obj]:
    """The ExternalName Service and the APIService that route metrics.k8s.io to ``localhost:port``."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": SERVICE, "namespace": NAMESPACE, "labels": {"k8s-app": "metrics-server"}},
            "spec": {"type": "ExternalName", "externalName": "localhost"},
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": APISERVICE, "labels": {"k8s-app": "metrics-server"}},
            "spec": {
                "service": {"name": SERVICE, "namespace": NAMESPACE, "port": port},
                "group": "metrics.k8s.io",
                "version": "v1beta1",
                "caBundle": base64.b64encode(ca_bundle).decode(),
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        },
    ]


def objects(*, port: int, ca_bundle: bytes) -> list[Obj]:
    """Everything, in the order to apply it (RBAC before metrics-server starts reading its settings)."""
    return [*rbac(), *registration(port=port, ca_bundle=ca_bundle)]


def available(apiservice: Obj) -> bool:
    """True when the APIService's ``Available`` condition is True."""
    conditions = apiservice.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)
