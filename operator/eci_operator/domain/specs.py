"""The ECI instance specs: parsing, rounding up onto a spec table, and naming.

ECI bills the spec it creates, not what the containers ask for, so how a request is rounded and how a spec
is named (``2.0-4.0Gi``, the value ECI writes to ``k8s.aliyun.com/eci-instance-spec``) must be exact and
deterministic. This module holds those rules; the tables themselves are data in ``domain.spec_tables`` and
the ECS types in ``domain.ecs_catalogue``. See README "Resolving a pod's ECI spec".
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from enum import StrEnum
from fractions import Fraction

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from eci_operator.domain.ecs_catalogue import FamilyKind, ecs_type, is_ecs_name
from eci_operator.domain.errors import DomainError
from eci_operator.domain.spec_tables import ALL_REGIONS, Table

F = Fraction

SPEC_TABLE = ALL_REGIONS  # the all-region table; a pod is sized on ``spec_tables.table_for(region)``
MAX_VCPU = max(SPEC_TABLE)
MAX_MEMORY_GIB = max(max(row) for row in SPEC_TABLE.values())
DEFAULT_VCPU = F(2)
DEFAULT_MEMORY_GIB = F(4)

_VCPU_MEMORY = re.compile(r"(?P<vcpu>[0-9]{1,4}(?:\.[0-9]{1,4})?)-(?P<memory>[0-9]{1,4}(?:\.[0-9]{1,4})?)Gi")

SPEC_ALLOWED = (
    "a '<vCPU>-<memory>Gi' spec (e.g. 2-4Gi, 0.5-1Gi; one not in the table is rounded up onto it) or an "
    "ECS type 'ecs.<family>.<size>' of the catalogue (e.g. ecs.g7.xlarge, ecs.t5-c1m2.large, "
    "ecs.gn6i-c4g1.xlarge)"
)


class CandidateKind(StrEnum):
    """Whether a spec is a vCPU-memory pair of the table or an ECS instance type."""

    VCPU_MEMORY = "vcpu-memory"
    ECS_TYPE = "ecs-type"


class Candidate(BaseModel):
    """A normalised instance spec: ``name`` is what ECI writes to ``eci-instance-spec``.

    ``family_kind`` (x86, arm, gpu, local-disk) and ``gpus`` are set for ECS types only.
    """

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="forbid")

    name: str
    vcpu: float
    memory_gib: float = Field(alias="memoryGiB")
    kind: CandidateKind
    family_kind: FamilyKind | None = None
    gpus: int = 0

    @property
    def vcpu_fraction(self) -> Fraction:
        """The exact vCPU count (table values and ECS sizes are exact binary fractions)."""
        return Fraction(self.vcpu)

    @property
    def memory_fraction(self) -> Fraction:
        """The exact memory size in GiB."""
        return Fraction(self.memory_gib)

    @property
    def arm(self) -> bool:
        """Whether the spec needs an ARM (arm64) virtual node."""
        return self.family_kind is FamilyKind.ARM


def format_amount(amount: Fraction) -> str:
    """A vCPU or GiB amount with at least one decimal: 2 -> "2.0", 1/4 -> "0.25", 1/2 -> "0.5".

    Amounts that are not finite decimals (never the case for a spec) are printed to 6 places.
    """
    if amount.denominator == 1:
        return f"{amount.numerator}.0"
    denominator = amount.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return f"{float(amount):.6f}".rstrip("0")
    with localcontext() as context:
        context.prec = 60
        return format(Decimal(amount.numerator) / Decimal(amount.denominator), "f")


def spec_name(vcpu: Fraction, memory: Fraction) -> str:
    """The ECI name of a vCPU-memory spec: ``2.0-4.0Gi``, ``0.25-0.5Gi``."""
    return f"{format_amount(vcpu)}-{format_amount(memory)}Gi"


def table_candidate(vcpu: Fraction, memory: Fraction) -> Candidate:
    """The candidate of a vCPU-memory pair (in a table, or as written before rounding)."""
    return Candidate(
        name=spec_name(vcpu, memory),
        vcpu=float(vcpu),
        memory_gib=float(memory),
        kind=CandidateKind.VCPU_MEMORY,
    )


def parse_spec(token: str, *, field: str) -> Candidate:
    """One spec as written in ``eci-use-specs`` (or a stock key), normalised; no table is consulted.

    ``2-4Gi`` and ``2.0-4.0Gi`` are the same spec. A vCPU-memory pair need not be in a table (``fit``
    rounds it up onto the pod's table) but must be positive and within the largest spec. An ECS type must
    be in the catalogue and is kept as written (lowercase only).
    """
    if match := _VCPU_MEMORY.fullmatch(token):
        vcpu, memory = Fraction(match["vcpu"]), Fraction(match["memory"])
        if vcpu == 0 or memory == 0:
            raise DomainError(field, token, "vCPU and memory must be more than 0", SPEC_ALLOWED)
        if vcpu > MAX_VCPU or memory > MAX_MEMORY_GIB:
            raise DomainError(
                field,
                token,
                "larger than the largest ECI spec",
                f"at most {format_amount(MAX_VCPU)} vCPU and {format_amount(MAX_MEMORY_GIB)} GiB",
            )
        return table_candidate(vcpu, memory)
    if is_ecs_name(token):
        found = ecs_type(token, field=field)
        return Candidate(
            name=token,
            vcpu=float(found.vcpu),
            memory_gib=float(found.memory_gib),
            kind=CandidateKind.ECS_TYPE,
            family_kind=found.kind,
            gpus=found.gpus,
        )
    raise DomainError(field, token, "not a vCPU-memory spec or an ECS instance type", SPEC_ALLOWED)


def round_up(
    vcpu: Fraction, memory: Fraction, *, vcpu_field: str, memory_field: str, table: Table = ALL_REGIONS
) -> Candidate:
    """The smallest spec of ``table`` that holds ``vcpu`` and ``memory`` GiB.

    Rule: the smallest vCPU row >= the CPU, then the smallest memory in that row >= the memory; if that
    row has none, the next row, and so on. Raises DomainError above the table's largest vCPU or memory.
    """
    max_vcpu = max(table)
    max_memory = max(max(row) for row in table.values())
    if vcpu > max_vcpu:
        raise DomainError(
            vcpu_field,
            f"{float(vcpu):g} vCPU",
            "more CPU than the largest ECI spec",
            f"at most {format_amount(max_vcpu)} vCPU per pod",
        )
    if memory > max_memory:
        raise DomainError(
            memory_field,
            f"{float(memory):g} GiB",
            "more memory than the largest ECI spec",
            f"at most {format_amount(max_memory)} GiB per pod",
        )
    for row_vcpu, row in table.items():
        if row_vcpu < vcpu:
            continue
        for row_memory in row:
            if row_memory >= memory:
                return table_candidate(row_vcpu, row_memory)
    raise AssertionError("unreachable: the largest row holds the largest memory")  # pragma: no cover


def on_table(candidate: Candidate, table: Table) -> bool:
    """Whether a vCPU-memory candidate is an entry of ``table`` (ECS types are never rounded)."""
    if candidate.kind is CandidateKind.ECS_TYPE:
        return True
    return candidate.memory_fraction in table.get(candidate.vcpu_fraction, ())


def fit(candidate: Candidate, table: Table, *, field: str) -> Candidate:
    """``candidate`` rounded up onto ``table`` (itself when it is an entry, or an ECS type)."""
    if on_table(candidate, table):
        return candidate
    return round_up(
        candidate.vcpu_fraction, candidate.memory_fraction, vcpu_field=field, memory_field=field, table=table
    )
