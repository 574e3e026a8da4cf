"""The informer loop (kube.watch) and the object cache it feeds: resume, re-list after a 410, no revivals.

The client here is a scripted stand-in for ``KubeClient`` (lists and watch streams played back in order);
the integration and fault suites run the same loop against the real API server and a fault proxy.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from eci_operator.kube.errors import ApiError, api_error
from eci_operator.kube.watch import Informer


def obj(name: str, rv: int) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv)}}


class ScriptedClient:
    """Plays back lists and watch streams; records the resourceVersion each watch started from."""

    def __init__(self, lists: list[dict[str, Any]], streams: list[list[dict[str, Any]] | Exception]) -> None:
        self.lists = lists
        self.streams = streams
        self.watched_from: list[str] = []
        self.done = asyncio.Event()

    async def get(self, path: str, **params: str) -> dict[str, Any]:
        return self.lists.pop(0)

    async def watch(
        self, path: str, params: Mapping[str, str], read_timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        self.watched_from.append(params["resourceVersion"])
        if not self.streams:
            self.done.set()
            await asyncio.Event().wait()  # a quiet stream, until cancelled
        step = self.streams.pop(0)
        if isinstance(step, Exception):
            raise step
        for event in step:
            yield event


async def play(client: ScriptedClient) -> tuple[list[tuple[str, str]], list[tuple[list[str], int]]]:
    events: list[tuple[str, str]] = []
    lists: list[tuple[list[str], int]] = []
    informer = Informer(
        client,  # type: ignore[arg-type]
        "Pod",
        "/api/v1/pods",
        on_event=lambda kind, body: events.append((kind, body["metadata"]["name"])),
        on_list=lambda items, rv: lists.append(([i["metadata"]["name"] for i in items], rv)),
        max_backoff=0.01,
    )
    task = asyncio.create_task(informer.run())
    async with asyncio.timeout(5):
        await client.done.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return events, lists


async def test_watch_resumes_where_the_last_stream_ended_and_skips_bookmarks() -> None:
    client = ScriptedClient(
        lists=[{"metadata": {"resourceVersion": "10"}, "items": [obj("a", 9)]}],
        streams=[
            [{"type": "ADDED", "object": obj("b", 11)}, {"type": "BOOKMARK", "object": obj("", 15)}],
            [{"type": "MODIFIED", "object": obj("b", 16)}, {"type": "DELETED", "object": obj("a", 17)}],
        ],
    )
    events, lists = await play(client)
    assert lists == [(["a"], 10)]
    assert events == [("ADDED", "b"), ("MODIFIED", "b"), ("DELETED", "a")]
    assert client.watched_from == ["10", "15", "17"]


async def test_an_expired_watch_lists_again_as_an_error_event_or_an_http_410() -> None:
    gone_event = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}
    client = ScriptedClient(
        lists=[
            {"metadata": {"resourceVersion": "10"}, "items": [obj("a", 9)]},
            {"metadata": {"resourceVersion": "30"}, "items": [obj("c", 25)]},
            {"metadata": {"resourceVersion": "40"}, "items": []},
        ],
        streams=[[{"type": "ADDED", "object": obj("b", 11)}, gone_event], api_error(410, "Gone")],
    )
    events, lists = await play(client)
    assert events == [("ADDED", "b")]
    assert lists == [(["a"], 10), (["c"], 30), ([], 40)]
    assert client.watched_from == ["10", "30", "40"]


async def test_other_failures_are_retried_from_the_same_resource_version() -> None:
    client = ScriptedClient(
        lists=[{"metadata": {"resourceVersion": "10"}, "items": []}],
        streams=[
            ApiError(500, "Internal Server Error"),
            ConnectionResetError("reset"),
            [{"type": "ERROR", "object": {"kind": "Status", "code": 500, "message": "boom"}}],
            [{"type": "ADDED", "object": obj("a", 12)}],
        ],
    )
    events, lists = await play(client)
    assert lists == [([], 10)]  # never listed again: nothing was lost
    assert events == [("ADDED", "a")]
    assert client.watched_from == ["10", "10", "10", "10", "12"]


@pytest.mark.parametrize("compact", [False, True])
def test_the_cache_never_revives_a_dropped_object(compact: bool) -> None:
    from eci_operator.handlers.store import Store

    cache = Store(tombstones=2, compact=compact, hot=0)
    pod = {"metadata": {"uid": "u1", "resourceVersion": "5"}}
    cache.put(("ns", "p"), pod)
    cache.drop(("ns", "p"), "u1")  # the watch delivered its deletion ...
    cache.put(("ns", "p"), {"metadata": {"uid": "u1", "resourceVersion": "4"}})  # ... then a write's answer
    assert cache.get(("ns", "p")) is None
    cache.put(("ns", "p"), {"metadata": {"uid": "u2", "resourceVersion": "9"}})  # a new pod of that name
    cache.drop(("ns", "p"), "u1")  # a late deletion of the old one leaves the new one alone
    assert cache.get(("ns", "p")) == {"metadata": {"uid": "u2", "resourceVersion": "9"}}
    cache.drop(("ns", "p"))  # dropped without a uid: whatever is cached there is gone
    assert cache.get(("ns", "p")) is None
    cache.drop(("ns", "x"), "u3")  # only the last two tombstones are kept: u1 is forgotten
    cache.put(("ns", "p"), {"metadata": {"uid": "u1", "resourceVersion": "4"}})
    assert cache.get(("ns", "p")) is not None


@pytest.mark.parametrize("compact", [False, True])
def test_the_store_indexes_follow_puts_and_drops(compact: bool) -> None:
    from eci_operator.handlers.store import Store

    store = Store({"node": lambda body: body.get("spec", {}).get("nodeName")}, compact=compact, hot=0)
    store.put(("ns", "a"), {"metadata": {"uid": "a", "resourceVersion": "1"}, "spec": {"nodeName": "n1"}})
    store.put(("ns", "b"), {"metadata": {"uid": "b", "resourceVersion": "1"}, "spec": {"nodeName": "n1"}})
    assert store.by("node", "n1") == [("ns", "a"), ("ns", "b")]
    store.put(("ns", "a"), {"metadata": {"uid": "a", "resourceVersion": "2"}, "spec": {"nodeName": "n2"}})
    assert store.by("node", "n1") == [("ns", "b")]
    assert store.by("node", "n2") == [("ns", "a")]
    assert store.indexed(("ns", "a"), "node") == "n2"  # read from the head, never decoded
    assert store.indexed(("ns", "zz"), "node") is None
    store.drop(("ns", "b"))
    assert store.by("node", "n1") == []


def test_a_compact_store_keeps_json_and_decodes_on_read() -> None:
    """Pods and ContainerGroups are kept as JSON bytes; a read decodes (the hot ones stay decoded)."""
    from eci_operator.handlers.store import Store

    store = Store(compact=True, hot=1)
    a = {"metadata": {"uid": "a", "resourceVersion": "3", "managedFields": [{}]}, "spec": {"x": [1, 2.5]}}
    store.put(("ns", "a"), a)
    store.put(("ns", "b"), {"metadata": {"uid": "b", "resourceVersion": "4"}})
    got = store.get(("ns", "a"))  # evicted from the hot set by b: decoded from its bytes
    assert got == {"metadata": {"uid": "a", "resourceVersion": "3"}, "spec": {"x": [1, 2.5]}}
    assert store.get(("ns", "a")) is got  # now hot: the same body, not decoded twice
    assert not store.put(("ns", "a"), {"metadata": {"uid": "a", "resourceVersion": "2"}})  # older: refused
    assert ("ns", "a") in store.items
    assert ("ns", "c") not in store.items
    assert sorted(store.items) == [("ns", "a"), ("ns", "b")]
    assert dict(store.items)[("ns", "b")] == {"metadata": {"uid": "b", "resourceVersion": "4"}}
    assert len(store) == len(store.items) == 2
