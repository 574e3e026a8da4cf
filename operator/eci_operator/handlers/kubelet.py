"""The kubelet API of the virtual nodes: ``kubectl logs`` works; exec, attach, port-forward answer at once.

The apiserver reaches a node's kubelet at its InternalIP and ``daemonEndpoints.kubeletEndpoint.Port`` over
TLS with its kubelet client certificate (``--kubelet-client-certificate``; the local control plane sets
it). Each virtual node has a port of its own, all served by one aiohttp application: the pod is found by
namespace and name, whatever the port. The serving certificate comes from ``eci_operator.certs``; the
apiserver does not verify kubelet serving certificates unless ``--kubelet-certificate-authority`` is set.
Pods' output is fictional: the simulated runtime's lifecycle lines and the pod's ``eci.ask.dev/stdout``.
The resource endpoints (``/metrics/resource``, ``/stats/summary``, ``/pods``, ``/runningpods/``) are
``handlers.kubelet_resources``.
"""

from __future__ import annotations

import contextlib
import ipaddress
from pathlib import Path

import structlog
from aiohttp import web

from eci_operator import certs
from eci_operator.domain.bodies import spec_of
from eci_operator.domain.kubetime import nano_time
from eci_operator.handlers.kubelet_resources import ResourceEndpoints
from eci_operator.handlers.store import Store
from eci_operator.runtime.protocol import LogEntry, Runtime

log = structlog.get_logger("eci_operator.kubelet")
UNSUPPORTED = (
    "exec",
    "attach",
    "portForward",
    "run",
    "stats",
    "metrics",
    "checkpoint",
    "cri",
    "pods",
    "spec",
)


def _line(entry: LogEntry, timestamps: bool) -> bytes:
    text = f"{nano_time(entry.at)} {entry.text}\n" if timestamps else f"{entry.text}\n"
    return text.encode()


class KubeletServer:
    """One HTTPS server with a listening site per virtual node port."""

    def __init__(
        self,
        runtime: Runtime,
        pods: Store,
        node_address: str,
        *,
        resources: ResourceEndpoints | None = None,
        socket_dir: str = "",
    ) -> None:
        self.runtime = runtime
        self.pods = pods
        self.app = web.Application()
        self.app.add_routes(
            [
                web.get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs),
                web.get("/healthz", self.healthz),
                *(resources.routes() if resources is not None else []),
                web.route("*", "/{verb}/{tail:.*}", self.unsupported),
            ]
        )
        self.runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=1.0)
        self.sites: dict[int, web.TCPSite] = {}
        address = node_address
        ca = certs.make_ca("eci-operator-kubelet")
        is_ip = True
        try:
            ipaddress.ip_address(address)
        except ValueError:
            is_ip = False
        pair = certs.issue_server_cert(
            ca,
            dns_names=["localhost"] + ([] if is_ip else [address]),
            ip_addresses=["127.0.0.1"] + ([address] if is_ip and address != "127.0.0.1" else []),
        )
        self.ssl = certs.server_context(pair)
        self.bind = "127.0.0.1" if address.startswith("127.") or socket_dir else "0.0.0.0"
        # The node network of the local control plane relays the nodes' address to these Unix sockets.
        self.socket_dir = Path(socket_dir) if socket_dir else None
        self.unix_sites: dict[int, web.UnixSite] = {}

    async def start(self) -> None:
        await self.runner.setup()

    async def ensure_ports(self, ports: set[int]) -> None:
        """Listen on every port in ``ports`` (new nodes) and stop listening on the others (gone nodes)."""
        for port in sorted(ports - set(self.sites)):
            site = web.TCPSite(self.runner, self.bind, port, ssl_context=self.ssl)
            try:
                await site.start()
            except OSError as exc:
                log.error("kubelet.port_unavailable", port=port, error=str(exc))
                continue
            self.sites[port] = site
            log.info("kubelet.listening", address=self.bind, port=port)
        for port in sorted(set(self.sites) - ports):
            await self.sites.pop(port).stop()
        if self.socket_dir is not None:
            await self._ensure_sockets(self.socket_dir, ports)

    async def _ensure_sockets(self, directory: Path, ports: set[int]) -> None:
        for port in sorted(ports - set(self.unix_sites)):
            path = directory / f"kubelet-{port}.sock"
            path.unlink(missing_ok=True)
            site = web.UnixSite(self.runner, str(path), ssl_context=self.ssl)
            try:
                await site.start()
            except OSError as exc:
                log.error("kubelet.socket_unavailable", path=str(path), error=str(exc))
                continue
            self.unix_sites[port] = site
            log.info("kubelet.listening", socket=str(path), port=port)
        for port in sorted(set(self.unix_sites) - ports):
            await self.unix_sites.pop(port).stop()
            (directory / f"kubelet-{port}.sock").unlink(missing_ok=True)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.runner.cleanup()

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def unsupported(self, request: web.Request) -> web.Response:
        verb = request.match_info["verb"]
        what = verb if verb in UNSUPPORTED else request.path
        return web.Response(
            status=501,
            text=f"{what} is not supported by the simulated ECI runtime (eci-operator): logs, "
            "/metrics/resource, /stats/summary, /pods and /runningpods/ are\n",
        )

    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        ns, pod, container = (request.match_info[k] for k in ("namespace", "pod", "container"))
        key = (ns, pod)
        lines = self.runtime.logs(key, container)
        if lines is None:
            return web.Response(status=404, text=f"pod {ns}/{pod} is not running on this virtual node\n")
        known = {c["name"] for c in spec_of(self.pods.get(key) or {}).get("containers", [])}
        if known and container not in known:
            return web.Response(
                status=404,
                text=f"container {container} is not in pod {ns}/{pod} (valid: {', '.join(sorted(known))})\n",
            )
        query = request.query
        timestamps = query.get("timestamps") in ("true", "1")
        follow = query.get("follow") in ("true", "1")
        tail = query.get("tailLines")
        start = 0
        if tail is not None and tail.lstrip("-").isdigit() and int(tail) >= 0:
            start = max(0, len(lines) - int(tail))
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        if not follow:
            await response.write(b"".join(_line(entry, timestamps) for entry in lines[start:]))
            await response.write_eof()
            return response
        async for entry in self.runtime.follow_logs(key, container, start):
            await response.write(_line(entry, timestamps))
        await response.write_eof()
        return response
