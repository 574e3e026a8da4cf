"""The runtime interface: what the handlers may ask of an ECI backend.

Modelled on virtual-kubelet's provider interface (CreatePod/DeletePod/GetPodStatus + NotifyPods). The
state of a group is a ``ContainerGroupStatus``: the same record the operator writes into the
ContainerGroup, so an operator restart can hand it back through ``adopt``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from eci_operator.models.containergroup import ContainerGroupSpec, ContainerGroupStatus, LifecycleScript
from eci_operator.models.profile import ECIProfileSpec, VSwitch

Key = tuple[str, str]  # (namespace, name) of the pod and its ContainerGroup
NO_SCRIPT = LifecycleScript()  # a record from before lifecycles were recorded: no scripted events


@dataclass(frozen=True)
class GroupRequest:
    """One container group to create (or re-adopt): its key and its recorded spec, nothing else.

    The record is the request (``domain.record``): specs, vSwitches with CIDRs, the seed and the lifecycle
    script were all decided at creation, so a restarted operator asks for exactly what was asked before.
    """

    namespace: str
    name: str
    spec: ContainerGroupSpec

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)

    @property
    def uid(self) -> str:
        return self.spec.pod_uid

    @property
    def vswitches(self) -> tuple[VSwitch, ...]:
        return tuple(self.spec.vswitches)

    @property
    def lifecycle(self) -> LifecycleScript:
        return self.spec.lifecycle or NO_SCRIPT

    @property
    def seed(self) -> int:
        return self.spec.seed


@dataclass(frozen=True)
class ZoneReport:
    """What a zone looks like to its virtual node: up or down, and stock left per stock entry."""

    available: bool
    exhausted: bool
    remaining: dict[str, int]


class LogEntry(Protocol):
    """One line a container printed."""

    @property
    def at(self) -> dt.datetime: ...
    @property
    def container(self) -> str: ...
    @property
    def text(self) -> str: ...


class Runtime(Protocol):
    """An ECI backend. Methods must not block the event loop; every method is idempotent.

    ``create`` for a key already known with the same uid returns the current state (no second instance);
    with another uid the old group is replaced. ``delete`` of an unknown key returns None.
    """

    async def create(self, request: GroupRequest) -> ContainerGroupStatus:
        """Create the group and return its first state (it may already be Running)."""
        ...

    async def adopt(self, request: GroupRequest, recorded: ContainerGroupStatus) -> ContainerGroupStatus:
        """Take back a group recorded before a restart: same instance, IP and timestamps."""
        ...

    async def delete(self, key: Key) -> ContainerGroupStatus | None:
        """Stop the group, release what it holds, and return its final state (None if unknown)."""
        ...

    def get(self, key: Key) -> ContainerGroupStatus | None:
        """The current state, or None. A change replaces the status object, never edits it in place, so a
        caller may tell "unchanged" by identity (``handlers.usage`` does)."""
        ...

    def list_keys(self) -> list[Key]:
        """Every group the runtime holds."""
        ...

    def subscribe(self, callback: Callable[[Key], None]) -> None:
        """Call ``callback(key)`` whenever a group's state changes on its own (timers, failures)."""
        ...

    def configure(self, profile: ECIProfileSpec, *, name: str | None = None) -> None:
        """Take a profile's capacity settings (zones, stock; with its ``name``, the creation rate limit of
        its groups, whose ``spec.profile`` is that name); may fail, retry or admit groups, announcing them."""
        ...

    def zone_report(self, zone_id: str) -> ZoneReport:
        """The zone's availability and stock, for its virtual node."""
        ...

    def logs(self, key: Key, container: str) -> Sequence[LogEntry] | None:
        """What the container printed so far (None for an unknown group)."""
        ...

    def follow_logs(self, key: Key, container: str, start: int) -> AsyncIterator[LogEntry]:
        """Lines from index ``start`` on, then new ones until the container terminates for good."""
        ...
