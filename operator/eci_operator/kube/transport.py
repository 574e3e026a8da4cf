"""How requests reach an API server: a small Transport protocol, and the aiohttp one for real clusters.

``KubeClient`` speaks JSON, counts and retries; the transport only moves bytes. The seam is what lets the
handler tests run the operator against ``kube.memory.ApiServer`` (in the spirit of httpx's
``MockTransport``) with no cluster, and the real one against any cluster a kubeconfig names.
"""

from __future__ import annotations

import contextlib
import inspect
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from kubernetes_asyncio import client as k8s_client


class TransportError(Exception):
    """No answer: the connection failed or timed out (the client retries these)."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # e.g. /api/v1/namespaces/ns/pods/p/status
    params: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str = "application/json"
    timeout: float = 30.0


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class Stream(Protocol):
    """An open streaming answer (a watch): its status line, then its body piece by piece."""

    @property
    def status(self) -> int: ...
    @property
    def reason(self) -> str: ...
    async def read(self) -> bytes: ...
    def chunks(self) -> AsyncIterator[bytes]: ...


class Transport(Protocol):
    async def send(self, request: Request) -> Response:
        """One request, one whole answer; raises TransportError when there is no answer."""
        ...

    def stream(self, request: Request, read_timeout: float) -> AbstractAsyncContextManager[Stream]:
        """A streaming request (watch); the context closes it."""
        ...

    async def close(self) -> None: ...


def bearer_token(cfg: k8s_client.Configuration) -> str | None:
    token = cfg.api_key.get("BearerToken") or cfg.api_key.get("authorization")
    return str(token).removeprefix("Bearer ").strip() if token else None


def ssl_context(cfg: k8s_client.Configuration) -> ssl.SSLContext | bool:
    """TLS settings of a kubeconfig: its CA (or the system's), its client certificate, or no checks."""
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
    return ctx


class _AiohttpStream:
    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp

    @property
    def status(self) -> int:
        return self._resp.status

    @property
    def reason(self) -> str:
        return self._resp.reason or ""

    async def read(self) -> bytes:
        return await self._resp.read()

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TransportError(repr(exc)) from exc


class AiohttpTransport:
    """One pooled aiohttp session to the cluster of a kubeconfig (every auth method it supports)."""

    def __init__(self, cfg: k8s_client.Configuration, *, max_connections: int = 100) -> None:
        self.cfg = cfg
        self.host = str(cfg.host or "").rstrip("/")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, ssl=ssl_context(cfg)),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=None),
        )
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    async def _headers(self, request: Request | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        hook: Any = self.cfg.refresh_api_key_hook
        if hook is not None:
            result = hook(self.cfg)
            if inspect.isawaitable(result):
                await result
        token = bearer_token(self.cfg)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if request is not None and request.body is not None:
            headers["Content-Type"] = request.content_type
        return headers

    async def send(self, request: Request) -> Response:
        timeout = self._timeouts.setdefault(request.timeout, aiohttp.ClientTimeout(total=request.timeout))
        try:
            async with self._session.request(
                request.method,
                self.host + request.path,
                params=dict(request.params) or None,
                data=request.body,
                headers=await self._headers(request),
                timeout=timeout,
            ) as resp:
                return Response(resp.status, resp.reason or "", await resp.read(), dict(resp.headers))
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise TransportError(repr(exc)) from exc

    @contextlib.asynccontextmanager
    async def stream(self, request: Request, read_timeout: float) -> AsyncIterator[Stream]:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=read_timeout)
        try:
            async with self._session.get(
                self.host + request.path,
                params=dict(request.params),
                headers=await self._headers(),
                timeout=timeout,
            ) as resp:
                yield _AiohttpStream(resp)
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise TransportError(repr(exc)) from exc

    async def close(self) -> None:
        await self._session.close()
