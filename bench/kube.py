"""The harness's own Kubernetes client: plain JSON over aiohttp, counted, and a cheap pod watch.

The benchmark creates and deletes thousands of pods and follows every change to them, on the same two cores
as the controller it measures, so this side must cost as little CPU as possible: requests are sent as
prebuilt JSON with bounded concurrency (one aiohttp session, a connection pool), and the watch scans each
event's raw bytes and parses JSON only for the few events that can change what it records (a pod's first
appearance, its first Ready, its first deletionTimestamp, its deletion). Every request the harness makes
is counted by (verb, resource) so that it can be subtracted from the API server's own counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import ssl
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import yaml


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


def _ssl_context(kubeconfig: Path) -> tuple[str, ssl.SSLContext, dict[str, str]]:
    """Server URL, TLS context and headers from a kubeconfig (client certificates or a bearer token)."""
    cfg = yaml.safe_load(kubeconfig.read_text())
    current = cfg.get("current-context")
    ctx_entry = next(c for c in cfg["contexts"] if c["name"] == current)["context"]
    cluster = next(c for c in cfg["clusters"] if c["name"] == ctx_entry["cluster"])["cluster"]
    user = next(u for u in cfg["users"] if u["name"] == ctx_entry["user"])["user"]
    ctx = ssl.create_default_context(cafile=cluster.get("certificate-authority"))
    if user.get("client-certificate"):
        ctx.load_cert_chain(user["client-certificate"], user["client-key"])
    headers = {"Accept": "application/json"}
    if user.get("token"):
        headers["Authorization"] = f"Bearer {user['token']}"
    return str(cluster["server"]).rstrip("/"), ctx, headers


class Api:
    """JSON requests with a connection pool; ``counts`` holds what this client sent, by (verb, resource)."""

    def __init__(self, kubeconfig: Path, *, connections: int = 64) -> None:
        self.host, self._ssl, self._headers = _ssl_context(kubeconfig)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self.counts: Counter[tuple[str, str]] = Counter()

    async def __aenter__(self) -> Api:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._connections, ssl=self._ssl),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            headers=self._headers,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use `async with Api(...)`"
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        ok: Iterable[int] = (),
        resource: str = "",
    ) -> dict[str, Any]:
        """One request; 409/404 etc. are raised as ApiError unless listed in ``ok``. Retries 429/5xx."""
        data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else None
        self.counts[(method.upper(), resource or _resource_of(path))] += 1
        for attempt in range(8):
            async with self.session.request(
                method, self.host + path, data=data, params=params, headers=headers
            ) as resp:
                raw = await resp.read()
                if resp.status < 400 or resp.status in ok:
                    return json.loads(raw) if raw else {}
                if resp.status in (429, 500, 503, 504) and attempt < 7:
                    await asyncio.sleep(0.1 * 2**attempt)
                    continue
                raise ApiError(resp.status, raw.decode(errors="replace")[:300])
        raise AssertionError("unreachable")

    async def get(self, path: str, **params: str) -> dict[str, Any]:
        return await self.request("GET", path, params=params or None)

    async def metrics_text(self) -> str:
        """The API server's own Prometheus text (the admin client may read /metrics)."""
        async with self.session.get(self.host + "/metrics") as resp:
            return await resp.text()


def _resource_of(path: str) -> str:
    parts = [p for p in path.split("?")[0].split("/") if p]
    parts = parts[2:] if parts[:1] == ["api"] else parts[3:]
    if len(parts) > 2 and parts[0] == "namespaces":
        parts = parts[2:]
    if not parts:
        return ""
    return parts[0] + (f"/{parts[2]}" if len(parts) >= 3 else "")


async def bounded(jobs: Iterable[Callable[[], Any]], concurrency: int) -> None:
    """Run coroutine factories with at most ``concurrency`` in flight (a fixed pool of workers)."""
    it = iter(jobs)

    async def worker() -> None:
        for job in it:
            await job()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


# ------------------------------------------------------------------------------------------------ the watch
_NAME = re.compile(rb'"metadata":\{"name":"([^"]+)"')
_RV = re.compile(rb'"resourceVersion":"(\d+)"')


class PodTracker:
    """Follows every pod of one namespace through a watch and records when each was first seen, first seen
    Ready, first seen with a deletionTimestamp, and seen deleted (``time.monotonic()`` seconds)."""

    def __init__(self, api: Api, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.first_seen: dict[str, float] = {}
        self.ready_at: dict[str, float] = {}
        self.deleting_at: dict[str, float] = {}
        self.deleted_at: dict[str, float] = {}
        self.events = 0
        self.parsed = 0
        self._rv = ""
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        listing = await self.api.get(f"/api/v1/namespaces/{self.namespace}/pods", limit="1")
        self._rv = listing["metadata"]["resourceVersion"]
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(ready), name=f"watch-{self.namespace}")
        await asyncio.wait([self._task, asyncio.create_task(ready.wait())], timeout=30)
        self.check()

    def check(self) -> None:
        """Raise what broke the watch, if it broke."""
        if self._task is not None and self._task.done():
            self._task.result()
            raise RuntimeError(f"the watch on {self.namespace} ended")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def live(self) -> int:
        return len(self.first_seen) - len(self.deleted_at)

    async def _run(self, ready: asyncio.Event) -> None:
        path = self.api.host + f"/api/v1/namespaces/{self.namespace}/pods"
        while True:
            params = {
                "watch": "1",
                "resourceVersion": self._rv,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": "3600",
            }
            self.api.counts[("WATCH", "pods")] += 1
            async with self.api.session.get(path, params=params) as resp:
                if resp.status >= 400:
                    raise ApiError(resp.status, (await resp.read()).decode(errors="replace")[:300])
                ready.set()
                buf = b""
                async for chunk in resp.content.iter_any():
                    buf += chunk
                    if b"\n" not in chunk:
                        continue
                    *lines, buf = buf.split(b"\n")
                    now = time.monotonic()
                    for line in lines:
                        if line:
                            self._line(line, now)

    def _line(self, line: bytes, now: float) -> None:
        self.events += 1
        head = line[:40]
        if head.startswith(b'{"type":"BOOKMARK"') or head.startswith(b'{"type":"ERROR"'):
            if head.startswith(b'{"type":"ERROR"'):
                raise ApiError(410, line[:300].decode(errors="replace"))
            m = _RV.search(line)
            if m:
                self._rv = m.group(1).decode()
            return
        m = _NAME.search(line, 0, 400)
        if m is None:  # not the layout we expect: parse it properly
            obj = json.loads(line)["object"]
            name = obj["metadata"]["name"]
            self._rv = obj["metadata"]["resourceVersion"]
        else:
            name = m.group(1).decode()
            rv = _RV.search(line)
            if rv:
                self._rv = rv.group(1).decode()
        self.first_seen.setdefault(name, now)
        if head.startswith(b'{"type":"DELETED"'):
            self.deleted_at.setdefault(name, now)
            return
        if name not in self.deleting_at and b'"deletionTimestamp"' in line:
            self.deleting_at[name] = now
        if name not in self.ready_at and b'"Ready"' in line:
            self.parsed += 1
            obj = json.loads(line)["object"]
            for cond in (obj.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "Ready" and cond.get("status") == "True":
                    self.ready_at[name] = now
                    break
