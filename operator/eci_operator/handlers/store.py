"""A cache of objects fed by a watch: latest body per key, tombstones, and indexes (client-go's Store).

Handlers read objects from here instead of GETting them: watch events keep it current, and the operator's
own writes put the server's answer, so a reconcile can tell what is already done. It never goes back to an
older resourceVersion, and never revives the dead: a write's answer can arrive after the watch delivered
the object's deletion (deleted by someone else, e.g. the operator's previous incarnation, right after the
write), so the uids of dropped objects are remembered (the most recent ``tombstones``) and a body with such
a uid is ignored — a uid is never reused, so this can only refuse stale bodies. Indexes answer "which pods
are on this node" and "which group belongs to this pod uid" without a scan.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from eci_operator.domain.bodies import rv_of, uid_of

Body = dict[str, Any]
Key = tuple[str, str]
Indexer = Callable[[Body], str | None]


class Store:
    def __init__(self, indexers: Mapping[str, Indexer] | None = None, *, tombstones: int = 20_000) -> None:
        self.items: dict[Key, Body] = {}
        self._gone: OrderedDict[str, None] = OrderedDict()
        self._tombstones = tombstones
        self._indexers = dict(indexers or {})
        self._indexes: dict[str, dict[str, set[Key]]] = {name: {} for name in self._indexers}

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Key]:
        return iter(list(self.items))

    def get(self, key: Key) -> Body | None:
        return self.items.get(key)

    def put(self, key: Key, body: Body) -> bool:
        """Keep ``body`` unless it is older than what is cached or its object is gone; True if kept."""
        (body.get("metadata") or {}).pop("managedFields", None)  # a third of a pod; nothing reads them
        if uid_of(body) in self._gone:
            return False
        old = self.items.get(key)
        if old is not None and rv_of(old) > rv_of(body) and uid_of(old) == uid_of(body):
            return False
        self._unindex(key, old)
        self.items[key] = body
        for name, indexer in self._indexers.items():
            if (value := indexer(body)) is not None:
                self._indexes[name].setdefault(value, set()).add(key)
        return True

    def drop(self, key: Key, uid: str | None = None) -> None:
        """The object ``uid`` (by default, the one cached under ``key``) is gone for good."""
        old = self.items.get(key)
        gone = uid if uid is not None else uid_of(old)
        if gone:
            self._gone[gone] = None
            while len(self._gone) > self._tombstones:
                self._gone.popitem(last=False)
        if old is not None and (uid is None or uid_of(old) == gone):
            self._unindex(key, old)
            self.items.pop(key, None)

    def by(self, index: str, value: str) -> list[Key]:
        """Keys whose ``index`` value is ``value``."""
        return sorted(self._indexes[index].get(value, ()))

    def _unindex(self, key: Key, old: Body | None) -> None:
        if old is None:
            return
        for name, indexer in self._indexers.items():
            value = indexer(old)
            keys = self._indexes[name].get(value or "")
            if keys is not None:
                keys.discard(key)
                if not keys:
                    self._indexes[name].pop(value or "", None)
