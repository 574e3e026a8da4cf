"""Kopf runs the operator process: credentials, start-up, clean-up and the liveness endpoint.

Kopf watches nothing here: every kind goes through our own informers (``handlers.operator``), whose
events only feed caches and a work queue, so every write the operator makes is one of its own, counted
and deliberate (no progress annotations, no finalizers, no diff-base storage). Start-up wires the parts:
the API client, the simulated runtime, the operator, the kubelet endpoints, metrics and the webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf
import structlog

from eci_operator.handlers import admission
from eci_operator.handlers.kubelet import KubeletServer
from eci_operator.handlers.kubelet_resources import ResourceEndpoints
from eci_operator.handlers.leader import ElectionConfig, LeaderElector, default_namespace
from eci_operator.handlers.metrics import serve as serve_metrics
from eci_operator.handlers.operator import Operator
from eci_operator.handlers.settings import Settings
from eci_operator.kube.client import KubeClient, load_configuration
from eci_operator.kube.transport import bearer_token
from eci_operator.runtime.simulated import SimulatedRuntime

log = structlog.get_logger("eci_operator.app")
registry = kopf.OperatorRegistry()


@kopf.on.login(registry=registry)
async def login(memo: Any, **_: Any) -> kopf.ConnectionInfo:
    """Kopf's own API calls use the same credentials as our client (kubernetes_asyncio's loaders)."""
    cfg = await load_configuration(getattr(memo, "kubeconfig", None))
    token = bearer_token(cfg)
    return kopf.ConnectionInfo(
        server=str(cfg.host),
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
        scheme="Bearer" if token else None,
        token=token,
    )


@kopf.on.startup(registry=registry)
async def startup(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    settings.posting.level = logging.WARNING
    op_settings: Settings = getattr(memo, "settings", None) or Settings()
    client = await KubeClient.connect(getattr(memo, "kubeconfig", None))
    runtime = SimulatedRuntime()
    op = Operator(client, runtime, op_settings)
    memo.operator = op
    resources = ResourceEndpoints(op.usage, runtime, op.caches.pods, op.caches.nodes)
    kubelet = KubeletServer(
        runtime,
        op.caches.pods,
        op_settings.node_address,
        resources=resources,
        socket_dir=op_settings.kubelet_socket_dir,
    )
    await kubelet.start()
    op.nodes.serve_ports = kubelet.ensure_ports
    memo.kubelet = kubelet
    if op_settings.metrics_port:
        serve_metrics(op, op_settings.metrics_port, op_settings.metrics_address)
    if not op_settings.leader_elect:
        memo.admission = await admission.start(op.caches, client, op_settings)  # before any node is Ready
        await op.start()
        log.info("operator.started", workers=op_settings.workers, address=op_settings.node_address)
        return
    elector = LeaderElector(client, op.clock, election_config(op_settings))
    # Every replica serves the webhooks; behind a Service they share one certificate (a Secret, created
    # once by whichever replica comes first: the one write a standby makes, before the fence is up).
    memo.admission = await admission.start(op.caches, client, op_settings, register_now=False)
    client.write_fence = elector.may_write  # from here on, only the leader's writes are sent
    memo.elector = elector
    await op.watch()
    memo.election = asyncio.create_task(_elect_and_lead(memo, elector, op), name="eci-election")
    log.info("operator.standby", identity=elector.identity, lease=elector.path)


def election_config(settings: Settings) -> ElectionConfig:
    return ElectionConfig(
        namespace=settings.leader_election_namespace or default_namespace(),
        name=settings.leader_election_name,
        identity=settings.leader_election_identity or "",
        lease_duration=settings.leader_election_lease_duration,
        renew_deadline=settings.leader_election_renew_deadline,
        retry_period=settings.leader_election_retry_period,
    )


async def _elect_and_lead(memo: Any, elector: LeaderElector, op: Operator) -> None:
    """Wait for the Lease, then lead: webhook configurations, adoption, reconciles. Lost: stop the process."""
    started = asyncio.Event()
    running = asyncio.create_task(elector.run(started), name="eci-elector")
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if started.is_set():
        await admission.claim(getattr(memo, "admission", None), op.client)  # before any node is Ready
        await op.lead()
        log.info("operator.leading", identity=elector.identity, workers=op.settings.workers)
    await running
    if not getattr(memo, "stopping", False):
        memo.lost_leadership = True  # client-go's callers exit here; a restart comes back as a standby
        stop_flag = getattr(memo, "stop_flag", None)
        if stop_flag is not None:
            stop_flag.set()


@kopf.on.cleanup(registry=registry)
async def cleanup(memo: Any, **_: Any) -> None:
    op: Operator = memo.operator
    memo.stopping = True
    await op.stop()
    elector: LeaderElector | None = getattr(memo, "elector", None)
    if elector is not None:
        await elector.release()  # after the last write: the standby takes over at its next retry
    election: asyncio.Task[None] | None = getattr(memo, "election", None)
    if election is not None:
        election.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await election
    await admission.stop(getattr(memo, "admission", None))
    kubelet: KubeletServer | None = getattr(memo, "kubelet", None)
    if kubelet is not None:
        await kubelet.stop()
    await op.client.close()
    refused = sum(n for (_, _, code), n in op.client.counts.by_key.items() if code == -1)
    log.info(
        "operator.stopped",
        processed=op.queue.processed,
        requests=op.client.counts.by_verb(),
        refused_writes=refused,  # refused unsent by the leader election fence
    )
