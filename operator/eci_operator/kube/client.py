"""A small JSON client for the Kubernetes API: one pooled connection set, counted requests, bounded retries.

The typed kubernetes_asyncio models cost more CPU than the operator's whole decision path, so writes and
reads go through here as plain dicts. Credentials come from kubernetes_asyncio's kubeconfig / in-cluster
loaders (so every auth method they support works). Every request is counted by verb, resource and response
code (``counts``): the benchmark and the metrics read the operator's own figures from it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import random
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ApiError(Exception):
    """A non-2xx answer from the API server (after retries)."""

    def __init__(self, status: int, reason: str, body: Mapping[str, Any] | None = None) -> None:
        self.status = status
        self.reason = reason
        self.body = dict(body or {})
        message = self.body.get("message") or reason
        super().__init__(f"{status} {reason}: {message}")


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

    def as_rows(self) -> list[dict[str, Any]]:
        return [
            {"verb": v, "resource": r, "code": c, "count": n} for (v, r, c), n in sorted(self.by_key.items())
        ]


def _verb(method: str, params: Mapping[str, str] | None, named: bool) -> str:
    method = method.upper()
    if method == "GET":
        if params and params.get("watch") in ("true", "1"):
            return "watch"
        return "get" if named else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method)


def _resource(path: str) -> tuple[str, bool]:
    """('pods/status', named) from an API path such as /api/v1/namespaces/ns/pods/p/status."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    parts = parts[2:] if parts[:1] == ["api"] else parts[3:]  # drop api/v1 or apis/group/version
    if len(parts) >= 2 and parts[0] == "namespaces" and len(parts) > 2:
        parts = parts[2:]
    if not parts:
        return "", False
    resource = parts[0]
    named = len(parts) >= 2
    if len(parts) >= 3:
        resource = f"{resource}/{parts[2]}"
    return resource, named


def _decode(raw: bytes) -> Any:
    """A response body as JSON; a body that is not JSON becomes ``{"message": its text}``."""
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {"message": raw.decode(errors="replace").strip()}


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


def bearer_token(cfg: k8s_client.Configuration) -> str | None:
    token = cfg.api_key.get("BearerToken") or cfg.api_key.get("authorization")
    return str(token).removeprefix("Bearer ").strip() if token else None


class KubeClient:
    """JSON over one aiohttp session; build with ``await KubeClient.connect()``."""

    def __init__(self, cfg: k8s_client.Configuration, *, max_connections: int = 100) -> None:
        self._cfg = cfg
        self.host = str(cfg.host or "").rstrip("/")
        self.counts = RequestCounts()
        ctx: ssl.SSLContext | bool
        if cfg.verify_ssl:
            ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert) if cfg.ssl_ca_cert else True
        else:
            ctx = False
        if cfg.cert_file and isinstance(ctx, ssl.SSLContext):
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
        elif cfg.cert_file:
            ctx = ssl.create_default_context()
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
        self._ssl = ctx
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, ssl=ctx),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=None),
        )
        self.max_retries = 5
        # When the last request other than an Event started: Events yield to the operator's own work.
        self.last_work = 0.0
        self._default_timeout = aiohttp.ClientTimeout(total=30.0)

    @classmethod
    async def connect(cls, kubeconfig: str | None = None) -> KubeClient:
        return cls(await load_configuration(kubeconfig))

    @property
    def configuration(self) -> k8s_client.Configuration:
        return self._cfg

    async def close(self) -> None:
        await self._session.close()

    async def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        hook: Any = self._cfg.refresh_api_key_hook
        if hook is not None:
            result = hook(self._cfg)
            if inspect.isawaitable(result):
                await result
        token = bearer_token(self._cfg)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

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
        resource, named = _resource(path)
        verb = _verb(method, params, named)
        if resource != "events":
            self.last_work = time.monotonic()
        headers = await self._headers()
        client_timeout = self._default_timeout if timeout == 30.0 else aiohttp.ClientTimeout(total=timeout)
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body, separators=(",", ":"))
        delay = 0.2
        for attempt in range(self.max_retries + 1):
            try:
                async with self._session.request(
                    method,
                    self.host + path,
                    params=params,
                    data=data,
                    headers=headers,
                    timeout=client_timeout,
                ) as resp:
                    self.counts.add(verb, resource, resp.status)
                    payload = _decode(await resp.read())
                    if resp.status < 400:
                        return payload if isinstance(payload, dict) else {"items": payload}
                    if resp.status in RETRY_STATUSES and attempt < self.max_retries:
                        retry_after = resp.headers.get("Retry-After")
                        wait = float(retry_after) if retry_after and retry_after.isdigit() else delay
                        await asyncio.sleep(min(wait, 10.0) * (0.8 + 0.4 * random.random()))
                        delay = min(delay * 2, 5.0)
                        continue
                    raise ApiError(
                        resp.status, resp.reason or "", payload if isinstance(payload, dict) else {}
                    )
            except (TimeoutError, aiohttp.ClientConnectionError) as exc:
                self.counts.add(verb, resource, 0)
                if attempt >= self.max_retries:
                    raise ApiError(0, f"connection failed: {exc!r}") from exc
                await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
                delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")  # pragma: no cover

    async def watch(
        self, path: str, params: Mapping[str, str], read_timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        """One watch stream: yield its events (decoded JSON lines) until the server ends it.

        No retries here: the caller (``kube.watch.Informer``) decides whether to resume or to re-list.
        A line may be longer than aiohttp's ``readline`` limit (a pod with large annotations), so the
        stream is split into lines by hand.
        """
        resource, _ = _resource(path)
        query = {**params, "watch": "true"}
        headers = await self._headers()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=read_timeout)
        async with self._session.get(
            self.host + path, params=query, headers=headers, timeout=timeout
        ) as resp:
            self.counts.add("watch", resource, resp.status)
            if resp.status >= 400:
                payload = _decode(await resp.read())
                raise ApiError(resp.status, resp.reason or "", payload if isinstance(payload, dict) else {})
            pending = b""
            async for chunk in resp.content.iter_any():
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
            if pending.strip():
                yield json.loads(pending)

    async def get(self, path: str, **params: str) -> dict[str, Any]:
        return await self.request("GET", path, params=params or None)

    async def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.request("POST", path, body=body)

    async def merge_patch(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.request("PATCH", path, body=body, content_type="application/merge-patch+json")

    async def delete(self, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self.request("DELETE", path, body=body)
