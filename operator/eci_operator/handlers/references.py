"""Which Secrets and ConfigMaps exist, so a pod that needs a missing one waits for it as on a kubelet.

Two informers (Secrets, ConfigMaps, every namespace) keep only the names: no data is cached. A pod whose
mandatory reference is missing is held before its ContainerGroup is created (``domain.references``); it is
remembered as waiting for that object, and re-queued when the object appears. Without the RBAC to list
them (a deployment that dropped the rule) nothing is checked and a warning says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from eci_operator.domain.bodies import key_of
from eci_operator.domain.references import CONFIG_MAP, SECRET
from eci_operator.handlers.store import Body, Key
from eci_operator.handlers.tasks import cancel_all
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import ApiError
from eci_operator.kube.watch import Informer

log = structlog.get_logger("eci_operator.references")
Wanted = tuple[str, str, str]  # (kind, namespace, name)


class ReferenceWatch:
    def __init__(self, client: KubeClient, enqueue: Callable[[Key], None]) -> None:
        self.enqueue = enqueue
        self.names: dict[str, set[Key]] = {SECRET: set(), CONFIG_MAP: set()}
        self.waiting: dict[Wanted, set[Key]] = {}
        self.informers = [
            self._informer(client, SECRET, "/api/v1/secrets"),
            self._informer(client, CONFIG_MAP, "/api/v1/configmaps"),
        ]
        self.tasks: list[asyncio.Task[None]] = []
        self.disabled = False  # no RBAC to list them: pods are not held for missing references

    def _informer(self, client: KubeClient, kind: str, path: str) -> Informer:
        def on_event(event: str, body: Body) -> None:
            self._on_event(kind, event, body)

        def on_list(items: list[Body], rv: int) -> None:
            self.names[kind] = {key_of(item) for item in items}
            for item in items:
                self._appeared(kind, key_of(item))

        return Informer(client, kind, path, on_event=on_event, on_list=on_list)

    def _on_event(self, kind: str, event: str, body: Body) -> None:
        key = key_of(body)
        if event == "DELETED":
            self.names[kind].discard(key)
            return
        self.names[kind].add(key)
        self._appeared(kind, key)

    def _appeared(self, kind: str, key: Key) -> None:
        for pod in self.waiting.pop((kind, *key), set()):
            self.enqueue(pod)

    def exists(self, namespace: str) -> Callable[[str, str], bool]:
        if self.disabled:
            return lambda kind, name: True
        return lambda kind, name: (namespace, name) in self.names[kind]

    def wait(self, pod: Key, kind: str, name: str) -> None:
        self.waiting.setdefault((kind, pod[0], name), set()).add(pod)

    async def prime(self) -> None:
        """List both kinds once, before any pod is looked at; without the RBAC to, check nothing."""
        for informer in self.informers:
            try:
                await informer.list()
            except ApiError as exc:
                if exc.status != 403:
                    raise
                self.disabled = True
                log.warning("references.unchecked", kind=informer.kind, error=str(exc))
                return

    def start(self) -> None:
        if self.disabled:
            return
        for informer in self.informers:
            self.tasks.append(asyncio.create_task(informer.run(), name=f"eci-watch-{informer.kind}"))

    async def stop(self) -> None:
        await cancel_all(self.tasks)
