"""An in-memory Kubernetes API server for the handler tests, behind the same ``Transport`` as a real one.

It stores objects as JSON, assigns uids and resourceVersions, and answers as kube-apiserver does for what
the operator sends: create (409 AlreadyExists, 422 without a name, 404 without the namespace), get and list
with label and field selectors, JSON merge patches with uid / resourceVersion preconditions (409), the
status subresource split (a write to ``/status`` changes only the status and metadata, a write to the object
never its status; ContainerGroups have none unless ``status_subresources=`` says so), a discovery document,
graceful deletion of bound pods (``deletionTimestamp`` + ``deletionGracePeriodSeconds``, then gone on a
grace-0 delete), delete preconditions, owner-reference garbage collection, watches from a resourceVersion
(410 when too old). ``tests/integration/test_fake_contract.py`` sends the same requests
to this (through ``kube.memory_transport``) and to the real API server and compares the answers, so the
fake cannot drift into accepting what the real server refuses. Not modelled: admission, schemas,
finalizers, generateName.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eci_operator.kube.selectors import matches_fields, matches_labels

Obj = dict[str, Any]
# Kinds with a status subresource, as their CRDs say (a ContainerGroup has none since issue #18).
WITH_STATUS = frozenset({"pods", "nodes", "namespaces", "eciprofiles", "imagecaches", "vswitches", "loads"})
KINDS = {
    "pods": "Pod",
    "nodes": "Node",
    "namespaces": "Namespace",
    "leases": "Lease",
    "events": "Event",
    "containergroups": "ContainerGroup",
    "eciprofiles": "ECIProfile",
    "vswitches": "VSwitch",
    "loads": "Load",
    "configmaps": "ConfigMap",
    "secrets": "Secret",
    "validatingwebhookconfigurations": "ValidatingWebhookConfiguration",
    "mutatingwebhookconfigurations": "MutatingWebhookConfiguration",
}
HISTORY = 10_000  # watch events kept; a watch from before the oldest gets 410


class Failure(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }


@dataclass(frozen=True)
class Route:
    api: str  # "v1" or "group/version"
    resource: str
    namespace: str | None
    name: str | None
    sub: str | None


def route(path: str) -> Route:
    parts = [p for p in path.split("?")[0].split("/") if p]
    if parts[:1] == ["api"]:
        api, rest = parts[1], parts[2:]
    else:
        api, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    return Route(
        api,
        rest[0] if rest else "",  # "": the group version's discovery document
        namespace,
        rest[1] if len(rest) > 1 else None,
        rest[2] if len(rest) > 2 else None,
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _stamp(now: dt.datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Watcher:
    route: Route
    params: Mapping[str, str]
    queue: asyncio.Queue[Obj | None] = field(default_factory=asyncio.Queue)


class ApiServer:
    """The store and the verbs; ``MemoryTransport(server)`` hands it to a ``KubeClient``."""

    def __init__(
        self,
        *,
        now: Callable[[], dt.datetime] | None = None,
        garbage_collection: bool = True,
        status_subresources: frozenset[str] = WITH_STATUS,
    ) -> None:
        self.with_status = status_subresources  # resources whose status is a subresource
        self.objects: dict[tuple[str, str, str], Obj] = {}  # (resource, namespace, name) -> object
        self.rv = 1
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.garbage_collection = garbage_collection
        self.requests: list[tuple[str, str, Obj | None]] = []  # (method, path, body) of every request
        self._history: deque[tuple[int, str, str, Obj]] = deque(maxlen=HISTORY)
        self._watchers: list[_Watcher] = []
        self.fail_next: dict[tuple[str, str], list[int]] = {}  # (method, resource[/sub]) -> codes to answer

    # ------------------------------------------------------------------------------------------ helpers
    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        return self.objects.get((resource, namespace or "", name))

    def all(self, resource: str) -> list[Obj]:
        return [o for (r, _, _), o in sorted(self.objects.items()) if r == resource]

    def _emit(self, kind: str, resource: str, obj: Obj) -> None:
        self._history.append((int(obj["metadata"]["resourceVersion"]), kind, resource, copy.deepcopy(obj)))
        for w in self._watchers:
            if w.route.resource == resource and self._visible(w.route, w.params, obj):
                w.queue.put_nowait({"type": kind, "object": copy.deepcopy(obj)})

    @staticmethod
    def _visible(r: Route, params: Mapping[str, str], obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        if r.namespace is not None and meta.get("namespace") != r.namespace:
            return False
        return matches_labels(params.get("labelSelector", ""), meta.get("labels") or {}) and matches_fields(
            params.get("fieldSelector", ""), obj
        )

    def _store(self, kind: str, resource: str, obj: Obj) -> Obj:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.objects[(resource, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])] = obj
        self._emit(kind, resource, obj)
        return copy.deepcopy(obj)

    def _remove(self, resource: str, obj: Obj) -> Obj:
        meta = obj["metadata"]
        self.objects.pop((resource, meta.get("namespace", ""), meta["name"]), None)
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        self._emit("DELETED", resource, obj)
        if self.garbage_collection:
            self.collect_garbage()
        return copy.deepcopy(obj)

    def collect_garbage(self) -> None:
        """Delete every object whose owners (by uid) are all gone, as the garbage collector does."""
        uids = {o["metadata"]["uid"] for o in self.objects.values()}
        for (resource, _, _), obj in list(self.objects.items()):
            owners = obj["metadata"].get("ownerReferences") or []
            if owners and not any(ref.get("uid") in uids for ref in owners):
                self._remove(resource, obj)

    # ------------------------------------------------------------------------------------------- verbs
    def handle(self, method: str, path: str, params: Mapping[str, str], body: Obj | None) -> tuple[int, Obj]:
        self.requests.append((method, path, body))
        r = route(path)
        resource = r.resource + (f"/{r.sub}" if r.sub else "")
        codes = self.fail_next.get((method, resource))
        if codes:
            code = codes.pop(0)
            return code, Failure(code, "Injected", f"injected {code}").status()
        try:
            if method == "GET":
                return 200, self._read(r, params)
            if method == "POST":
                return 201, self._create(r, body or {})
            if method == "PATCH":
                return 200, self._patch(r, body or {})
            if method == "DELETE":
                return 200, self._delete(r, body or {})
        except Failure as exc:
            return exc.code, exc.status()
        return 405, Failure(405, "MethodNotAllowed", f"{method} not supported").status()

    def _what(self, r: Route) -> str:
        return f'{r.resource}{"" if r.api == "v1" else "." + r.api.split("/")[0]} "{r.name}"'

    def _existing(self, r: Route) -> Obj:
        obj = self.objects.get((r.resource, r.namespace or "", r.name or ""))
        if obj is None:
            raise Failure(404, "NotFound", f"{self._what(r)} not found")
        return obj

    def _read(self, r: Route, params: Mapping[str, str]) -> Obj:
        if not r.resource:
            return self._discovery(r)
        if r.name is not None:
            return copy.deepcopy(self._existing(r))
        items = [copy.deepcopy(o) for o in self.all(r.resource) if self._visible(r, params, o)]
        return {
            "kind": KINDS.get(r.resource, "") + "List",
            "apiVersion": r.api,
            "metadata": {"resourceVersion": str(self.rv)},
            "items": items,
        }

    def _discovery(self, r: Route) -> Obj:
        """An APIResourceList: the group version's resources, with ``<resource>/status`` where modelled."""
        resources = []
        for resource, kind in sorted(KINDS.items()):
            resources.append({"name": resource, "kind": kind, "namespaced": True})
            if resource in self.with_status:
                resources.append({"name": f"{resource}/status", "kind": kind, "namespaced": True})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": r.api, "resources": resources}

    def _create(self, r: Route, body: Obj) -> Obj:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise Failure(
                422,
                "Invalid",
                f'{KINDS.get(r.resource, r.resource)} "" is invalid: '
                "metadata.name: Required value: name or generateName is required",
            )
        if r.namespace is not None:
            if ("namespaces", "", r.namespace) not in self.objects:
                raise Failure(404, "NotFound", f'namespaces "{r.namespace}" not found')
            meta["namespace"] = r.namespace
        if (r.resource, r.namespace or "", meta["name"]) in self.objects:
            raise Failure(
                409,
                "AlreadyExists",
                f"{self._what(Route(r.api, r.resource, r.namespace, meta['name'], None))} already exists",
            )
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=_stamp(self.now()))
        for dropped in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
        ):
            meta.pop(dropped, None)
        if "spec" in obj or r.api != "v1":
            meta["generation"] = 1
        obj.setdefault("apiVersion", r.api)
        obj.setdefault("kind", KINDS.get(r.resource, ""))
        if r.resource == "pods":
            obj["status"] = {"phase": "Pending"}
        elif r.resource in self.with_status and r.api != "v1":
            obj.pop("status", None)
        return self._store("ADDED", r.resource, obj)

    @staticmethod
    def _preconditions(obj: Obj, uid: str | None, rv: str | None, *, patch: bool = False) -> None:
        """A delete's preconditions (409); in a patch, a uid that differs is an immutable field (422)."""
        meta = obj["metadata"]
        if uid and uid != meta.get("uid") and patch:
            kind = obj.get("kind", "")
            raise Failure(
                422,
                "Invalid",
                f'{kind} "{meta["name"]}" is invalid: '
                f'metadata.uid: Invalid value: "{uid}": field is immutable',
            )
        if uid and uid != meta.get("uid"):
            raise Failure(
                409,
                "Conflict",
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta.get('uid')}",
            )
        if rv and rv != meta.get("resourceVersion"):
            raise Failure(
                409,
                "Conflict",
                "the object has been modified; please apply your changes to the latest version and try again",
            )

    def _patch(self, r: Route, patch: Obj) -> Obj:
        old = self._existing(r)
        pmeta = patch.get("metadata") or {}
        self._preconditions(old, pmeta.get("uid"), pmeta.get("resourceVersion"), patch=True)
        new = merge_patch(old, patch)
        for immutable in ("uid", "name", "namespace", "creationTimestamp", "generation", "deletionTimestamp"):
            if immutable in old["metadata"]:
                new["metadata"][immutable] = old["metadata"][immutable]
        if r.resource in self.with_status:
            if r.sub == "status":
                new["spec"] = copy.deepcopy(old.get("spec"))
                if new["spec"] is None:
                    new.pop("spec")
            else:
                new["status"] = copy.deepcopy(old.get("status"))
                if new["status"] is None:
                    new.pop("status")
        if (
            r.resource == "pods"
            and (old.get("spec") or {}).get("nodeName")
            and (new.get("spec") or {}).get("nodeName") != old["spec"]["nodeName"]
        ):
            raise Failure(
                422,
                "Invalid",
                f'Pod "{r.name}" is invalid: spec: Forbidden: pod updates may not '
                "change fields other than those allowed",
            )
        if new.get("spec") != old.get("spec") and "generation" in old["metadata"]:
            new["metadata"]["generation"] = old["metadata"]["generation"] + 1
        if new == old:
            return copy.deepcopy(old)
        return self._store("MODIFIED", r.resource, new)

    def _delete(self, r: Route, options: Obj) -> Obj:
        obj = self._existing(r)
        pre = options.get("preconditions") or {}
        self._preconditions(obj, pre.get("uid"), pre.get("resourceVersion"))
        grace = options.get("gracePeriodSeconds")
        meta = obj["metadata"]
        if r.resource == "pods":
            spec, phase = obj.get("spec") or {}, (obj.get("status") or {}).get("phase")
            if grace is None:
                grace = meta.get("deletionGracePeriodSeconds", spec.get("terminationGracePeriodSeconds", 30))
            if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
                grace = 0
            if grace > 0:
                if meta.get("deletionTimestamp"):
                    return copy.deepcopy(obj)
                new = copy.deepcopy(obj)
                when = self.now() + dt.timedelta(seconds=grace)
                new["metadata"].update(deletionTimestamp=_stamp(when), deletionGracePeriodSeconds=grace)
                return self._store("MODIFIED", r.resource, new)
        return self._remove(r.resource, obj)

    # ------------------------------------------------------------------------------------------ watches
    def _backlog(self, r: Route, params: Mapping[str, str], since: int) -> list[Obj] | None:
        """Events after ``since`` for the watch, or None when the history no longer reaches back."""
        if self._history and since < self._history[0][0] - 1 and since < self.rv:
            return None
        out = []
        for rv, kind, resource, obj in self._history:
            if rv > since and resource == r.resource and self._visible(r, params, obj):
                out.append({"type": kind, "object": copy.deepcopy(obj)})
        return out

    @contextlib.asynccontextmanager
    async def watch(self, path: str, params: Mapping[str, str]) -> AsyncIterator[asyncio.Queue[Obj | None]]:
        r = route(path)
        self.requests.append(("GET", path, None))
        watcher = _Watcher(r, params)
        since = int(params.get("resourceVersion") or self.rv)
        backlog = self._backlog(r, params, since)
        if backlog is None:
            gone = Failure(410, "Expired", f"too old resource version: {since} ({self._history[0][0]})")
            watcher.queue.put_nowait({"type": "ERROR", "object": gone.status()})
            watcher.queue.put_nowait(None)
        else:
            for event in backlog:
                watcher.queue.put_nowait(event)
            self._watchers.append(watcher)
        try:
            yield watcher.queue
        finally:
            with contextlib.suppress(ValueError):
                self._watchers.remove(watcher)

    def undelivered(self) -> int:
        """Watch events not yet read by their clients."""
        return sum(w.queue.qsize() for w in self._watchers)

    def end_watches(self) -> None:
        """End every open watch stream (as the server does at its timeout): clients resume from their rv."""
        for w in self._watchers:
            w.queue.put_nowait(None)
        self._watchers.clear()
