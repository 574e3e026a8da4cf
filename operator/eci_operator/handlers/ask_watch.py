"""The watches of ASK's own configuration: the VSwitch objects and the one kube-system/eci-profile ConfigMap.

Watch events feed ``AskConfig`` (the effective profile) and the ECIProfiles that name VSwitches; what
changes goes to the operator's queue as the nodes' key, and the VSwitches' aggregated status has a key of
its own, enqueued after a VSwitch edit and periodically. Kept beside ``operator.py`` so that the operator
only assembles it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from eci_operator.domain.bodies import meta_of
from eci_operator.domain.configmap import CONFIGMAP_NAME, CONFIGMAP_NAMESPACE
from eci_operator.handlers.ask_config import AskConfig
from eci_operator.handlers.caches import Caches
from eci_operator.handlers.store import Body, Key
from eci_operator.handlers.vswitch_status import VSwitchStatusWriter
from eci_operator.kube import paths
from eci_operator.kube.client import KubeClient
from eci_operator.kube.events import EventPoster
from eci_operator.kube.watch import Informer
from eci_operator.runtime.clock import Clock
from eci_operator.runtime.protocol import Runtime

VSWITCHES_KEY: Key = ("", "__vswitches__")  # the queue key of the VSwitches' aggregated status


class AskWatch:
    def __init__(
        self,
        client: KubeClient,
        caches: Caches,
        runtime: Runtime,
        events: EventPoster,
        clock: Clock,
        *,
        enqueue: Callable[[Key], None],
        nodes_changed: Callable[[], None],
    ) -> None:
        self.client = client
        self.caches = caches
        self.runtime = runtime
        self.enqueue = enqueue
        self.nodes_changed = nodes_changed
        self.config = AskConfig(caches.profiles, events)
        self.status = VSwitchStatusWriter(client, self.config, caches.groups, clock)

    def informers(self, *, configmap: bool) -> list[Informer]:
        """The VSwitch informer and (``configmap``) the ConfigMap's, by the field selector the Role allows."""
        out = [
            Informer(
                self.client,
                "VSwitch",
                paths.vswitches(),
                on_event=self.on_vswitch,
                on_list=self._vswitches_listed,
            )
        ]
        if configmap:
            out.append(
                Informer(
                    self.client,
                    "ConfigMap",
                    paths.configmaps(CONFIGMAP_NAMESPACE),
                    params={"fieldSelector": f"metadata.name={CONFIGMAP_NAME}"},
                    on_event=self.on_configmap,
                    on_list=self._configmap_listed,
                )
            )
        return out

    def on_vswitch(self, kind: str, body: Body) -> None:
        if not self.config.on_vswitch(kind, body):
            return  # only its status changed (our own write, most likely)
        self._apply()
        changed, profiles = self.caches.profiles.rejudge_references()  # ECIProfiles naming VSwitches
        for profile in profiles:
            self.runtime.configure(profile.spec, name=profile.metadata.name)
        if changed:
            self.nodes_changed()
        self.enqueue(VSWITCHES_KEY)

    def on_configmap(self, kind: str, body: Body) -> None:
        if meta_of(body).get("name") == CONFIGMAP_NAME and self.config.on_configmap(kind, body):
            self._apply()

    def _apply(self) -> None:
        changed, profile = self.config.evaluate()
        if profile is not None:
            self.runtime.configure(profile.spec, name=profile.metadata.name)  # zones, stock, rate limit
        if changed:
            self.nodes_changed()

    def _vswitches_listed(self, items: list[Body], list_rv: int) -> None:
        names = {str(meta_of(i).get("name")) for i in items}
        for item in items:
            self.on_vswitch("ADDED", item)
        for name, body in list(self.config.vswitches.items()):
            if name not in names:
                self.on_vswitch("DELETED", body)

    def _configmap_listed(self, items: list[Body], list_rv: int) -> None:
        if items:
            self.on_configmap("ADDED", items[0])
        elif self.config.configmap is not None:
            self.on_configmap("DELETED", self.config.configmap)

    async def status_loop(self, every_seconds: float) -> None:
        """The VSwitches' addresses in use, refreshed periodically (a write only where a count changed)."""
        while True:
            await asyncio.sleep(every_seconds)
            if self.config.vswitches:
                self.enqueue(VSWITCHES_KEY)
