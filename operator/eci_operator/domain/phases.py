"""What each ECI container-group phase means, as one table: pod phase, terminal, billed, running, Event.

ECI's lifecycle page maps group states to pod phases and says which states are billed (fact sheet §5, §6);
the runtime, the pod status, the bill, the invariants and the Events all read their traits from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from eci_operator.models.containergroup import ContainerGroupPhase

P = ContainerGroupPhase


@dataclass(frozen=True)
class Traits:
    pod_phase: str  # what the pod's status.phase says
    terminal: bool  # the group is over: nothing changes any more, it holds no instance
    billed: bool  # time in this phase is on the bill (while the group holds an instance)
    running: bool  # the app containers run (exits, OOM kills, spot notices apply)
    event: str | None  # the Event posted on entering the phase; "" = the group's own reason


PHASES: dict[ContainerGroupPhase, Traits] = {
    P.SCHEDULING: Traits("Pending", terminal=False, billed=False, running=False, event=None),
    P.PENDING: Traits("Pending", terminal=False, billed=True, running=False, event=None),
    P.RUNNING: Traits("Running", terminal=False, billed=True, running=True, event="ContainerInstanceCreated"),
    P.RESTARTING: Traits("Pending", terminal=False, billed=True, running=True, event=None),
    P.UPDATING: Traits("Pending", terminal=False, billed=True, running=True, event=None),
    P.TERMINATING: Traits("Running", terminal=False, billed=True, running=False, event=None),
    P.SUCCEEDED: Traits("Succeeded", terminal=True, billed=False, running=False, event=None),
    P.FAILED: Traits("Failed", terminal=True, billed=False, running=False, event=""),
    P.EXPIRED: Traits("Failed", terminal=True, billed=False, running=False, event=""),
    P.SCHEDULE_FAILED: Traits("Failed", terminal=True, billed=False, running=False, event="ProviderFailed"),
}
TERMINAL = frozenset(p for p, t in PHASES.items() if t.terminal)
BILLED = frozenset(p for p, t in PHASES.items() if t.billed)
RUNNING = frozenset(p for p, t in PHASES.items() if t.running)
# The reason of an instance failed by eci-max-pending-minute (ECI's page names none: README, "Our rules").
PENDING_TIMEOUT = "PendingTimeout"


def traits(phase: ContainerGroupPhase | str | None) -> Traits | None:
    """The traits of ``phase`` (a phase or its wire name); None for no phase or an unknown name."""
    if phase is None:
        return None
    try:
        return PHASES[ContainerGroupPhase(phase)]
    except ValueError:
        return None


def pod_phase(
    phase: ContainerGroupPhase | str | None, reason: str | None = None, restart_policy: str | None = None
) -> str:
    """The pod phase for a group phase (Pending before the group has one).

    One exception to the table: an instance failed by ``eci-max-pending-minute`` leaves the pod Pending
    unless its restartPolicy is ``Never`` (ECI's max-pending page).
    """
    if reason == PENDING_TIMEOUT and (restart_policy or "Always") != "Never":
        return "Pending"
    t = traits(phase)
    return t.pod_phase if t else "Pending"


def is_terminal(phase: ContainerGroupPhase | str | None) -> bool:
    t = traits(phase)
    return bool(t and t.terminal)


def is_billed(phase: ContainerGroupPhase | str | None) -> bool:
    t = traits(phase)
    return bool(t and t.billed)
