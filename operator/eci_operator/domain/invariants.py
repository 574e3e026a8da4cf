"""The invariants the operator promises, checked on a snapshot of the cluster (``eci-operator check``).

Pure: give it the pods, ContainerGroups, nodes and profiles as the API returns them and the time of the
snapshot; it lists every violation. Things in flight get a grace period (a pod bound a moment ago has no
group yet), so a healthy cluster under load has no violation.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eci_operator.domain.nodes import PROFILE_LABEL, ZONE_LABEL
from eci_operator.domain.phases import is_terminal, pod_phase
from eci_operator.models.containergroup import ContainerGroupPhase

DEFAULT_GRACE = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class Violation:
    rule: str
    object: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.object}: {self.detail}"


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return body.get("metadata") or {}


def _name(body: Mapping[str, Any]) -> str:
    meta = _meta(body)
    return f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))


def _ready(node: Mapping[str, Any]) -> bool:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def _zones_down(profiles: Iterable[Mapping[str, Any]]) -> set[str]:
    down = set()
    for profile in profiles:
        for zone in ((profile.get("spec") or {}).get("simulation") or {}).get("zones") or []:
            if zone.get("available") is False:
                down.add(zone.get("zoneId"))
    return down


def check(
    pods: Iterable[Mapping[str, Any]],
    groups: Iterable[Mapping[str, Any]],
    nodes: Iterable[Mapping[str, Any]],
    profiles: Iterable[Mapping[str, Any]],
    now: dt.datetime,
    *,
    grace: dt.timedelta = DEFAULT_GRACE,
) -> list[Violation]:
    nodes = list(nodes)
    virtual = {_meta(n).get("name"): n for n in nodes if PROFILE_LABEL in (_meta(n).get("labels") or {})}
    pods_on = [p for p in pods if (p.get("spec") or {}).get("nodeName") in virtual]
    by_key = {(_meta(g).get("namespace"), _meta(g).get("name")): g for g in groups}
    pod_keys = {(_meta(p).get("namespace"), _meta(p).get("name")): p for p in pods_on}
    out: list[Violation] = []

    for pod in pods_on:
        meta = _meta(pod)
        key = (meta.get("namespace"), meta.get("name"))
        created = _time(meta.get("creationTimestamp")) or now
        deleting = _time(meta.get("deletionTimestamp"))
        if deleting is not None:
            bound = deleting + dt.timedelta(seconds=int(meta.get("deletionGracePeriodSeconds") or 0))
            if now - bound > grace:
                out.append(
                    Violation("pod-stuck-terminating", _name(pod), f"Terminating since {deleting:%H:%M:%S}")
                )
            continue
        if any(r.get("kind") == "DaemonSet" for r in meta.get("ownerReferences") or []):
            continue  # held Pending on purpose, no group
        group = by_key.get(key)
        if group is None:
            if now - created > grace:
                out.append(Violation("pod-without-group", _name(pod), "no ContainerGroup"))
            continue
        if (group.get("spec") or {}).get("podUid") != meta.get("uid"):
            if now - created > grace:
                out.append(
                    Violation("group-uid-mismatch", _name(pod), "its ContainerGroup belongs to another uid")
                )
            continue
        out.extend(_status_agrees(pod, group, now, grace))

    for key, group in by_key.items():
        owner = pod_keys.get(key)
        created = _time(_meta(group).get("creationTimestamp")) or now
        uid = (group.get("spec") or {}).get("podUid")
        if (owner is None or _meta(owner).get("uid") != uid) and now - created > grace:
            out.append(Violation("group-without-pod", _name(group), f"no pod with uid {uid}"))

    holders: dict[str, list[str]] = defaultdict(list)
    for group in by_key.values():
        status = group.get("status") or {}
        if status.get("ip") and not is_terminal(status.get("phase")):
            holders[status["ip"]].append(_name(group))
    for ip, names in sorted(holders.items()):
        if len(names) > 1:
            out.append(Violation("ip-assigned-twice", ip, ", ".join(sorted(names))))

    down = _zones_down(profiles)
    for name, node in sorted(virtual.items()):
        zone = (_meta(node).get("labels") or {}).get(ZONE_LABEL)
        if zone not in down and not _ready(node):
            out.append(
                Violation("node-not-ready", str(name), f"zone {zone} is available but the node is not Ready")
            )
    return out


def _status_agrees(
    pod: Mapping[str, Any], group: Mapping[str, Any], now: dt.datetime, grace: dt.timedelta
) -> list[Violation]:
    status = group.get("status") or {}
    phase = status.get("phase")
    if phase is None or phase == ContainerGroupPhase.TERMINATING.value:
        return []
    group_times = [status.get(k) for k in ("scheduledAt", "startedAt", "finishedAt")]
    group_times += [i.get("start") for i in status.get("billedIntervals") or []]
    known = [t for t in [_time(_latest_change(pod)), *(_time(t) for t in group_times)] if t is not None]
    changed = max(known) if known else now
    if now - changed < dt.timedelta(seconds=5):
        return []  # a write-back may be in flight
    out = []
    policy = (pod.get("spec") or {}).get("restartPolicy")
    want = pod_phase(ContainerGroupPhase(phase), status.get("reason"), policy)
    have = (pod.get("status") or {}).get("phase")
    if have != want:
        out.append(Violation("status-disagrees", _name(pod), f"pod phase {have}, ContainerGroup {phase}"))
    ip = status.get("ip")
    if ip and not is_terminal(phase) and (pod.get("status") or {}).get("podIP") != ip:
        out.append(
            Violation(
                "status-disagrees", _name(pod), f"podIP {(pod.get('status') or {}).get('podIP')}, group {ip}"
            )
        )
    return out


def _latest_change(pod: Mapping[str, Any]) -> str | None:
    times = [c.get("lastTransitionTime") for c in (pod.get("status") or {}).get("conditions") or []]
    times.append(_meta(pod).get("creationTimestamp"))
    known = [t for t in times if t]
    return max(known) if known else None
