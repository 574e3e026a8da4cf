"""The kubelet's resource endpoints of each virtual node: ``/metrics/resource``, ``/stats/summary``,
``/pods`` and ``/runningpods/``.

All virtual nodes share one HTTPS application (``handlers.kubelet``); the node a request is for is the one
whose ``daemonEndpoints.kubeletEndpoint.Port`` is the port it came in on. Usage comes from
``handlers.usage`` (no API call per scrape); ``/pods`` answers the pods bound to the node as cached, as the
kubelet answers the pods it was given; ``/runningpods/`` the ones whose instance runs, with only the fields
the kubelet's runtime cache knows (name, namespace, uid, containers' names and images).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from eci_operator.domain.bodies import key_of, meta_of, spec_of, uid_of
from eci_operator.domain.kubelet_stats import resource_metrics, summary
from eci_operator.domain.kubetime import parse_time
from eci_operator.handlers.caches import BY_NODE
from eci_operator.handlers.store import Body, Key, Store
from eci_operator.handlers.usage import UsageService
from eci_operator.models import ContainerGroupPhase
from eci_operator.runtime.protocol import Runtime

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def kubelet_port(node: Body) -> int | None:
    port = (((node.get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get(
        "Port"
    )
    return int(port) if port else None


def request_port(request: web.Request) -> int:
    """The kubelet port a request came in on: the TCP port, or the N of a ``kubelet-N.sock`` socket."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, str | bytes):
        name = Path(sockname.decode() if isinstance(sockname, bytes) else sockname).stem
        digits = name.removeprefix("kubelet-")
        return int(digits) if digits.isdigit() else 0
    return int(sockname[1]) if sockname else 0


def _pod_list(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": list(items)}


class ResourceEndpoints:
    def __init__(self, usage: UsageService, runtime: Runtime, pods: Store, nodes: Store) -> None:
        self.usage, self.runtime, self.pods, self.nodes = usage, runtime, pods, nodes

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/metrics/resource", self.metrics_resource),
            web.get("/stats/summary", self.stats_summary),
            web.get("/stats/summary/", self.stats_summary),
            web.get("/pods", self.bound_pods),
            web.get("/pods/", self.bound_pods),
            web.get("/runningpods/", self.running_pods),
        ]

    def _node(self, request: web.Request) -> Body:
        port = request_port(request)
        for node in self.nodes.items.values():
            if kubelet_port(node) == port:
                return node
        raise web.HTTPNotFound(text=f"no virtual node is served on port {port}\n")

    def _keys(self, node: Body) -> list[Key]:
        return self.pods.by(BY_NODE, str(meta_of(node).get("name")))

    async def metrics_resource(self, request: web.Request) -> web.Response:
        node = self._node(request)
        text = resource_metrics(self.usage.reading(), str(meta_of(node).get("name")), self._keys(node))
        return web.Response(body=text.encode(), headers={"Content-Type": PROMETHEUS_TEXT})

    async def stats_summary(self, request: web.Request) -> web.Response:
        node = self._node(request)
        name = str(meta_of(node).get("name"))
        started = _time(meta_of(node).get("creationTimestamp"))
        pods = []
        for key in self._keys(node):
            body = self.pods.get(key) or {}
            status = self.runtime.get(key)
            began = (
                status.started_at
                if status and status.started_at
                else _time(meta_of(body).get("creationTimestamp"))
            )
            pods.append((key, uid_of(body), began))
        answer = summary(self.usage.reading(), name, started, pods)
        return web.json_response(answer)

    async def bound_pods(self, request: web.Request) -> web.Response:
        node = self._node(request)
        items = [body for key in self._keys(node) if (body := self.pods.get(key)) is not None]
        return web.Response(text=json.dumps(_pod_list(items)), content_type="application/json")

    async def running_pods(self, request: web.Request) -> web.Response:
        node = self._node(request)
        items = []
        for key in self._keys(node):
            body = self.pods.get(key)
            status = self.runtime.get(key)
            if body is None or status is None or status.phase != ContainerGroupPhase.RUNNING:
                continue
            ns, name = key_of(body)
            containers = [
                {"name": c.get("name"), "image": c.get("image")} for c in spec_of(body).get("containers", [])
            ]
            items.append(
                {
                    "metadata": {
                        "name": name,
                        "namespace": ns,
                        "uid": uid_of(body),
                        "creationTimestamp": None,
                    },
                    "spec": {"containers": containers},
                    "status": {},
                }
            )
        return web.Response(text=json.dumps(_pod_list(items)), content_type="application/json")


def _time(value: object) -> dt.datetime:
    return parse_time(str(value)) if value else dt.datetime.now(dt.UTC)
