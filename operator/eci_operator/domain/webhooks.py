"""The operator's ValidatingWebhookConfiguration and MutatingWebhookConfiguration, as pure builders.

Kopf's managed webhook configuration cannot scope pod admission tightly enough (fixed 30 s timeout, every
operation, no namespaceSelector or matchConditions), so the operator writes these objects itself. Choices
(see README "Admission webhooks"):

* pods: CREATE only, 5 s timeout, ``kube-system`` excluded by namespaceSelector, pods labelled
  ``eci.ask.dev/skip-admission=true`` excluded by objectSelector, and CEL ``matchConditions`` so that the
  API server calls the operator only for pods meant for virtual nodes (the same signals as
  ``domain.admission.targets_virtual_nodes``). A second mutating webhook matches every pod of a namespace
  labelled ``alibabacloud.com/eci=true`` (CEL cannot see namespace labels).
* ECIProfiles: CREATE and UPDATE of the main resource (not ``/status``), 10 s timeout; the same
  ``eci.ask.dev/skip-admission=true`` opt-out (tests of the operator's own conflict handling use it).
* the ``kube-system/eci-profile`` ConfigMap (when the operator serves it): CREATE and UPDATE, 10 s, that
  namespace by namespaceSelector and that name by a CEL ``matchCondition``: no other ConfigMap is sent.
* failurePolicy ``Ignore`` everywhere: the cluster never depends on the operator being up. A pod that
  slips through while it is down still fails at binding with a ``ProviderFailed`` event, as before.

Pure: builds dicts; the handlers send them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eci_operator.domain.admission import ECI_LABEL, SKIP_LABEL
from eci_operator.domain.configmap import CONFIGMAP_NAME, CONFIGMAP_NAMESPACE
from eci_operator.domain.nodes import NODE_PREFIX
from eci_operator.models.keys import GROUP, PROFILE_LABEL, TAINT_KEY, VERSION

NAME = "eci-operator"
PLURAL = "eciprofiles"
POD_TIMEOUT_SECONDS = 5
PROFILE_TIMEOUT_SECONDS = 10
FAILURE_POLICY = "Ignore"

VALIDATE_PROFILES = "/validate/eciprofiles"
VALIDATE_PODS = "/validate/pods"
VALIDATE_ECI_PROFILE_CONFIGMAP = "/validate/eci-profile-configmap"
MUTATE_PODS = "/mutate/pods"
MUTATE_ECI_NAMESPACE_PODS = "/mutate/pods/eci-namespace"

_REQUIRED = "object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"

# CEL, evaluated by the API server before it calls us; kept in step with targets_virtual_nodes.
NOT_DAEMONSET = (
    "!has(object.metadata.ownerReferences) || "
    "!object.metadata.ownerReferences.exists(r, r.kind == 'DaemonSet')"
)
FOR_VIRTUAL_NODES = " || ".join(
    [
        f"(has(object.spec.nodeName) && object.spec.nodeName.startsWith('{NODE_PREFIX}'))",
        "(has(object.spec.tolerations) && "
        f"object.spec.tolerations.exists(t, has(t.key) && t.key == '{TAINT_KEY}'))",
        "(has(object.spec.nodeSelector) && (('type' in object.spec.nodeSelector && "
        "object.spec.nodeSelector['type'] == 'virtual-kubelet') || "
        f"'{PROFILE_LABEL}' in object.spec.nodeSelector))",
        f"(has(object.metadata.labels) && '{ECI_LABEL}' in object.metadata.labels && "
        f"object.metadata.labels['{ECI_LABEL}'] == 'true')",
        "(has(object.spec.affinity) && has(object.spec.affinity.nodeAffinity) && "
        "has(object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution) && "
        f"{_REQUIRED}.nodeSelectorTerms.exists(term, has(term.matchExpressions) && "
        "term.matchExpressions.exists(e, e.key == 'type' && e.operator == 'In' && has(e.values) && "
        "'virtual-kubelet' in e.values)))",
    ]
)
POD_MATCH_CONDITIONS = [
    {"name": "not-a-daemonset-pod", "expression": NOT_DAEMONSET},
    {"name": "meant-for-virtual-nodes", "expression": FOR_VIRTUAL_NODES},
]
NOT_KUBE_SYSTEM = {
    "matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}
    ]
}
NOT_SKIPPED = {"matchExpressions": [{"key": SKIP_LABEL, "operator": "NotIn", "values": ["true"]}]}


@dataclass(frozen=True)
class Endpoint:
    """Where the API server reaches the operator: a URL base (``https://host:port``) or a Service."""

    ca_bundle: str  # base64 of the CA's PEM
    url_base: str | None = None
    service_namespace: str | None = None
    service_name: str | None = None
    service_port: int = 443

    def client_config(self, path: str) -> dict[str, Any]:
        if self.service_name and self.service_namespace:
            service = {
                "namespace": self.service_namespace,
                "name": self.service_name,
                "path": path,
                "port": self.service_port,
            }
            return {"service": service, "caBundle": self.ca_bundle}
        if not self.url_base:
            raise ValueError("an Endpoint needs a url_base or a Service")
        return {"url": self.url_base.rstrip("/") + path, "caBundle": self.ca_bundle}


def _pod_rules() -> list[dict[str, Any]]:
    return [
        {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "operations": ["CREATE"],
            "resources": ["pods"],
            "scope": "Namespaced",
        }
    ]


def _common(endpoint: Endpoint, path: str, timeout: int) -> dict[str, Any]:
    return {
        "clientConfig": endpoint.client_config(path),
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "failurePolicy": FAILURE_POLICY,
        "timeoutSeconds": timeout,
        "matchPolicy": "Equivalent",
    }


def _configmap_hook(endpoint: Endpoint) -> dict[str, Any]:
    """The one ConfigMap ASK keeps its ECI settings in, and nothing else."""
    return {
        "name": "eci-profile.validate.eci.ask.dev",
        **_common(endpoint, VALIDATE_ECI_PROFILE_CONFIGMAP, PROFILE_TIMEOUT_SECONDS),
        "rules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["configmaps"],
                "scope": "Namespaced",
            }
        ],
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": CONFIGMAP_NAMESPACE}},
        "objectSelector": NOT_SKIPPED,
        "matchConditions": [
            {
                "name": "the-eci-profile",
                "expression": f"has(object.metadata.name) && object.metadata.name == '{CONFIGMAP_NAME}'",
            }
        ],
    }


def validating_configuration(endpoint: Endpoint, *, configmap: bool = False) -> dict[str, Any]:
    """Validation of ECIProfiles (CREATE/UPDATE), of pods meant for virtual nodes (CREATE) and, with
    ``configmap``, of the kube-system/eci-profile ConfigMap (CREATE/UPDATE)."""
    body: dict[str, Any] = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": NAME, "labels": {"app.kubernetes.io/managed-by": NAME}},
        "webhooks": [
            {
                "name": "eciprofiles.validate.eci.ask.dev",
                **_common(endpoint, VALIDATE_PROFILES, PROFILE_TIMEOUT_SECONDS),
                "objectSelector": NOT_SKIPPED,
                "rules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": [VERSION],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": [PLURAL],
                        "scope": "Cluster",
                    }
                ],
            },
            {
                "name": "pods.validate.eci.ask.dev",
                **_common(endpoint, VALIDATE_PODS, POD_TIMEOUT_SECONDS),
                "rules": _pod_rules(),
                "namespaceSelector": NOT_KUBE_SYSTEM,
                "objectSelector": NOT_SKIPPED,
                "matchConditions": POD_MATCH_CONDITIONS,
            },
        ],
    }
    if configmap:
        body["webhooks"].append(_configmap_hook(endpoint))
    return body


def mutating_configuration(endpoint: Endpoint) -> dict[str, Any]:
    """Mutation of pods meant for virtual nodes, and of every pod in an ECI-labelled namespace (CREATE)."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": NAME, "labels": {"app.kubernetes.io/managed-by": NAME}},
        "webhooks": [
            {
                "name": "pods.mutate.eci.ask.dev",
                **_common(endpoint, MUTATE_PODS, POD_TIMEOUT_SECONDS),
                "rules": _pod_rules(),
                "namespaceSelector": NOT_KUBE_SYSTEM,
                "objectSelector": NOT_SKIPPED,
                "matchConditions": POD_MATCH_CONDITIONS,
                "reinvocationPolicy": "Never",
            },
            {
                "name": "eci-namespace-pods.mutate.eci.ask.dev",
                **_common(endpoint, MUTATE_ECI_NAMESPACE_PODS, POD_TIMEOUT_SECONDS),
                "rules": _pod_rules(),
                "namespaceSelector": {
                    "matchLabels": {ECI_LABEL: "true"},
                    "matchExpressions": NOT_KUBE_SYSTEM["matchExpressions"],
                },
                "objectSelector": NOT_SKIPPED,
                "matchConditions": [{"name": "not-a-daemonset-pod", "expression": NOT_DAEMONSET}],
                "reinvocationPolicy": "Never",
            },
        ],
    }
