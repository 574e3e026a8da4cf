"""The in-memory API server of the handler tier answers as the real one does, for what the operator sends.

The same requests go to ``kube.memory.ApiServer`` and to the real kube-apiserver: merge patches, the status
subresource split, uid and resourceVersion preconditions, graceful deletion and grace 0, label and field
selectors, 404/409/422. Each answer is compared as its code, its reason, and the fields the operator reads;
a fake that drifted into accepting what the real server refuses fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import ApiError
from eci_operator.kube.memory import ApiServer
from eci_operator.kube.memory_transport import MemoryTransport
from helpers import wait_for

Projection = Callable[[dict[str, Any]], Any]
# A custom resource of the test's own (status subresource, a schema that keeps unknown fields): the operator
# would take a ContainerGroup without a pod for an orphan and delete it in the middle of the test.
CG = "/apis/contract.eci.ask.dev/v1/namespaces/{ns}/widgets"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.contract.eci.ask.dev"},
    "spec": {
        "group": "contract.eci.ask.dev",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


def _meta(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    meta = body.get("metadata") or {}
    return {k: meta.get(k) for k in keys}


def pod_view(body: dict[str, Any]) -> Any:
    meta = body.get("metadata") or {}
    return {
        "name": meta.get("name"),
        "annotations": meta.get("annotations"),
        "labels": meta.get("labels"),
        "terminating": bool(meta.get("deletionTimestamp")),
        "grace": meta.get("deletionGracePeriodSeconds"),
        "phase": (body.get("status") or {}).get("phase"),
        "nodeName": (body.get("spec") or {}).get("nodeName"),
    }


def names(body: dict[str, Any]) -> Any:
    return sorted((i.get("metadata") or {}).get("name") for i in body.get("items") or [])


def group_view(body: dict[str, Any]) -> Any:
    return {
        "status": body.get("status"),
        "generation": (body.get("metadata") or {}).get("generation"),
        "spec": body.get("spec"),
    }


def steps(ns: str) -> list[tuple[str, str, Any, dict[str, str], Projection | None]]:
    pods = f"/api/v1/namespaces/{ns}/pods"
    pod = f"{pods}/p"
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "x"}},
        "spec": {"nodeName": "contract-node", "containers": [{"name": "c", "image": "nginx"}]},
    }
    group = {
        "apiVersion": "contract.eci.ask.dev/v1",
        "kind": "Widget",
        "metadata": {"name": "g"},
        "spec": {"podName": "p", "podUid": "u", "nodeName": "n", "profile": "x", "zoneId": "z"},
        "status": {"phase": "Running"},
    }
    return [
        ("POST", pods, {**body, "metadata": {}}, {}, None),  # no name: 422
        ("POST", pods, body, {}, pod_view),
        ("POST", pods, body, {}, None),  # exists: 409
        ("GET", f"{pods}/nope", None, {}, None),  # 404
        (
            "PATCH",
            f"{pod}/status",
            {"status": {"phase": "Running"}, "metadata": {"annotations": {"k": "v"}}},
            {},
            pod_view,
        ),
        ("PATCH", pod, {"status": {"phase": "Failed"}, "metadata": {"labels": {"more": "y"}}}, {}, pod_view),
        (
            "PATCH",
            f"{pod}/status",
            {"metadata": {"uid": "not-its-uid"}, "status": {"phase": "Failed"}},
            {},
            None,
        ),
        (
            "PATCH",
            f"{pod}/status",
            {"metadata": {"resourceVersion": "1"}, "status": {"phase": "Failed"}},
            {},
            None,
        ),
        ("PATCH", pod, {"spec": {"nodeName": "elsewhere"}}, {}, None),  # 422: nodeName is set once
        ("GET", pods, None, {"labelSelector": "app=x"}, names),
        ("GET", pods, None, {"labelSelector": "app!=x"}, names),
        ("GET", pods, None, {"labelSelector": "app in (x,z),more"}, names),
        ("GET", pods, None, {"labelSelector": "!app"}, names),
        ("GET", pods, None, {"fieldSelector": "spec.nodeName=contract-node"}, names),
        ("GET", pods, None, {"fieldSelector": "spec.nodeName!="}, names),
        ("GET", pods, None, {"fieldSelector": "metadata.name=q"}, names),
        ("DELETE", pod, {"preconditions": {"uid": "not-its-uid"}}, {}, None),
        ("DELETE", pod, {}, {}, pod_view),  # bound: graceful, 30 s
        ("DELETE", pod, {"gracePeriodSeconds": 0}, {}, None),
        ("GET", pod, None, {}, None),  # gone
        ("POST", CG.format(ns=ns), group, {}, group_view),  # the status of a create is dropped
        ("PATCH", CG.format(ns=ns) + "/g/status", {"status": {"phase": "Pending"}}, {}, group_view),
        ("PATCH", CG.format(ns=ns) + "/g", {"status": {"phase": "Failed"}}, {}, group_view),
        (
            "PATCH",
            CG.format(ns=ns) + "/g/status",
            {"spec": {"profile": "other"}, "status": {"reason": "R"}},
            {},
            group_view,
        ),
    ]


async def _send(
    client: KubeClient, method: str, path: str, body: Any, params: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    content = "application/merge-patch+json" if method == "PATCH" else "application/json"
    try:
        return 200, await client.request(method, path, params=params or None, body=body, content_type=content)
    except ApiError as exc:
        return exc.status, exc.body


async def test_the_fake_answers_as_the_real_api_server(kubeconfig: Path, crds: None, namespace: str) -> None:
    real = await KubeClient.connect(str(kubeconfig))
    real.max_retries = 0
    crds_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    await real.create_or_get(crds_path, CRD)

    async def served() -> bool:
        crd = await real.get(f"{crds_path}/widgets.contract.eci.ask.dev")
        return any(
            c["type"] == "Established" and c["status"] == "True" for c in crd["status"]["conditions"] or []
        )

    await wait_for(served, 60, what="CRD widgets.contract.eci.ask.dev Established")
    fake_server = ApiServer(status_subresources=frozenset({"pods", "widgets"}))
    fake = KubeClient(MemoryTransport(fake_server), max_retries=0)
    await fake.create("/api/v1/namespaces", {"metadata": {"name": namespace}})
    try:
        for method, path, body, params, view in steps(namespace):
            real_code, real_body = await _send(real, method, path, body, params)
            fake_code, fake_body = await _send(fake, method, path, body, params)
            what = f"{method} {path} {params or ''} {body}"
            assert fake_code == real_code, (
                f"{what}: real {real_code} {real_body.get('message')}, fake {fake_code}"
            )
            if real_code >= 400:
                assert fake_body.get("reason") == real_body.get("reason"), what
            elif view is not None:
                assert view(fake_body) == view(real_body), what
    finally:
        await real.delete(f"{crds_path}/widgets.contract.eci.ask.dev")
        await real.close()
