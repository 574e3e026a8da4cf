"""Reconcile one pod on a virtual node: resolve → record (ContainerGroup) → run → reflect (pods/status).

Idempotent and keyed on state that can be read back: the ContainerGroup says what was decided and what the
runtime did; after a restart the runtime adopts it again, so a pod keeps its instance and IP. Happy path
with zero start-up delay: ContainerGroup create, one ContainerGroup status write, one pods/status write that
carries ECI's annotations too. Nothing is written that did not change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import structlog

from eci_operator.domain import nodes as node_rules
from eci_operator.domain import pricing
from eci_operator.domain.errors import DomainError
from eci_operator.domain.lifecycle import Lifecycle, parse_lifecycle
from eci_operator.domain.podstatus import desired_pod_status, pending_status, status_patch
from eci_operator.domain.resolve import resolve, vswitches_for_zone
from eci_operator.handlers import instruments
from eci_operator.handlers.announce import INPUT_HASH, announce, check_edits, input_hash, pod_event
from eci_operator.handlers.billing import Charge
from eci_operator.handlers.state import Body, State
from eci_operator.kube import paths
from eci_operator.kube.client import ApiError
from eci_operator.models.containergroup import (
    ContainerGroup,
    ContainerGroupPhase,
    ContainerGroupStatus,
)
from eci_operator.models.profile import ECIProfile
from eci_operator.runtime.protocol import GroupRequest, Key

log = structlog.get_logger("eci_operator.pods")


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return body.get("metadata") or {}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def is_daemonset_pod(pod: Mapping[str, Any]) -> bool:
    return any(ref.get("kind") == "DaemonSet" for ref in _meta(pod).get("ownerReferences") or [])


async def reconcile_pod(state: State, key: Key) -> None:
    pod = state.pods.get(key)
    group = state.groups.get(key)
    if pod is None:
        await _forget(state, key, group)
        return
    node = (pod.get("spec") or {}).get("nodeName")
    node_body = state.nodes.get(("", node)) if node else None
    if node_body is None:
        return
    uid = str(_meta(pod).get("uid"))
    if group is not None and (group.get("spec") or {}).get("podUid") != uid:
        # A group left by an earlier pod of the same name: it is not this pod's.
        await _forget(state, key, group)
        group = None
    if _meta(pod).get("deletionTimestamp"):
        await _finish_deletion(state, key, pod, group)
        return
    if is_daemonset_pod(pod):
        await _hold_daemonset_pod(state, pod)
        return
    if group is None:
        group = await _create_group(state, key, pod, node_body)
        if group is None:
            return
    await _sync(state, key, pod, group)


# --------------------------------------------------------------------------------------------- creation
async def _create_group(state: State, key: Key, pod: Body, node_body: Body) -> Body | None:
    namespace, name = key
    labels = _meta(node_body).get("labels") or {}
    profile_name = labels.get(node_rules.PROFILE_LABEL, "")
    zone = labels.get(node_rules.ZONE_LABEL, "")
    uid = str(_meta(pod).get("uid"))
    bound = log.bind(pod=name, namespace=namespace, uid=uid)
    profile = state.profiles.get(profile_name)
    failure: tuple[str, str] | None = None
    body: Body | None = None
    if profile is None:
        failure = (
            "ProfileNotFound",
            f"ECIProfile {profile_name!r} of node {labels.get('kubernetes.io/hostname')} not found",
        )
    else:
        try:
            resolution = resolve(
                pod, profile.spec, namespace_labels=state.namespace_labels.get(namespace, {})
            )
            lifecycle_of(pod, profile)
            vswitches_for_zone(resolution, profile.spec, zone)
            cg = resolution.container_group(
                pod_name=name,
                pod_uid=uid,
                namespace=namespace,
                node_name=str((pod.get("spec") or {}).get("nodeName")),
                zone_id=zone,
                profile_name=profile_name,
            )
            body = cg.to_dict()
            bound.info(
                "pod.resolved",
                spec=resolution.instance_spec,
                candidates=[c.name for c in resolution.candidates],
                zone=zone,
                vswitches=cg.spec.vswitch_ids,
                sources=resolution.sources,
            )
        except DomainError as exc:
            failure = ("InvalidInput", str(exc))
    if body is None:
        assert failure is not None
        body = _failed_group_body(pod, profile_name, zone, labels)
    body.setdefault("metadata", {}).setdefault("annotations", {})[INPUT_HASH] = input_hash(pod)
    try:
        created = await state.client.create(paths.container_groups(namespace), body)
    except ApiError as exc:
        if exc.status != 409:
            raise
        created = await state.client.get(paths.container_group(namespace, name))
        if (created.get("spec") or {}).get("podUid") != uid:
            raise  # an old group still being deleted: retry later
    state.groups.put(key, created)
    if failure is not None:
        reason, message = failure
        bound.warning("pod.rejected", reason=reason, error=message)
        status = ContainerGroupStatus(
            phase=ContainerGroupPhase.SCHEDULE_FAILED, reason=reason, message=message, finished_at=_now()
        )
        await _write_group_status(state, key, created, status)
        state.events.post(pod_event(pod, "ProviderFailed", message, warning=True))
        return state.groups.get(key)  # the failure record: _sync reflects it into the pod
    return created


def _failed_group_body(pod: Body, profile: str, zone: str, node_labels: Mapping[str, str]) -> Body:
    """The record of a creation refused for bad input: who and where, and no resolved spec."""
    meta = _meta(pod)
    return {
        "apiVersion": "eci.ask.dev/v1alpha1",
        "kind": "ContainerGroup",
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "labels": {node_rules.PROFILE_LABEL: profile, node_rules.ZONE_LABEL: zone},
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": meta.get("name"),
                    "uid": meta.get("uid"),
                    "controller": True,
                }
            ],
        },
        "spec": {
            "podName": meta.get("name"),
            "podUid": meta.get("uid"),
            "nodeName": (pod.get("spec") or {}).get("nodeName"),
            "profile": profile,
            "regionId": node_labels.get(node_rules.REGION_LABEL, ""),
            "zoneId": zone,
        },
    }


def lifecycle_of(pod: Body, profile: ECIProfile | None) -> Lifecycle:
    sim = profile.spec.simulation if profile else None
    return parse_lifecycle(
        pod,
        default_startup_delay=sim.startup_delay_seconds if sim else 0.0,
        default_startup_jitter=sim.startup_jitter_seconds if sim else 0.0,
        default_spot_reclaim_after=sim.spot_reclaim_after_seconds if sim else None,
    )


def _request(state: State, key: Key, pod: Body, group: ContainerGroup) -> GroupRequest | None:
    profile = state.profiles.get(group.spec.profile)
    by_id = {v.id: v for v in profile.spec.vswitches} if profile else {}
    lifecycle = lifecycle_of(pod, profile)
    return GroupRequest(
        namespace=key[0],
        name=key[1],
        uid=group.spec.pod_uid,
        spec=group.spec,
        vswitches=tuple(by_id[v] for v in group.spec.vswitch_ids or [] if v in by_id),
        lifecycle=lifecycle,
        seed=profile.spec.simulation.seed if profile else 0,
    )


async def adopt_recorded(state: State) -> int:
    """After a restart, hand every recorded live group back to the runtime before anything new is created.

    Doing it lazily (per pod reconcile) would let a new pod take an address a not-yet-adopted group holds.
    """
    adopted = 0
    for key, group_body in list(state.groups.items.items()):
        pod = state.pods.get(key)
        if pod is None or state.runtime.get(key) is not None:
            continue
        group = ContainerGroup.model_validate(group_body)
        recorded = group.status
        if group.spec.pod_uid != _meta(pod).get("uid") or recorded is None or recorded.phase is None:
            continue
        if recorded.phase == ContainerGroupPhase.SCHEDULE_FAILED or not group.spec.candidates:
            continue
        try:
            request = _request(state, key, pod, group)
        except DomainError:
            continue
        if request is not None:
            await state.runtime.adopt(request, recorded)
            adopted += 1
    return adopted


# ------------------------------------------------------------------------------------------------- sync
async def _sync(state: State, key: Key, pod: Body, group_body: Body) -> None:
    group = ContainerGroup.model_validate(group_body)
    recorded = group.status or ContainerGroupStatus()
    status = state.runtime.get(key)
    if status is None:
        if recorded.phase == ContainerGroupPhase.SCHEDULE_FAILED or not group.spec.candidates:
            status = recorded
        else:
            try:
                request = _request(state, key, pod, group)
            except DomainError:
                request = None
            if request is None:
                status = recorded
            elif recorded.phase is None:
                status = await state.runtime.create(request)
            else:
                status = await state.runtime.adopt(request, recorded)
    if status.phase is None:
        return
    if status != recorded:
        await _write_group_status(state, key, group_body, status)
        announce(state, pod, recorded, status)
        state.check_zone(group.spec.zone_id)
    check_edits(state, key, pod, group_body)
    desired, annotations = desired_pod_status(pod, status, _now())
    patch = status_patch(pod, desired, annotations)
    if patch is not None:
        await _patch_pod_status(state, key, pod, patch)
        if _ready(desired) and not _ready(pod.get("status") or {}):
            bound = _condition_time(pod, "PodScheduled") or _meta(pod).get("creationTimestamp")
            if bound:
                instruments.PROVISIONING.observe(max(0.0, (_now() - _parse(bound)).total_seconds()))


def _ready(status: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def _condition_time(pod: Mapping[str, Any], kind: str) -> str | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c.get("lastTransitionTime")  # type: ignore[no-any-return]
    return None


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def _write_group_status(state: State, key: Key, group_body: Body, status: ContainerGroupStatus) -> None:
    meta = _meta(group_body)
    body = {"metadata": {"uid": meta.get("uid")}, "status": status.to_dict()}
    try:
        updated = await state.client.merge_patch(paths.container_group_status(*key), body)
    except ApiError as exc:
        if exc.status in (404, 409):
            state.groups.drop(key, str(meta.get("uid")))
            return
        raise
    state.groups.put(key, updated)


async def _patch_pod_status(state: State, key: Key, pod: Body, patch: dict[str, Any]) -> None:
    patch.setdefault("metadata", {})["uid"] = _meta(pod).get("uid")
    try:
        updated = await state.client.merge_patch(paths.pod_status(*key), patch)
    except ApiError as exc:
        if exc.status in (404, 409, 422):
            return  # gone, or replaced by a pod of the same name: its own events will bring it here
        raise
    state.pods.put(key, updated)


# -------------------------------------------------------------------------------------------- deletion
async def _finish_deletion(state: State, key: Key, pod: Body, group: Body | None) -> None:
    """As the kubelet: stop the instance, report the containers terminated, delete with grace 0 + uid."""
    final = await _release(state, key, group)
    if final is not None and final.phase is not None:
        desired, _ = desired_pod_status(pod, final, _now())
        desired["phase"] = (pod.get("status") or {}).get("phase") or desired["phase"]
        patch = status_patch(pod, desired, {})
        if patch is not None:
            await _patch_pod_status(state, key, pod, patch)
    uid = _meta(pod).get("uid")
    try:
        await state.client.delete(
            paths.pod(*key),
            {
                "apiVersion": "v1",
                "kind": "DeleteOptions",
                "gracePeriodSeconds": 0,
                "preconditions": {"uid": uid},
            },
        )
        log.info("pod.deleted", pod=key[1], namespace=key[0], uid=uid)
        state.deleted_pods[str(uid)] = _now()
        requested = _meta(pod).get("deletionTimestamp")
        if requested:
            instruments.DELETION.observe(max(0.0, (_now() - _parse(requested)).total_seconds()))
    except ApiError as exc:
        if exc.status not in (404, 409):
            raise
    state.pods.drop(key, str(uid))  # gone (or replaced): never taken back from a late answer
    # The ContainerGroup goes with its pod: the garbage collector deletes it (owner reference with uid), so
    # no second DELETE here; an orphan left by a missing collector is removed by the resync (_forget).


async def _forget(state: State, key: Key, group: Body | None) -> None:
    await _release(state, key, group)
    if group is None:
        return
    finished = state.deleted_pods.get(str((group.get("spec") or {}).get("podUid")))
    grace = dt.timedelta(seconds=state.settings.orphan_grace_seconds)
    if finished is not None and _now() - finished < grace:
        return  # we just deleted its pod: the garbage collector is deleting it; the resync checks later
    await _delete_group(state, key, group)


async def _release(state: State, key: Key, group_body: Body | None) -> ContainerGroupStatus | None:
    """Stop the instance and put its final cost on the profile's bill, before its record can go."""
    final = await state.runtime.delete(key)
    if group_body is None:
        return final
    group = ContainerGroup.model_validate(group_body)
    state.check_zone(group.spec.zone_id)
    uid = str(_meta(group_body).get("uid"))
    status = final or group.status
    if uid in state.billed or status is None or not status.price_per_second:
        return final
    now = _now()
    intervals = [(i.phase.value, i.start, i.end or now) for i in status.billed_intervals]
    seconds = pricing.billed_seconds(intervals, now)
    charge = Charge(
        namespace=key[0],
        vcpu_seconds=seconds * Decimal(str(status.vcpu or 0)),
        gib_seconds=seconds * Decimal(str(status.memory_gib or 0)),
        cost=pricing.cost(Decimal(status.price_per_second), seconds),
    )
    await state.billing.record(group.spec.profile, charge)
    state.billed.add(uid)
    return final


async def _delete_group(state: State, key: Key, group: Body) -> None:
    uid = _meta(group).get("uid")
    try:
        await state.client.delete(
            paths.container_group(*key),
            {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}},
        )
    except ApiError as exc:
        if exc.status not in (404, 409):
            raise
    state.groups.drop(key, str(uid))


# ------------------------------------------------------------------------------------------- daemonsets
async def _hold_daemonset_pod(state: State, pod: Body) -> None:
    message = (
        "DaemonSet pods are not supported on ECI virtual nodes; the pod stays Pending "
        "(tolerate the virtual-node taint only in workloads meant for ECI)"
    )
    desired = pending_status(pod, "DaemonSetNotSupported", message, _now())
    patch = status_patch(pod, desired, {})
    if patch is None:
        return
    key = (str(_meta(pod).get("namespace")), str(_meta(pod).get("name")))
    await _patch_pod_status(state, key, pod, patch)
    state.events.post(pod_event(pod, "DaemonSetNotSupported", message, warning=True))
