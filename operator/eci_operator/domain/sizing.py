"""Choosing a pod's instance specs: which table, rounding, ``eci-use-specs`` fitted onto it, GPU and ARM.

ECI sizes a pod on the spec table of its region (spot: the spot table), rounds the containers' sum up onto
it, and rounds an ``eci-use-specs`` vCPU-memory entry that is not on it up the same way (billed as rounded,
not refused). ARM types need the profile's ARM virtual node; ``nvidia.com/gpu`` needs a GPU type. This
module makes those decisions and says where each came from; ``domain.resolve`` reads the annotations and
attributes the errors. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eci_operator.domain import annotations as ann
from eci_operator.domain.errors import DomainError
from eci_operator.domain.pods import IGNORE_ENV, IGNORE_VALUE, PodFacts
from eci_operator.domain.resolution import SOURCE_CONTAINERS, SOURCE_DEFAULT
from eci_operator.domain.spec_tables import TABLES, TableName, table_name
from eci_operator.domain.specs import (
    DEFAULT_MEMORY_GIB,
    DEFAULT_VCPU,
    Candidate,
    fit,
    round_up,
    table_candidate,
)
from eci_operator.models import ECIProfileSpec

ARM_SETTING = "spec.enableLinuxArm64Node"
GPU_EXAMPLE = "ecs.gn6i-c4g1.xlarge"


def rounded_source(written: str) -> str:
    """The source of a candidate rounded up from an ``eci-use-specs`` entry: ``rounded:<as written>``."""
    return f"rounded:{written}"


def table_source(region_id: str, *, spot: bool) -> str:
    """The source of the table choice: ``region:<regionId>``, or ``spot:<regionId>`` for spot."""
    return f"{'spot' if spot else 'region'}:{region_id}"


@dataclass(frozen=True)
class SpecChoice:
    """The candidates, the table they were fitted on, their sources, and what is wrong.

    ``use_spec_errors`` are about the ``eci-use-specs`` value (the caller names its source, e.g. a
    selector); ``errors`` are about the pod itself.
    """

    candidates: tuple[Candidate, ...]
    table: TableName
    sources: dict[str, str]
    errors: list[DomainError] = field(default_factory=list)
    use_spec_errors: list[DomainError] = field(default_factory=list)


def _fitted(
    written: tuple[Candidate, ...], choice_table: TableName
) -> tuple[list[Candidate], dict[str, str]]:
    """Each entry rounded onto the table; an entry rounded onto an earlier one's spec is dropped."""
    table = TABLES[choice_table]
    out: list[Candidate] = []
    sources: dict[str, str] = {}
    for candidate in written:
        fitted = fit(candidate, table, field=ann.USE_SPECS)
        if any(c.name == fitted.name for c in out):
            continue
        if fitted != candidate:
            sources[f"candidates[{len(out)}]"] = rounded_source(candidate.name)
        out.append(fitted)
    return out, sources


def _arm_errors(candidates: tuple[Candidate, ...], profile: ECIProfileSpec) -> list[DomainError]:
    if profile.enable_linux_arm64_node:
        return []
    return [
        DomainError(
            ann.USE_SPECS,
            c.name,
            "ARM types run only on ASK's ARM virtual node, which the ECIProfile does not enable",
            f"{ARM_SETTING}: true on the ECIProfile (ASK's enableLinuxArm64Node), or a non-ARM spec",
        )
        for c in candidates
        if c.arm
    ]


def _gpu_errors(candidates: tuple[Candidate, ...], facts: PodFacts) -> list[DomainError]:
    wanted = facts.size.gpus
    short = [c.name for c in candidates if c.gpus < wanted]
    if not wanted or not short:
        return []
    why = (
        f"no GPU ECS type in {ann.USE_SPECS}"
        if all(c.gpus == 0 for c in candidates)
        else f"{', '.join(short)} has fewer than {wanted} GPU(s)"
    )
    return [
        DomainError(
            facts.size.gpu_field,
            f"{wanted} GPU(s)",
            why,
            f"GPU ECS types with at least {wanted} GPU(s) in {ann.USE_SPECS} (e.g. {GPU_EXAMPLE})",
        )
    ]


def choose(
    facts: PodFacts,
    profile: ECIProfileSpec,
    *,
    use_specs: tuple[Candidate, ...] | None,
    use_specs_set: bool,
    spot: bool,
) -> SpecChoice:
    """The specs ECI tries for ``facts`` on ``profile``.

    ``use_specs``: the parsed ``eci-use-specs`` (None when absent or invalid; ``use_specs_set`` says
    whether it was given at all, so a pod too big to compute is not reported when it names its spec).
    """
    chosen = table_name(profile.region_id, spot=spot)
    sources = {"specTable": table_source(profile.region_id, spot=spot)}
    if facts.ignored_containers:
        sources["ignoredContainers"] = f"env:{IGNORE_ENV}={IGNORE_VALUE}"
    errors: list[DomainError] = []
    size = facts.size
    computed: Candidate | None = None
    try:
        computed = round_up(
            size.vcpu,
            size.memory_gib,
            vcpu_field=size.vcpu_field,
            memory_field=size.memory_field,
            table=TABLES[chosen],
        )
    except DomainError as error:
        if not use_specs_set:
            errors.append(error)
    if use_specs is None:
        if size.vcpu == 0 and size.memory_gib == 0:
            candidates: tuple[Candidate, ...] = (table_candidate(DEFAULT_VCPU, DEFAULT_MEMORY_GIB),)
            sources["candidates"] = SOURCE_DEFAULT
        else:
            candidates = (computed or table_candidate(DEFAULT_VCPU, DEFAULT_MEMORY_GIB),)
            sources["candidates"] = SOURCE_CONTAINERS
        use_spec_errors: list[DomainError] = []
    else:
        fitted, rounded = _fitted(use_specs, chosen)
        candidates = tuple(fitted)
        sources.update(rounded)
        use_spec_errors = _arm_errors(candidates, profile)
    errors += _gpu_errors(candidates, facts)
    return SpecChoice(candidates, chosen, sources, errors, use_spec_errors)
