"""The Secrets and ConfigMaps a pod needs before its containers can start, as the kubelet reads them.

A reference is mandatory unless it says ``optional: true``: env ``valueFrom.secretKeyRef`` /
``configMapKeyRef``, ``envFrom[].secretRef`` / ``configMapRef`` (app, init and ephemeral containers alike),
and ``secret`` / ``configMap`` volumes (also inside ``projected`` volumes). A missing mandatory one keeps
the pod from starting: for env the kubelet leaves the containers Waiting with ``CreateContainerConfigError``
and the message ``secret "NAME" not found`` (``configmap "NAME" not found``); for a volume the containers
stay ``ContainerCreating`` and the kubelet posts ``FailedMount``. A missing optional one changes nothing
but an Event (virtual-kubelet's ``OptionalSecretNotFound`` / ``OptionalConfigMapNotFound``). Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from eci_operator.domain.podstatus import pending_status

SECRET, CONFIG_MAP = "Secret", "ConfigMap"
CONFIG_ERROR = "CreateContainerConfigError"
CONTAINER_CREATING = "ContainerCreating"


@dataclass(frozen=True)
class Reference:
    kind: str  # Secret or ConfigMap
    name: str
    optional: bool
    volume: str | None = None  # the volume's name, for a volume reference

    @property
    def not_found(self) -> str:
        """The kubelet's words: ``secret "db" not found``."""
        return f'{"secret" if self.kind == SECRET else "configmap"} "{self.name}" not found'

    @property
    def reason(self) -> str:
        """virtual-kubelet's Event reason: MandatorySecretNotFound, OptionalConfigMapNotFound, ..."""
        return f"{'Optional' if self.optional else 'Mandatory'}{self.kind}NotFound"

    @property
    def mount_failure(self) -> str:
        return f'MountVolume.SetUp failed for volume "{self.volume}" : {self.not_found}'


def _containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(field) or []


def _ref(
    kind: str, body: Mapping[str, Any] | None, name_field: str, volume: str | None = None
) -> Reference | None:
    if not body or not body.get(name_field):
        return None
    return Reference(kind, str(body[name_field]), bool(body.get("optional")), volume)


def references(pod: Mapping[str, Any]) -> list[Reference]:
    """Every Secret and ConfigMap the pod names, in spec order, each (kind, name, optional, volume) once."""
    spec = pod.get("spec") or {}
    found: list[Reference | None] = []
    for container in _containers(spec):
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            found.append(_ref(SECRET, source.get("secretKeyRef"), "name"))
            found.append(_ref(CONFIG_MAP, source.get("configMapKeyRef"), "name"))
        for env_from in container.get("envFrom") or []:
            found.append(_ref(SECRET, env_from.get("secretRef"), "name"))
            found.append(_ref(CONFIG_MAP, env_from.get("configMapRef"), "name"))
    for volume in spec.get("volumes") or []:
        name = str(volume.get("name"))
        found.append(_ref(SECRET, volume.get("secret"), "secretName", name))
        found.append(_ref(CONFIG_MAP, volume.get("configMap"), "name", name))
        for source in (volume.get("projected") or {}).get("sources") or []:
            found.append(_ref(SECRET, source.get("secret"), "name", name))
            found.append(_ref(CONFIG_MAP, source.get("configMap"), "name", name))
    return list(dict.fromkeys(ref for ref in found if ref is not None))


def missing(pod: Mapping[str, Any], exists: Callable[[str, str], bool]) -> list[Reference]:
    """The references whose object does not exist (``exists(kind, name)`` in the pod's namespace)."""
    return [ref for ref in references(pod) if not exists(ref.kind, ref.name)]


def waiting_status(pod: Mapping[str, Any], mandatory: list[Reference], now: dt.datetime) -> dict[str, Any]:
    """Pending, every container Waiting: CreateContainerConfigError for env, ContainerCreating for volumes."""
    env = [ref for ref in mandatory if ref.volume is None]
    first = env[0] if env else mandatory[0]
    waiting = {"reason": CONFIG_ERROR, "message": first.not_found} if env else {"reason": CONTAINER_CREATING}
    status = pending_status(pod, CONFIG_ERROR if env else "FailedMount", first.not_found, now)
    spec = pod.get("spec") or {}
    for field, status_field in (
        ("initContainers", "initContainerStatuses"),
        ("containers", "containerStatuses"),
    ):
        if spec.get(field):
            status[status_field] = [
                {
                    "name": c.get("name"),
                    "image": c.get("image"),
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "state": {"waiting": dict(waiting)},
                }
                for c in spec[field]
            ]
    return status
