"""A small JSON client for the Kubernetes API: counted requests, bounded retries, typed errors.

The typed kubernetes_asyncio models cost more CPU than the operator's whole decision path, so writes and
reads go through here as plain dicts. Bytes move through a ``Transport`` (``kube.transport``): aiohttp for a
real cluster, whose credentials come from kubernetes_asyncio's kubeconfig / in-cluster loaders, or the
in-memory ``kube.memory.ApiServer`` for the handler tests. Every request is counted by verb, resource and
response code (``counts``): the benchmark and the metrics read the operator's own figures from it. JSON is
encoded and decoded by orjson (requests, answers, watch lines): a few times faster than the standard
library on the operator's hot path (README, "Benchmark").
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

from eci_operator.kube.errors import ApiError, Conflict, NotLeader, api_error
from eci_operator.kube.transport import (
    AiohttpTransport,
    Request,
    Transport,
    TransportError,
    bearer_token,
)

__all__ = ["ApiError", "KubeClient", "bearer_token", "load_configuration"]
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class RequestCounts:
    """How many requests the operator made, by (verb, resource, code)."""

    by_key: Counter[tuple[str, str, int]] = field(default_factory=Counter)

    def add(self, verb: str, resource: str, code: int) -> None:
        self.by_key[(verb, resource, code)] += 1

    def by_verb(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (verb, _, _), n in self.by_key.items():
            out[verb] += n
        return dict(out)

    def writes(self) -> Counter[tuple[str, str]]:
        """Successful writes by (verb, resource)."""
        out: Counter[tuple[str, str]] = Counter()
        for (verb, resource, code), n in self.by_key.items():
            if verb in ("create", "update", "patch", "delete") and 200 <= code < 300:
                out[(verb, resource)] += n
        return out

    def as_rows(self) -> list[dict[str, Any]]:
        return [
            {"verb": v, "resource": r, "code": c, "count": n} for (v, r, c), n in sorted(self.by_key.items())
        ]


def verb_of(method: str, params: Mapping[str, str] | None, named: bool) -> str:
    method = method.upper()
    if method == "GET":
        if params and params.get("watch") in ("true", "1"):
            return "watch"
        return "get" if named else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method)


def resource_of(path: str) -> tuple[str, bool]:
    """('pods/status', named) from an API path such as /api/v1/namespaces/ns/pods/p/status."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    parts = parts[2:] if parts[:1] == ["api"] else parts[3:]  # drop api/v1 or apis/group/version
    if len(parts) >= 2 and parts[0] == "namespaces" and len(parts) > 2:
        parts = parts[2:]
    if not parts:
        return "discovery", True  # /apis/<group>/<version>: the group version's resource list
    resource = parts[0]
    named = len(parts) >= 2
    if len(parts) >= 3:
        resource = f"{resource}/{parts[2]}"
    return resource, named


def decode(raw: bytes) -> Any:
    """A response body as JSON; a body that is not JSON becomes ``{"message": its text}``."""
    try:
        return orjson.loads(raw) if raw else {}
    except ValueError:
        return {"message": raw.decode(errors="replace").strip()}


def _error(status: int, reason: str, raw: bytes) -> ApiError:
    payload = decode(raw)
    return api_error(status, reason, payload if isinstance(payload, dict) else {})


async def load_configuration(kubeconfig: str | None = None) -> k8s_client.Configuration:
    """Credentials from ``kubeconfig``, else $KUBECONFIG or ~/.kube/config, else the in-cluster ones.

    $KUBECONFIG is read here, at call time (kubernetes_asyncio reads it once, at import).
    """
    cfg = k8s_client.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    if kubeconfig or os.path.exists(path):
        await k8s_config.load_kube_config(config_file=path, client_configuration=cfg)
    else:
        k8s_config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    return cfg


class KubeClient:
    """JSON over a Transport; ``await KubeClient.connect()`` for the cluster of a kubeconfig."""

    def __init__(self, transport: Transport, *, max_retries: int = 5) -> None:
        self.transport = transport
        self.counts = RequestCounts()
        self.max_retries = max_retries
        # When the last request other than an Event started: Events yield to the operator's own work.
        self.last_work = 0.0
        # Consulted before every write (method, path): False refuses it unsent (leader election's fence).
        self.write_fence: Callable[[str, str], bool] | None = None

    @classmethod
    async def connect(cls, kubeconfig: str | None = None) -> KubeClient:
        return cls(AiohttpTransport(await load_configuration(kubeconfig)))

    async def close(self) -> None:
        await self.transport.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Send one request; retry 429/5xx and connection errors with jittered backoff (bounded)."""
        resource, named = resource_of(path)
        verb = verb_of(method, params, named)
        if method.upper() != "GET" and self.write_fence is not None and not self.write_fence(method, path):
            self.counts.add(verb, resource, -1)  # code -1: refused here, never sent
            raise NotLeader(-1, "NotLeader", {"message": f"{verb} {path}: this replica is not the leader"})
        if resource != "events":
            self.last_work = time.monotonic()
        data = None if body is None else orjson.dumps(body)
        request = Request(method, path, dict(params or {}), data, content_type, timeout)
        delay = 0.2
        for attempt in range(self.max_retries + 1):
            try:
                resp = await self.transport.send(request)
            except TransportError as exc:
                self.counts.add(verb, resource, 0)
                if attempt >= self.max_retries:
                    raise api_error(0, f"connection failed: {exc}") from exc
                await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
                delay = min(delay * 2, 5.0)
                continue
            self.counts.add(verb, resource, resp.status)
            if resp.status < 400:
                payload = decode(resp.body)
                return payload if isinstance(payload, dict) else {"items": payload}
            if resp.status in RETRY_STATUSES and attempt < self.max_retries:
                retry_after = resp.headers.get("Retry-After")
                wait = float(retry_after) if retry_after and retry_after.isdigit() else delay
                await asyncio.sleep(min(wait, 10.0) * (0.8 + 0.4 * random.random()))
                delay = min(delay * 2, 5.0)
                continue
            raise _error(resp.status, resp.reason, resp.body)
        raise AssertionError("unreachable")  # pragma: no cover

    async def watch(
        self, path: str, params: Mapping[str, str], read_timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        """One watch stream: yield its events (decoded JSON lines) until the server ends it.

        No retries here: the caller (``kube.watch.Informer``) decides whether to resume or to re-list.
        A line may be longer than aiohttp's ``readline`` limit (a pod with large annotations), so the
        stream is split into lines by hand.
        """
        resource, _ = resource_of(path)
        request = Request("GET", path, {**params, "watch": "true"})
        async with self.transport.stream(request, read_timeout) as resp:
            self.counts.add("watch", resource, resp.status)
            if resp.status >= 400:
                raise _error(resp.status, resp.reason, await resp.read())
            pending = b""
            async for chunk in resp.chunks():
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield orjson.loads(line)
            if pending.strip():
                yield orjson.loads(pending)

    async def get(self, path: str, **params: str) -> dict[str, Any]:
        return await self.request("GET", path, params=params or None)

    async def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.request("POST", path, body=body)

    async def create_or_get(self, collection: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create ``body`` in ``collection``; if it exists already, read that one. (object, created?)"""
        try:
            return await self.create(collection, body), True
        except Conflict:
            name = (body.get("metadata") or {}).get("name")
            return await self.get(f"{collection}/{name}"), False

    async def merge_patch(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.request("PATCH", path, body=body, content_type="application/merge-patch+json")

    async def delete(self, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self.request("DELETE", path, body=body)
