"""A fault-injecting HTTPS proxy between the operator and the real apiserver, on loopback.

It terminates TLS with its own certificate (trusted by the kubeconfig it writes), forwards every request to
the apiserver with the admin client certificate, and on request injects faults: 5xx answers, 429 with
Retry-After, connection resets, latency, and an ``ERROR`` event with code 410 in a watch stream. Every
injected fault is counted.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from eci_operator import certs
from helpers import free_port

Match = Callable[[str, str], bool]  # (method, path) -> bool

GONE = {
    "type": "ERROR",
    "object": {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "too old resource version (injected by the fault proxy)",
        "reason": "Expired",
        "code": 410,
    },
}


@dataclass
class Rule:
    kind: str  # "status" | "reset" | "gone"
    match: Match
    remaining: int
    status: int = 500
    retry_after: int | None = None


@dataclass
class FaultProxy:
    upstream_kubeconfig: Path
    workdir: Path
    latency: float = 0.0
    rules: list[Rule] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)
    forwarded: int = 0

    def __post_init__(self) -> None:
        cfg = yaml.safe_load(self.upstream_kubeconfig.read_text())
        cluster = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"]
        self.upstream = cluster["server"]
        ctx = ssl.create_default_context(cafile=cluster["certificate-authority"])
        ctx.load_cert_chain(user["client-certificate"], user["client-key"])
        self._upstream_ssl = ctx
        ca = certs.make_ca("eci-fault-proxy")
        pair = certs.issue_server_cert(ca, dns_names=["localhost"], ip_addresses=["127.0.0.1"])
        self._ssl = certs.server_context(pair)
        self.port = free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "proxy-ca.crt").write_bytes(ca.cert_pem)
        self.kubeconfig = self.workdir / "proxy.kubeconfig"
        self.kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": "proxy",
                            "cluster": {
                                "server": f"https://127.0.0.1:{self.port}",
                                "certificate-authority": str(self.workdir / "proxy-ca.crt"),
                            },
                        }
                    ],
                    "users": [{"name": "proxy", "user": {}}],
                    "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}],
                    "current-context": "proxy",
                }
            )
        )
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._watches: list[tuple[str, asyncio.Event]] = []

    # ----------------------------------------------------------------------------------------- faults
    def fail(self, match: Match, times: int, status: int = 500, retry_after: int | None = None) -> None:
        self.rules.append(Rule("status", match, times, status, retry_after))

    def reset(self, match: Match, times: int) -> None:
        self.rules.append(Rule("reset", match, times))

    def expire_watch(self, match: Match, times: int = 1) -> None:
        """End ``times`` matching watch streams with an ERROR 410: open ones first, then new ones."""
        for path, expire in list(self._watches):
            if times > 0 and match("GET", path) and not expire.is_set():
                expire.set()
                times -= 1
        if times > 0:
            self.rules.append(Rule("gone", match, times))

    def _take(self, kinds: tuple[str, ...], method: str, path: str) -> Rule | None:
        for rule in self.rules:
            if rule.kind in kinds and rule.remaining > 0 and rule.match(method, path):
                rule.remaining -= 1
                return rule
        return None

    # -------------------------------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self._upstream_ssl, limit=200),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            auto_decompress=False,
        )
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._ssl).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method, request.path
        if self.latency:
            await asyncio.sleep(self.latency)
        rule = self._take(("status", "reset"), method, path)
        if rule is not None and rule.kind == "reset":
            self.injected["reset"] += 1
            assert request.transport is not None
            request.transport.abort()  # connection reset, no answer at all
            return web.Response(status=500)
        if rule is not None:
            self.injected[f"http-{rule.status}"] += 1
            headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
            body = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "code": rule.status,
                "message": "injected by the fault proxy",
            }
            return web.json_response(body, status=rule.status, headers=headers)
        return await self._forward(request)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        self.forwarded += 1
        is_watch = request.query.get("watch") in ("true", "1")
        gone = self._take(("gone",), request.method, request.path) if is_watch else None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "authorization")}
        data = await request.read()
        async with self._session.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=data or None
        ) as upstream:
            response = web.StreamResponse(status=upstream.status)
            for key, value in upstream.headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    response.headers[key] = value
            await response.prepare(request)
            if not is_watch:
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
            expire = asyncio.Event()
            if gone is not None:
                asyncio.get_running_loop().call_later(0.5, expire.set)  # let the stream start first
            entry = (request.path, expire)
            self._watches.append(entry)
            try:
                while True:
                    reader = asyncio.ensure_future(upstream.content.readany())
                    waiter = asyncio.ensure_future(expire.wait())
                    done, _ = await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
                    if waiter in done:
                        reader.cancel()
                        # End it the way an apiserver does when the watch history is gone.
                        self.injected["watch-410"] += 1
                        await response.write(json.dumps(GONE).encode() + b"\n")
                        break
                    waiter.cancel()
                    chunk = reader.result()
                    if not chunk:
                        break
                    await response.write(chunk)
            finally:
                self._watches.remove(entry)
            await response.write_eof()
            return response


def path_has(*parts: str) -> Match:
    def match(method: str, path: str) -> bool:
        return all(p in path for p in parts)

    return match


def writes_to(*parts: str) -> Match:
    def match(method: str, path: str) -> bool:
        return method in ("POST", "PATCH", "PUT", "DELETE") and all(p in path for p in parts)

    return match


def describe(proxy: FaultProxy) -> dict[str, Any]:
    return {"forwarded": proxy.forwarded, "injected": dict(proxy.injected)}
