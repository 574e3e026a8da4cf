"""A cache of objects fed by a watch: latest body per key, tombstones, and indexes (client-go's Store).

Handlers read objects from here instead of GETting them: watch events keep it current, and the operator's
own writes put the server's answer, so a reconcile can tell what is already done. It never goes back to an
older resourceVersion, and never revives the dead: a write's answer can arrive after the watch delivered
the object's deletion (deleted by someone else, e.g. the operator's previous incarnation, right after the
write), so the uids of dropped objects are remembered (the most recent ``tombstones``) and a body with such
a uid is ignored — a uid is never reused, so this can only refuse stale bodies. Indexes answer "which pods
are on this node" and "which group belongs to this pod uid" without a scan.

A ``compact`` store (pods and ContainerGroups, one each per pod) keeps each body as its JSON bytes, plus
what ``put`` and the indexes compare (resourceVersion, uid, index values), and decodes a body when it is
read; the ``hot`` most recently read or written stay decoded, so a reconcile does not decode the same
body twice. A decoded pod costs several times its JSON (README, "Benchmark").
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

from eci_operator.domain.bodies import rv_of, uid_of

Body = dict[str, Any]
Key = tuple[str, str]
Indexer = Callable[[Body], str | None]


class _Decoded(Mapping[Key, Body]):
    """``Store.items`` of a compact store: a read-only mapping that decodes on access."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getitem__(self, key: Key) -> Body:
        body = self._store.get(key)
        if body is None:
            raise KeyError(key)
        return body

    def __contains__(self, key: object) -> bool:
        return key in self._store._heads

    def __iter__(self) -> Iterator[Key]:
        return iter(list(self._store._heads))

    def __len__(self) -> int:
        return len(self._store._heads)


class Store:
    def __init__(
        self,
        indexers: Mapping[str, Indexer] | None = None,
        *,
        tombstones: int = 20_000,
        compact: bool = False,
        hot: int = 256,
    ) -> None:
        self._plain: dict[Key, Body] = {}
        self._raw: dict[Key, bytes] = {}  # compact: the JSON of each body
        self._hot: OrderedDict[Key, Body] = OrderedDict()  # compact: bodies read or written lately
        self._hot_size = hot
        self._heads: dict[Key, tuple[int, str, tuple[str | None, ...]]] = {}  # rv, uid, index values
        self.compact = compact
        self.items: Mapping[Key, Body] = _Decoded(self) if compact else self._plain
        self._gone: OrderedDict[str, None] = OrderedDict()
        self._tombstones = tombstones
        self._indexers = dict(indexers or {})
        self._indexes: dict[str, dict[str, set[Key]]] = {name: {} for name in self._indexers}

    def __len__(self) -> int:
        return len(self._heads)

    def __iter__(self) -> Iterator[Key]:
        return iter(list(self._heads))

    def get(self, key: Key) -> Body | None:
        if not self.compact:
            return self._plain.get(key)
        hot = self._hot.get(key)
        if hot is not None:
            self._hot.move_to_end(key)
            return hot
        raw = self._raw.get(key)
        if raw is None:
            return None
        body: Body = orjson.loads(raw)
        self._remember(key, body)
        return body

    def put(self, key: Key, body: Body) -> bool:
        """Keep ``body`` unless it is no newer than what is cached or its object is gone; True if kept.

        False for the very version cached already: the watch's echo of the operator's own write, whose
        answer ``put`` took first (a handler then has nothing new to look at)."""
        (body.get("metadata") or {}).pop("managedFields", None)  # a third of a pod; nothing reads them
        uid = uid_of(body)
        if uid in self._gone:
            return False
        old = self._heads.get(key)
        if old is not None and old[0] >= rv_of(body) and old[1] == uid:
            return False
        self._unindex(key)
        values = tuple(indexer(body) for indexer in self._indexers.values())
        self._heads[key] = (rv_of(body), uid, values)
        if self.compact:
            self._raw[key] = bytes(memoryview(orjson.dumps(body)))  # orjson over-allocates: an exact copy
            self._remember(key, body)
        else:
            self._plain[key] = body
        for name, value in zip(self._indexers, values, strict=True):
            if value is not None:
                self._indexes[name].setdefault(value, set()).add(key)
        return True

    def drop(self, key: Key, uid: str | None = None) -> None:
        """The object ``uid`` (by default, the one cached under ``key``) is gone for good."""
        old = self._heads.get(key)
        gone = uid if uid is not None else (old[1] if old else "")
        if gone:
            self._gone[gone] = None
            while len(self._gone) > self._tombstones:
                self._gone.popitem(last=False)
        if old is not None and (uid is None or old[1] == gone):
            self._unindex(key)
            self._heads.pop(key, None)
            self._plain.pop(key, None)
            self._raw.pop(key, None)
            self._hot.pop(key, None)

    def by(self, index: str, value: str) -> list[Key]:
        """Keys whose ``index`` value is ``value``."""
        return sorted(self._indexes[index].get(value, ()))

    def version(self, key: Key) -> tuple[int, str] | None:
        """(resourceVersion, uid) of the object under ``key``, without decoding: what a cache of something
        derived from the body compares to know it is still current."""
        head = self._heads.get(key)
        return (head[0], head[1]) if head is not None else None

    def indexed(self, key: Key, index: str) -> str | None:
        """The ``index`` value of the object under ``key`` (None if none or not cached), without decoding."""
        head = self._heads.get(key)
        return head[2][list(self._indexers).index(index)] if head is not None else None

    def _remember(self, key: Key, body: Body) -> None:
        self._hot[key] = body
        self._hot.move_to_end(key)
        while len(self._hot) > self._hot_size:
            self._hot.popitem(last=False)

    def _unindex(self, key: Key) -> None:
        head = self._heads.get(key)
        if head is None:
            return
        for name, value in zip(self._indexers, head[2], strict=True):
            keys = self._indexes[name].get(value or "")
            if keys is not None:
                keys.discard(key)
                if not keys:
                    self._indexes[name].pop(value or "", None)
