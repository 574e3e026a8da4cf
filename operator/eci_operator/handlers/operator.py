"""One running operator: the caches, the informers that feed them, the work queue and the controllers.

Built from explicit parts (a client, a runtime, a clock, settings), so the handler tests run it in-process
against ``kube.memory.ApiServer`` and ``eci-operator run`` runs it under Kopf (``handlers.app``). Every
kind is watched by ``kube.watch.Informer`` (list, then watch from the list's resourceVersion); watch events
only update a cache and enqueue a key, and the keyed work queue runs idempotent reconciles (README,
"Architecture").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from eci_operator.domain.bodies import key_of, meta_of, rv_of, spec_of, uid_of
from eci_operator.domain.kubetime import parse_time
from eci_operator.domain.references import SECRET
from eci_operator.handlers import instruments
from eci_operator.handlers.announce import Announcer
from eci_operator.handlers.ask_config import PROFILE_NAME
from eci_operator.handlers.ask_watch import VSWITCHES_KEY, AskWatch
from eci_operator.handlers.billing import BillingRecorder
from eci_operator.handlers.caches import Caches
from eci_operator.handlers.imagecaches import ImageCacheController
from eci_operator.handlers.leases import LeaseRenewer
from eci_operator.handlers.nodes import NodeController
from eci_operator.handlers.pod_create import GroupCreator
from eci_operator.handlers.pod_delete import PodFinisher
from eci_operator.handlers.pod_sync import PodSync
from eci_operator.handlers.pods import PodController
from eci_operator.handlers.references import ReferenceWatch
from eci_operator.handlers.settings import Settings
from eci_operator.handlers.store import Body, Key, Store
from eci_operator.handlers.tasks import cancel_all
from eci_operator.handlers.usage import UsageService
from eci_operator.handlers.workqueue import WorkQueue
from eci_operator.handlers.zones import ExhaustionWatch
from eci_operator.kube import paths
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import ApiError
from eci_operator.kube.events import EventPoster
from eci_operator.kube.watch import Informer
from eci_operator.models import keys
from eci_operator.runtime.clock import Clock, LoopClock
from eci_operator.runtime.protocol import Runtime

log = structlog.get_logger("eci_operator.app")
NODES_KEY: Key = ("", "__nodes__")  # the queue key under which all virtual nodes are reconciled
RELIST_BUSY_THRESHOLD = 200  # keys in the queue above which a periodic resync waits for the next round


class Operator:
    def __init__(
        self,
        client: KubeClient,
        runtime: Runtime,
        settings: Settings,
        *,
        clock: Clock | None = None,
        events: EventPoster | None = None,
    ) -> None:
        self.client, self.runtime, self.settings = client, runtime, settings
        self.clock = clock or LoopClock()
        self.caches = Caches()
        self.events = events or EventPoster(client)
        self.billing = BillingRecorder(client)
        self.queue: WorkQueue[Key] = WorkQueue(self._process, workers=settings.workers)
        self.announcer = Announcer(self.events)
        self.zones = ExhaustionWatch(runtime, lambda: self.queue.add(NODES_KEY))
        self.leases = LeaseRenewer(
            client, self.caches.nodes, self.clock, every_seconds=settings.lease_renew_seconds
        )
        self.nodes = NodeController(
            client,
            self.caches,
            runtime,
            self.leases,
            self.zones,
            self.clock,
            node_address=settings.node_address,
            kubelet_port_base=settings.kubelet_port_base,
        )
        self.finisher = PodFinisher(
            client,
            self.caches,
            runtime,
            self.billing,
            self.zones,
            self.clock,
            orphan_grace_seconds=settings.orphan_grace_seconds,
        )
        self.syncer = PodSync(client, self.caches, runtime, self.announcer, self.zones, self.clock)
        self.pods = PodController(
            client,
            self.caches,
            GroupCreator(self.syncer.writer, runtime, self.caches, self.announcer, self.clock),
            self.syncer,
            self.finisher,
            self.announcer,
            self.clock,
        )
        self._services()
        runtime.subscribe(self.queue.add)
        self.informers = self._informers()
        self.tasks: list[asyncio.Task[None]] = []
        self.leading = False  # lead() was called: the queue runs (a standby only keeps its caches warm)

    def _services(self) -> None:
        """The parts beside the pod path: ASK's configuration, usage, references, ImageCaches."""
        self.ask = AskWatch(
            self.client,
            self.caches,
            self.runtime,
            self.events,
            self.clock,
            enqueue=self.queue.add,
            nodes_changed=lambda: self.queue.add(NODES_KEY),
        )
        self.usage = UsageService(self.client, self.caches, self.runtime, self.clock, self.events)
        self.references = ReferenceWatch(self.client, self.queue.add)
        self.pods.references = self.references
        self.imagecaches = ImageCacheController(
            self.client,
            self.caches.profiles,
            self.caches.imagecaches,
            self.events,
            self.clock,
            secret_exists=lambda namespace, name: self.references.exists(namespace)(SECRET, name),
        )
        self.pods.creator.want_cache = self.imagecaches.want  # ECI's automatic ImageCaches

    def _informers(self) -> list[Informer]:
        """One informer per kind: pods (bound ones), ContainerGroups, our nodes, profiles, namespaces, and
        ASK's own configuration (VSwitches; the eci-profile ConfigMap unless turned off)."""
        return [
            self._informer(
                "Pod", paths.pods(), self.on_pod, self.caches.pods, {"fieldSelector": "spec.nodeName!="}
            ),
            self._informer("ContainerGroup", paths.container_groups(), self.on_group, self.caches.groups),
            self._informer(
                "Node", paths.nodes(), self.on_node, self.caches.nodes, {"labelSelector": keys.PROFILE_LABEL}
            ),
            Informer(
                self.client,
                "ECIProfile",
                paths.profiles(),
                on_event=self.on_profile,
                on_list=self._profiles_listed,
            ),
            Informer(
                self.client,
                "Namespace",
                paths.namespaces(),
                on_event=self.on_namespace,
                on_list=self._namespaces_listed,
            ),
            self._informer(
                "ImageCache", paths.image_caches(), self.imagecaches.on_event, self.imagecaches.store
            ),
            *self.ask.informers(configmap=self.settings.ask_configmap),
        ]

    def _informer(
        self,
        kind: str,
        path: str,
        on_event: Callable[[str, Body], None],
        store: Store,
        params: dict[str, str] | None = None,
    ) -> Informer:
        return Informer(
            self.client,
            kind,
            path,
            params=params,
            on_event=on_event,
            on_list=lambda items, rv: self._listed(kind, items, rv, on_event, store),
        )

    # ---------------------------------------------------------------------------------------- the queue
    async def _process(self, key: Key) -> None:
        await self.caches.synced.wait()
        try:
            if key == NODES_KEY:
                await self.nodes.reconcile()
            elif key == VSWITCHES_KEY:
                await self.ask.status.write()
            else:
                await self.pods.reconcile(key)
        except ApiError as exc:
            instruments.RECONCILE_ERRORS.labels(f"api-{exc.status}").inc()
            raise
        except Exception as exc:
            instruments.RECONCILE_ERRORS.labels(type(exc).__name__).inc()
            raise

    # --------------------------------------------------------------------------------------- watch events
    def on_pod(self, kind: str, body: Body) -> None:
        key, node = key_of(body), spec_of(body).get("nodeName")
        ours = bool(node) and ("", node) in self.caches.nodes.items
        if kind == "DELETED":
            self.caches.pods.drop(key, uid_of(body))
            self.announcer.forget(key)
            if ours:
                self.queue.add(key)
                if node not in self.nodes.served:
                    self.queue.add(NODES_KEY)  # a retiring node may now be empty
            return
        if ours and self.caches.pods.put(key, body):  # (not the echo of our own write: nothing new)
            self.queue.add(key)

    def on_group(self, kind: str, body: Body) -> None:
        key = key_of(body)
        if kind == "DELETED":
            self.caches.groups.drop(key, uid_of(body))
            self.finisher.forget_group(body)
            pod = self.caches.pods.get(key)
            if pod is not None and uid_of(pod) == spec_of(body).get("podUid"):
                self.queue.add(key)  # deleted by hand while its pod lives: the pod's reconcile decides
            return
        self.caches.groups.put(key, body)
        if self.caches.pods.get(key) is None:
            self.queue.add(key)

    def on_node(self, kind: str, body: Body) -> None:
        key = key_of(body)
        if kind == "DELETED":
            self.caches.nodes.drop(key, uid_of(body))
        else:
            self.caches.nodes.put(key, body)
        if key[1] in self.nodes.served:
            # deleted by someone (put it back), or marked NotReady after a stall: reassert (a no-op otherwise)
            self.queue.add(NODES_KEY)

    def on_profile(self, kind: str, body: Body) -> None:
        if meta_of(body).get("name") == PROFILE_NAME:
            log.error("profile.reserved_name", profile=PROFILE_NAME, why="the eci-profile ConfigMap's name")
            return
        if kind == "DELETED":
            self.caches.profiles.delete(str(meta_of(body).get("name")))
            self.queue.add(NODES_KEY)
            return
        changed, profile = self.caches.profiles.put(body)
        if profile is not None:
            self.runtime.configure(profile.spec, name=profile.metadata.name)  # zones, stock, rate limit
        entry = self.caches.profiles.entry(str(meta_of(body).get("name")))
        if entry is not None and entry.error and changed:
            log.error("profile.invalid", profile=meta_of(body).get("name"), error=entry.error)
        if changed:
            self.queue.add(NODES_KEY)

    def on_namespace(self, kind: str, body: Body) -> None:
        name = str(meta_of(body).get("name"))
        if kind == "DELETED":
            self.caches.namespaces.pop(name, None)
        else:
            self.caches.namespaces[name] = dict(meta_of(body).get("labels") or {})

    def _listed(
        self, kind: str, items: list[Body], list_rv: int, on_event: Callable[[str, Body], None], store: Store
    ) -> None:
        """A fresh list: take every item, and drop what the list no longer has.

        An object absent from the list is dropped only if the cache's copy is older than the list, so an
        object created after the list was taken is never dropped.
        """
        seen = set()
        for item in items:
            seen.add(key_of(item))
            on_event("ADDED", item)
        for key, body in list(store.items.items()):
            if key not in seen and rv_of(body) <= list_rv:
                on_event("DELETED", body)
                log.info("cache.missed_deletion", kind=kind, namespace=key[0], name=key[1])

    def _profiles_listed(self, items: list[Body], list_rv: int) -> None:
        names = {str(meta_of(i).get("name")) for i in items}
        for item in items:
            self.on_profile("ADDED", item)
        for name in self.caches.profiles.names():
            entry = self.caches.profiles.entry(name)
            if name not in names and entry is not None and not entry.derived:
                self.on_profile("DELETED", {"metadata": {"name": name}})
                log.info("cache.missed_deletion", kind="ECIProfile", name=name)

    def _namespaces_listed(self, items: list[Body], list_rv: int) -> None:
        self.caches.namespaces.clear()
        for item in items:
            self.on_namespace("ADDED", item)

    # ------------------------------------------------------------------------------------------- running
    async def initial_sync(self) -> None:
        """Fill the caches before any reconcile, so nothing is decided on a partial view; adopt first."""
        await self.list_all()
        await self.take_over()

    async def list_all(self) -> None:
        """List every kind once, those that decide others first (vSwitches and profiles before nodes)."""
        await self.references.prime()
        order = (
            "VSwitch",
            "ECIProfile",
            "ConfigMap",
            "ImageCache",
            "Namespace",
            "Node",
            "ContainerGroup",
            "Pod",
        )
        for informer in sorted(self.informers, key=lambda i: order.index(i.kind)):
            await informer.list()

    async def take_over(self) -> None:
        """Adopt every recorded group, then let the queue loose on everything the caches hold."""
        adopted = await self.syncer.adopt_recorded()
        self.queue.add(NODES_KEY)
        self.queue.add(VSWITCHES_KEY)
        for key in self.caches.groups:
            if self.caches.pods.get(key) is None:
                self.queue.add(key)  # an orphan (its pod is gone): clean it up
        for key in self.caches.pods:
            self.queue.add(key)  # a standby's warm cache: nobody has looked at these since it listed
        self.caches.synced.set()
        log.info(
            "operator.synced",
            profiles=len(self.caches.profiles.names()),
            nodes=len(self.caches.nodes),
            pods=len(self.caches.pods),
            groups=len(self.caches.groups),
            adopted=adopted,
        )

    async def start(self) -> None:
        """Watch and lead at once (no leader election)."""
        await self.watch()
        await self.lead()

    async def watch(self) -> None:
        """What every replica does: list everything, then keep the caches warm (writes nothing)."""
        await self.list_all()
        for informer in self.informers:
            self.tasks.append(asyncio.create_task(informer.run(), name=f"eci-watch-{informer.kind}"))
        self.references.start()

    async def lead(self) -> None:
        """What only the leader does: adopt, reconcile, post Events, bill, renew node Leases, resync."""
        self.leading = True
        self.events.start()
        self.billing.start()
        self.queue.start()
        self.imagecaches.start()
        await self.take_over()
        self.tasks.append(asyncio.create_task(self.leases.run(), name="eci-leases"))
        self.tasks.append(asyncio.create_task(self.resync_loop(), name="eci-resync"))
        vswitch_status = self.ask.status_loop(self.settings.vswitch_status_seconds)
        self.tasks.append(asyncio.create_task(vswitch_status, name="eci-vswitch-status"))
        self.usage.start()  # the Loads' status, and the usage the leader's kubelet endpoints serve

    async def stop(self, *, drain_seconds: float = 10.0) -> None:
        if self.leading:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_seconds):
                    await self.queue.drain()  # finish in-flight writes
        await self.queue.stop()
        await self.imagecaches.stop()
        await self.billing.stop()
        await self.usage.stop()
        await self.references.stop()
        await cancel_all(self.tasks)
        await self.events.stop()

    def resync(self) -> None:
        """Look at everything again: reasserts status after a NotReady blip, cleans orphans past grace."""
        self.queue.add(NODES_KEY)
        for key in self.caches.pods:
            self.queue.add(key)
        now = self.clock.now()
        for key in [k for k in self.caches.groups if k not in self.caches.pods.items]:  # orphans only
            created = str(meta_of(self.caches.groups.get(key) or {}).get("creationTimestamp") or "")
            if created and (now - parse_time(created)).total_seconds() > self.settings.orphan_grace_seconds:
                self.queue.add(key)

    async def resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_seconds)
            if len(self.queue) > RELIST_BUSY_THRESHOLD:
                log.info("resync.deferred", queued=len(self.queue))  # a burst is under way: look next time
                continue
            self.resync()
