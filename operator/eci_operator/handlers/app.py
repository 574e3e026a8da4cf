"""The wiring: watch events feed the caches and the work queue; start-up and clean-up.

Kopf runs the operator and watches the few, slow-changing kinds: profiles, nodes (server-side filtered to
the ones carrying our profile label) and namespaces, with ``@kopf.on.event`` handlers only: they write
nothing by themselves (no progress annotations, no finalizers), so every write the operator makes is one
of its own, counted and deliberate. Pods (server-side filtered to bound ones, ``spec.nodeName!=``) and
ContainerGroups, two to four events per pod, are watched by ``kube.watch.Informer``: the same list-then-
watch, at a fraction of Kopf's CPU per event (README, "Architecture").
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any, cast

import kopf
import structlog
from pydantic import ValidationError

from eci_operator.domain.nodes import PROFILE_LABEL
from eci_operator.domain.profiles import validate_profile
from eci_operator.handlers import admission, instruments
from eci_operator.handlers.kubelet import KubeletServer
from eci_operator.handlers.metrics import serve as serve_metrics
from eci_operator.handlers.nodes import lease_loop, reconcile_nodes
from eci_operator.handlers.pods import adopt_recorded, reconcile_pod
from eci_operator.handlers.state import NODES_KEY, Settings, State, key_of
from eci_operator.handlers.workqueue import WorkQueue
from eci_operator.kube import paths
from eci_operator.kube.client import ApiError, KubeClient, bearer_token, load_configuration
from eci_operator.kube.events import EventPoster
from eci_operator.kube.watch import Informer
from eci_operator.models.profile import ECIProfile
from eci_operator.runtime.protocol import Key
from eci_operator.runtime.simulated import SimulatedRuntime

log = structlog.get_logger("eci_operator.app")
registry = kopf.OperatorRegistry()
RELIST_BUSY_THRESHOLD = 200  # keys in the queue above which a periodic relist waits for the next round
GROUP, VERSION = "eci.ask.dev", "v1alpha1"


class NoDiffBase(kopf.DiffBaseStorage):
    """Kopf's diff base for an operator with ``@kopf.on.event`` handlers only: an empty essence.

    Kopf builds an object's "essence" (a deep copy of the body without status and most metadata) for every
    watch event, to detect changes for ``on.create/update`` handlers; this operator has none, so the copy
    is never used. Under the benchmark it was ~10% of the operator's CPU (py-spy, 500 pods): building
    nothing and storing nothing leaves every event handler as it was.
    """

    def build(self, *, body: Any, extra_fields: Any = None) -> Any:
        return {}

    def fetch(self, *, body: Any) -> Any:
        return None

    def store(self, *, body: Any, patch: Any, essence: Any) -> None:
        return None


class Operator:
    """What one running operator holds (kept in Kopf's memo as ``memo.operator``)."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.queue: WorkQueue[Key] = WorkQueue(self._process, workers=state.settings.workers)
        self.tasks: list[asyncio.Task[None]] = []
        self.kubelet: KubeletServer | None = None
        client = state.client
        self.pod_informer = Informer(
            client,
            "Pod",
            paths.pods(),
            params={"fieldSelector": "spec.nodeName!="},
            on_event=lambda kind, body: self.on_pod(body, deleted=kind == "DELETED"),
            on_list=lambda items, rv: self.on_listing("Pod", items, rv),
        )
        self.group_informer = Informer(
            client,
            "ContainerGroup",
            paths.container_groups(),
            on_event=self.on_group,
            on_list=lambda items, rv: self.on_listing("ContainerGroup", items, rv),
        )

    async def _process(self, key: Key) -> None:
        await self.state.synced.wait()
        try:
            if key == NODES_KEY:
                await reconcile_nodes(self.state)
            else:
                await reconcile_pod(self.state, key)
        except ApiError as exc:
            instruments.RECONCILE_ERRORS.labels(f"api-{exc.status}").inc()
            raise
        except Exception as exc:
            instruments.RECONCILE_ERRORS.labels(type(exc).__name__).inc()
            raise

    def on_pod(self, body: dict[str, Any], deleted: bool) -> None:
        key = key_of(body)
        node = (body.get("spec") or {}).get("nodeName")
        if deleted:
            self.state.pods.drop(key, str(body.get("metadata", {}).get("uid")))
            self.state.warned_edits.discard(key)
            if node and ("", node) in self.state.nodes.items:
                self.queue.add(key)
                if node not in self.state.served_zones:
                    self.queue.add(NODES_KEY)  # a retiring node may now be empty
            return
        if not node or ("", node) not in self.state.nodes.items:
            return
        self.state.pods.put(key, body)
        self.queue.add(key)

    def on_group(self, kind: str, body: dict[str, Any]) -> None:
        key = key_of(body)
        state = self.state
        if kind == "DELETED":
            state.groups.drop(key, str(body["metadata"].get("uid")))
            # The group is gone for good: forget what was remembered about it (bounded memory).
            state.billed.discard(str(body["metadata"].get("uid")))
            state.deleted_pods.pop(str((body.get("spec") or {}).get("podUid")), None)
            pod = state.pods.get(key)
            if pod is not None and pod["metadata"].get("uid") == body.get("spec", {}).get("podUid"):
                self.queue.add(key)  # deleted by hand while its pod lives: the pod's reconcile decides
            return
        state.groups.put(key, body)
        if state.pods.get(key) is None:
            self.queue.add(key)

    def on_listing(self, kind: str, items: list[dict[str, Any]], list_rv: int) -> None:
        """A fresh list of pods or groups: take every item, and drop what the list no longer has.

        An object absent from the list is dropped only if the cache's copy is older than the list, so an
        object created after the list was taken is never dropped.
        """
        cache = self.state.pods if kind == "Pod" else self.state.groups
        seen = set()
        for item in items:
            seen.add(key_of(item))
            if kind == "Pod":
                self.on_pod(item, deleted=False)
            else:
                self.on_group("ADDED", item)
        for key, body in list(cache.items.items()):
            if key not in seen and int(body.get("metadata", {}).get("resourceVersion") or 0) <= list_rv:
                cache.drop(key)
                self.queue.add(key)
                log.info("cache.missed_deletion", kind=kind, namespace=key[0], name=key[1])

    async def initial_sync(self) -> None:
        """Fill the caches before any reconcile, so nothing is decided on a partial view."""
        client, state = self.state.client, self.state
        for item in (await client.get(paths.profiles())).get("items", []):
            self.put_profile(item)
        for item in (await client.get(paths.nodes(), labelSelector=PROFILE_LABEL)).get("items", []):
            state.nodes.put(key_of(item), item)
        for item in (await client.get(paths.namespaces())).get("items", []):
            state.namespace_labels[item["metadata"]["name"]] = item["metadata"].get("labels") or {}
        await self.group_informer.list()
        await self.pod_informer.list()
        adopted = await adopt_recorded(state)
        self.queue.add(NODES_KEY)
        for key in list(state.groups.items):
            if state.pods.get(key) is None:
                self.queue.add(key)  # an orphan (its pod is gone): clean it up
        state.synced.set()
        log.info(
            "operator.synced",
            profiles=len(state.profiles),
            nodes=len(state.nodes.items),
            pods=len(state.pods.items),
            groups=len(state.groups.items),
            adopted=adopted,
        )

    def put_profile(self, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        try:
            profile = ECIProfile.model_validate(body)
        except ValidationError as exc:
            message = str(exc).replace("\n", " ")
            self.state.invalid_profiles[name] = message
            log.error("profile.invalid", profile=name, error=message)
            return
        problems = validate_profile(profile.spec)
        if problems:
            # As ASK with a malformed eci-profile: it does not take effect; the last good version stays.
            message = "; ".join(str(p) for p in problems)
            self.state.invalid_profiles[name] = message
            log.error("profile.invalid", profile=name, error=message)
            self.state.profile_bodies[name] = body
            return
        self.state.invalid_profiles.pop(name, None)
        self.state.profiles[name] = profile
        self.state.profile_bodies[name] = body
        self.state.runtime.configure(profile.spec)  # zones, stock: outages fail groups, waiting ones retry

    async def relist_profiles(self) -> None:
        """List profiles again: heals a profile deleted between the first list and Kopf's watch.

        Pods and groups need no such pass: their informers watch from their own list's resourceVersion and
        list again after a 410, dropping what disappeared meanwhile (``on_listing``).
        """
        state = self.state
        listed = (await state.client.get(paths.profiles())).get("items", [])
        names = {item["metadata"]["name"] for item in listed}
        for item in listed:
            known = state.profile_bodies.get(item["metadata"]["name"])
            if known is None or known["metadata"].get("generation") != item["metadata"].get("generation"):
                self.put_profile(item)
                self.queue.add(NODES_KEY)
        for name in [n for n in state.profile_bodies if n not in names]:
            state.profiles.pop(name, None)
            state.profile_bodies.pop(name, None)
            state.invalid_profiles.pop(name, None)
            log.info("cache.missed_deletion", kind="ECIProfile", name=name)
            self.queue.add(NODES_KEY)

    async def resync_loop(self) -> None:
        """Periodically look at everything again: re-asserts status after a NotReady blip, cleans orphans."""
        while True:
            await asyncio.sleep(self.state.settings.resync_seconds)
            if len(self.queue) > RELIST_BUSY_THRESHOLD:
                log.info("resync.deferred", queued=len(self.queue))  # a burst is under way: look next time
                continue
            try:
                await self.relist_profiles()
            except Exception as exc:
                log.warning("resync.failed", error=repr(exc))
            self.queue.add(NODES_KEY)
            for key in list(self.state.pods.items):
                self.queue.add(key)
            now = dt.datetime.now(dt.UTC)
            grace = dt.timedelta(seconds=self.state.settings.orphan_grace_seconds)
            for key, group in list(self.state.groups.items.items()):
                created = group.get("metadata", {}).get("creationTimestamp")
                if self.state.pods.get(key) is None and created:
                    when = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
                    if now - when > grace:
                        self.queue.add(key)


def _operator(memo: Any) -> Operator:
    op: Operator = memo.operator
    return op


@kopf.on.login(registry=registry)
async def login(memo: Any, **_: Any) -> kopf.ConnectionInfo:
    """Kopf's own watches use the same credentials as our client (kubernetes_asyncio's loaders)."""
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
    settings.watching.field_selectors["pods"] = "spec.nodeName!="
    settings.watching.label_selectors["nodes"] = PROFILE_LABEL
    settings.watching.server_timeout = 300
    settings.batching.batch_window = 0.01
    settings.persistence.diffbase_storage = NoDiffBase()  # no on.create/update handlers: no diffs needed
    op_settings: Settings = getattr(memo, "settings", None) or Settings()
    client = await KubeClient.connect(getattr(memo, "kubeconfig", None))
    runtime = SimulatedRuntime()
    state = State(client=client, runtime=runtime, events=EventPoster(client), settings=op_settings)
    op = Operator(state)
    memo.operator = op
    runtime.subscribe(op.queue.add)
    state.wake_nodes = lambda: op.queue.add(NODES_KEY)
    kubelet = KubeletServer(state)
    await kubelet.start()
    state.serve_kubelet_ports = kubelet.ensure_ports
    op.kubelet = kubelet
    state.events.start()
    state.billing.start()
    op.queue.start()
    if op_settings.metrics_port:
        serve_metrics(state, op.queue, op_settings.metrics_port, op_settings.metrics_address)
    memo.admission = await admission.start(state)  # registered before any virtual node reports Ready
    await op.initial_sync()
    op.tasks.append(asyncio.create_task(op.pod_informer.run(), name="eci-watch-pods"))
    op.tasks.append(asyncio.create_task(op.group_informer.run(), name="eci-watch-groups"))
    op.tasks.append(asyncio.create_task(lease_loop(state), name="eci-leases"))
    op.tasks.append(asyncio.create_task(op.resync_loop(), name="eci-resync"))
    log.info("operator.started", workers=op_settings.workers, address=op_settings.node_address)


@kopf.on.cleanup(registry=registry)
async def cleanup(memo: Any, **_: Any) -> None:
    op = _operator(memo)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            await op.queue.drain()  # finish in-flight writes
    await op.queue.stop()
    await admission.stop(getattr(memo, "admission", None))
    await op.state.billing.stop()
    if op.kubelet is not None:
        await op.kubelet.stop()
    for task in op.tasks:
        task.cancel()
    await op.state.events.stop()
    await op.state.client.close()
    log.info("operator.stopped", processed=op.queue.processed, requests=op.state.client.counts.by_verb())


@kopf.on.event(GROUP, VERSION, "eciprofiles", registry=registry)
async def profile_event(event: kopf.RawEvent, memo: Any, **_: Any) -> None:
    op = _operator(memo)
    body = cast(dict[str, Any], event["object"])
    name = body["metadata"]["name"]
    if event["type"] == "DELETED":
        op.state.profiles.pop(name, None)
        op.state.profile_bodies.pop(name, None)
        op.state.invalid_profiles.pop(name, None)
    else:
        known = op.state.profile_bodies.get(name)
        if known is not None and (known.get("metadata") or {}).get("generation") == body["metadata"].get(
            "generation"
        ):
            op.state.profile_bodies[name] = body  # only the status changed (our own write)
            return
        op.put_profile(body)
    op.queue.add(NODES_KEY)


@kopf.on.event("nodes", registry=registry)
async def node_event(event: kopf.RawEvent, memo: Any, **_: Any) -> None:
    op = _operator(memo)
    body = cast(dict[str, Any], event["object"])
    key = key_of(body)
    if event["type"] == "DELETED":
        op.state.nodes.drop(key, str(body["metadata"].get("uid")))
        if key[1] in op.state.served_zones:
            op.queue.add(NODES_KEY)  # somebody deleted a node we serve: put it back
        return
    op.state.nodes.put(key, body)
    if key[1] in op.state.served_zones:
        # e.g. the node-lifecycle controller marked it NotReady after a stall: reassert (a no-op otherwise)
        op.queue.add(NODES_KEY)


@kopf.on.event("namespaces", registry=registry)
async def namespace_event(event: kopf.RawEvent, memo: Any, **_: Any) -> None:
    op = _operator(memo)
    meta = event["object"]["metadata"]
    if event["type"] == "DELETED":
        op.state.namespace_labels.pop(meta["name"], None)
    else:
        op.state.namespace_labels[meta["name"]] = dict(meta.get("labels") or {})
