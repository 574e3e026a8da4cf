"""The operator's working state: caches fed by watches, the API client, the runtime and the queues.

Handlers read objects from these caches instead of GETting them: watch events keep them current, and the
operator's own writes update them with the server's answer, so a reconcile can tell what is already done.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eci_operator.handlers.billing import BillingRecorder
from eci_operator.kube.client import KubeClient
from eci_operator.kube.events import EventPoster
from eci_operator.models.profile import ECIProfile
from eci_operator.runtime.protocol import Key, Runtime

Body = dict[str, Any]
NODES_KEY: Key = ("", "__nodes__")  # the queue key under which all virtual nodes are reconciled


@dataclass
class Settings:
    """Operator settings (``eci-operator run`` flags; see README)."""

    workers: int = 32
    kubelet_port_base: int = 10250
    node_address: str = field(default_factory=lambda: os.environ.get("ECI_NODE_ADDRESS", "127.0.0.1"))
    resync_seconds: float = field(default_factory=lambda: float(os.environ.get("ECI_RESYNC_SECONDS", "60")))
    lease_renew_seconds: float = 10.0
    orphan_grace_seconds: float = 30.0
    metrics_port: int = 8081  # 0: no metrics endpoint
    metrics_address: str = "0.0.0.0"
    # Admission webhooks (README "Admission webhooks"): served over HTTPS by the operator itself.
    webhooks: bool = True
    webhook_port: int = 9443
    webhook_bind_address: str = "0.0.0.0"
    webhook_host: str | None = None  # how the apiserver reaches us (URL mode); None: node_address
    webhook_service: str | None = None  # "namespace/name" of a Service in front of the operator instead


def _rv(body: Mapping[str, Any]) -> int:
    try:
        return int((body.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class ObjectCache:
    """Latest known body per key; never goes back to an older resourceVersion, never revives the dead.

    A write's answer can arrive after the watch has already delivered the object's deletion (the object
    was deleted by someone else, e.g. by the operator's previous incarnation, right after the write).
    Putting that answer would bring back an object that no longer exists, and nothing would ever remove it
    again: so the uids of dropped objects are remembered (the most recent ``tombstones`` of them) and a body
    with such a uid is ignored. A uid is never reused, so this can only refuse stale bodies.
    """

    def __init__(self, tombstones: int = 20_000) -> None:
        self.items: dict[Key, Body] = {}
        self._gone: OrderedDict[str, None] = OrderedDict()
        self._tombstones = tombstones

    def put(self, key: Key, body: Body) -> None:
        # managedFields are a third of a pod's size and nothing here reads them.
        (body.get("metadata") or {}).pop("managedFields", None)
        if _uid(body) in self._gone:
            return
        old = self.items.get(key)
        if old is not None and _rv(old) > _rv(body) and _uid(old) == _uid(body):
            return
        self.items[key] = body

    def drop(self, key: Key, uid: str | None = None) -> None:
        """The object ``uid`` (by default, the one cached under ``key``) is gone for good."""
        old = self.items.get(key)
        gone = uid if uid is not None else (_uid(old) if old is not None else "")
        if gone:
            self._gone[gone] = None
            while len(self._gone) > self._tombstones:
                self._gone.popitem(last=False)
        if old is not None and (uid is None or _uid(old) == gone):
            self.items.pop(key, None)

    def get(self, key: Key) -> Body | None:
        return self.items.get(key)


def _uid(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("uid") or "")


def key_of(body: Mapping[str, Any]) -> Key:
    meta = body.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


@dataclass
class State:
    client: KubeClient
    runtime: Runtime
    events: EventPoster
    settings: Settings
    pods: ObjectCache = field(default_factory=ObjectCache)
    groups: ObjectCache = field(default_factory=ObjectCache)
    nodes: ObjectCache = field(default_factory=ObjectCache)
    profiles: dict[str, ECIProfile] = field(default_factory=dict)
    profile_bodies: dict[str, Body] = field(default_factory=dict)
    invalid_profiles: dict[str, str] = field(default_factory=dict)  # name -> why its latest spec is refused
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    # Zones each profile may serve (after zone conflicts), and the kubelet port of each node.
    served_zones: dict[str, dict[str, str]] = field(default_factory=dict)  # node name -> {profile, zone}
    kubelet_ports: dict[str, int] = field(default_factory=dict)
    # Input annotations each pod had when its group was created, to notice (and report) later edits.
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    warned_edits: set[tuple[str, str]] = field(default_factory=set)
    # Zones whose node last showed "no stock left"; a change asks for a node reconcile (``wake_nodes``).
    exhausted_zones: dict[str, bool] = field(default_factory=dict)
    wake_nodes: Callable[[], None] = lambda: None
    # Set by the kubelet server: listen on exactly these node ports.
    serve_kubelet_ports: Callable[[set[int]], Awaitable[None]] | None = None
    billing: BillingRecorder = field(init=False)
    billed: set[str] = field(default_factory=set)  # uids of groups whose cost is on the bill already
    deleted_pods: dict[str, dt.datetime] = field(default_factory=dict)  # pod uid -> when we finished it

    def __post_init__(self) -> None:
        self.billing = BillingRecorder(self.client)

    def check_zone(self, zone_id: str | None) -> None:
        if not zone_id:
            return
        exhausted = self.runtime.zone_report(zone_id).exhausted
        if self.exhausted_zones.get(zone_id, False) != exhausted:
            self.exhausted_zones[zone_id] = exhausted
            self.wake_nodes()
