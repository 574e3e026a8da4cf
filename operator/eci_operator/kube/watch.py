"""List, then watch from the list's resourceVersion: the informer loop for pods and ContainerGroups.

Kopf spends more CPU on each watch event (a per-object worker, a body wrapper, loggers, handler dispatch)
than this operator spends deciding what to do with it, and pods and ContainerGroups are where the events
are: two to four per pod. Their handlers only feed a cache and a work queue, so they are watched here, the
way client-go's reflector does it:

* ``list()`` takes a consistent snapshot and hands it over whole (``on_list``), so the owner can drop what
  disappeared while nobody was watching;
* ``run()`` watches from that snapshot's resourceVersion, with bookmarks, and resumes from the last
  resourceVersion seen when a stream ends or breaks; nothing between the list and the watch is lost;
* a ``410 Gone`` (the server's history no longer reaches back that far), as an HTTP status or as an
  ``ERROR`` event, means events were lost: list again, then watch from the new snapshot;
* other failures are retried with capped, jittered backoff, forever: a watch is never given up.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import Gone, api_error

log = structlog.get_logger("eci_operator.watch")
Body = dict[str, Any]
OnEvent = Callable[[str, Body], None]  # ("ADDED" | "MODIFIED" | "DELETED", object)
OnList = Callable[[list[Body], int], None]  # (every object, the list's resourceVersion)


class Informer:
    """One resource, listed and then watched forever; see the module docstring."""

    def __init__(
        self,
        client: KubeClient,
        kind: str,
        path: str,
        *,
        on_event: OnEvent,
        on_list: OnList,
        params: Mapping[str, str] | None = None,
        server_timeout: int = 300,
        max_backoff: float = 10.0,
    ) -> None:
        self.client = client
        self.kind = kind
        self.path = path
        self.params = dict(params or {})
        self.on_event = on_event
        self.on_list = on_list
        self.server_timeout = server_timeout
        self.max_backoff = max_backoff
        self.resource_version: str | None = None
        self.lists = 0  # how many times it listed (the first list included)

    async def list(self) -> None:
        """Take a snapshot, hand it over, and remember where the watch resumes."""
        listing = await self.client.get(self.path, **self.params)
        rv = str((listing.get("metadata") or {}).get("resourceVersion") or "")
        items = listing.get("items") or []
        self.on_list(items, _int(rv))
        self.resource_version = rv or None
        self.lists += 1
        log.info("watch.listed", kind=self.kind, items=len(items), resource_version=rv)

    async def run(self) -> None:
        """Watch forever (cancel the task to stop); list first if there is no snapshot yet."""
        first = min(0.5, self.max_backoff)
        delay = first
        while True:
            try:
                if self.resource_version is None:
                    await self.list()
                started, events = time.monotonic(), await self._watch_once()
                if events or time.monotonic() - started > 1.0:
                    delay = first
                else:  # ended at once with nothing in it: do not hammer the server
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.max_backoff)
            except Gone:
                log.info("watch.expired", kind=self.kind, resource_version=self.resource_version)
                self.resource_version = None
                delay = first
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("watch.failed", kind=self.kind, error=repr(exc), retry_in=round(delay, 2))
                await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
                delay = min(delay * 2, self.max_backoff)

    async def _watch_once(self) -> int:
        """Follow one stream to its end; how many events it carried."""
        params = {
            **self.params,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self.server_timeout),
            "resourceVersion": self.resource_version or "",
        }
        seen = 0
        async for event in self.client.watch(self.path, params, read_timeout=self.server_timeout + 30):
            seen += 1
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                raise api_error(int(obj.get("code") or 0), str(obj.get("reason") or ""), obj)
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if kind != "BOOKMARK":
                self.on_event(str(kind), obj)
            if rv:
                self.resource_version = str(rv)
        return seen


def _int(rv: str) -> int:
    try:
        return int(rv)
    except ValueError:
        return 0
