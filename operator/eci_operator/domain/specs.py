"""The ECI instance specs: the supported vCPU/memory table, ECS instance types, rounding and naming.

ECI bills the spec it creates, not what the containers ask for, so how a request is rounded and how a spec
is named (``2.0-4.0Gi``, the value ECI writes to ``k8s.aliyun.com/eci-instance-spec``) must be exact and
deterministic. This module is the single source of those rules; see README "Resolving a pod's ECI spec".
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from enum import StrEnum
from fractions import Fraction

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from eci_operator.domain.errors import DomainError

F = Fraction

# vCPU -> supported memory sizes in GiB (current table, all regions; eci.md section 3).
SPEC_TABLE: dict[Fraction, tuple[Fraction, ...]] = {
    F(1, 4): (F(1, 2), F(1)),
    F(1, 2): (F(1), F(2)),
    F(1): (F(2), F(4), F(8)),
    F(2): (F(1), F(2), F(4), F(8), F(16)),
    F(4): (F(2), F(4), F(8), F(16), F(32)),
    F(8): (F(4), F(8), F(16), F(32), F(64)),
    F(12): (F(12), F(24), F(48), F(96)),
    F(16): (F(16), F(32), F(64), F(128)),
    F(24): (F(24), F(48), F(96), F(192)),
    F(32): (F(32), F(64), F(128), F(256)),
    F(52): (F(96), F(192), F(384)),
    F(64): (F(128), F(256), F(512)),
}
MAX_VCPU = max(SPEC_TABLE)
MAX_MEMORY_GIB = max(max(row) for row in SPEC_TABLE.values())
DEFAULT_VCPU = F(2)
DEFAULT_MEMORY_GIB = F(4)

# ECS instance types: family letter -> GiB per vCPU; size -> vCPUs.
ECS_FAMILIES: dict[str, int] = {"c": 2, "g": 4, "r": 8}
ECS_SIZES: dict[str, int] = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32}

_VCPU_MEMORY = re.compile(r"(?P<vcpu>[0-9]{1,4}(?:\.[0-9]{1,4})?)-(?P<memory>[0-9]{1,4}(?:\.[0-9]{1,4})?)Gi")
# Our rule: the generation is a positive integer optionally followed by up to three lowercase letters
# (ecs.g7a, ecs.c6e, ecs.g8i, ecs.r7se): the suffix names a CPU vendor or variant and does not change the
# vCPU:memory ratio, so it is kept in the name and otherwise ignored.
_ECS_TYPE = re.compile(
    r"ecs\.(?P<family>[a-z]+)(?P<generation>[0-9]+)(?P<variant>[a-z]*)\.(?P<size>[0-9a-z]+)"
)

SPEC_ALLOWED = (
    "a supported '<vCPU>-<memory>Gi' spec from the table (e.g. 2-4Gi, 0.5-1Gi) or an ECS type "
    "'ecs.<g|c|r><generation>.<large|xlarge|2xlarge|4xlarge|8xlarge>' (e.g. ecs.g7.xlarge)"
)


class CandidateKind(StrEnum):
    """Whether a spec is a vCPU-memory pair of the table or an ECS instance type."""

    VCPU_MEMORY = "vcpu-memory"
    ECS_TYPE = "ecs-type"


class Candidate(BaseModel):
    """A normalised instance spec: ``name`` is what ECI writes to ``eci-instance-spec``."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="forbid")

    name: str
    vcpu: float
    memory_gib: float = Field(alias="memoryGiB")
    kind: CandidateKind

    @property
    def vcpu_fraction(self) -> Fraction:
        """The exact vCPU count (table values and ECS sizes are exact binary fractions)."""
        return Fraction(self.vcpu)

    @property
    def memory_fraction(self) -> Fraction:
        """The exact memory size in GiB."""
        return Fraction(self.memory_gib)


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
    """The candidate of a table entry (the caller guarantees it is in the table)."""
    return Candidate(
        name=spec_name(vcpu, memory),
        vcpu=float(vcpu),
        memory_gib=float(memory),
        kind=CandidateKind.VCPU_MEMORY,
    )


def _describe_table() -> str:
    return "; ".join(
        f"{format_amount(v)} vCPU: {', '.join(format_amount(m) for m in row)} GiB"
        for v, row in SPEC_TABLE.items()
    )


def parse_spec(token: str, *, field: str) -> Candidate:
    """One spec as written in ``eci-use-specs`` (or a stock key), normalised.

    ``2-4Gi`` and ``2.0-4.0Gi`` are the same spec; an ECS type is kept as written (lowercase only).
    """
    if match := _VCPU_MEMORY.fullmatch(token):
        vcpu, memory = Fraction(match["vcpu"]), Fraction(match["memory"])
        if vcpu not in SPEC_TABLE:
            raise DomainError(
                field,
                token,
                f"{format_amount(vcpu)} vCPU is not a supported size",
                "vCPU one of " + ", ".join(format_amount(v) for v in SPEC_TABLE),
            )
        if memory not in SPEC_TABLE[vcpu]:
            raise DomainError(
                field,
                token,
                f"{format_amount(memory)} GiB is not offered with {format_amount(vcpu)} vCPU",
                f"with {format_amount(vcpu)} vCPU: "
                + ", ".join(format_amount(m) for m in SPEC_TABLE[vcpu])
                + " GiB",
            )
        return table_candidate(vcpu, memory)
    if match := _ECS_TYPE.fullmatch(token):
        family, generation, variant, size = (
            match["family"],
            match["generation"],
            match["variant"],
            match["size"],
        )
        if family not in ECS_FAMILIES:
            raise DomainError(
                field, token, f"ECS family {family!r} is not supported", "families g (1:4), c (1:2), r (1:8)"
            )
        if generation.startswith("0"):
            raise DomainError(
                field,
                token,
                f"generation {generation!r} is not a positive integer",
                "a generation like 6, 7 or 8, optionally with a variant suffix like 7a",
            )
        if len(variant) > 3:
            raise DomainError(
                field,
                token,
                f"variant suffix {variant!r} is too long",
                "at most 3 lowercase letters after the generation (e.g. ecs.g7a, ecs.r7se)",
            )
        if size not in ECS_SIZES:
            raise DomainError(
                field,
                token,
                f"size {size!r} is not supported",
                "sizes " + ", ".join(f"{s} ({v} vCPU)" for s, v in ECS_SIZES.items()),
            )
        vcpu_count = ECS_SIZES[size]
        return Candidate(
            name=token,
            vcpu=float(vcpu_count),
            memory_gib=float(vcpu_count * ECS_FAMILIES[family]),
            kind=CandidateKind.ECS_TYPE,
        )
    raise DomainError(field, token, "not a vCPU-memory spec or an ECS instance type", SPEC_ALLOWED)


def round_up(vcpu: Fraction, memory: Fraction, *, vcpu_field: str, memory_field: str) -> Candidate:
    """The smallest supported spec that holds ``vcpu`` and ``memory`` GiB.

    Rule: the smallest vCPU row >= the CPU, then the smallest memory in that row >= the memory; if that
    row has none, the next row, and so on. Raises DomainError above 64 vCPU or 512 GiB.
    """
    if vcpu > MAX_VCPU:
        raise DomainError(
            vcpu_field,
            f"{float(vcpu):g} vCPU",
            "more CPU than the largest ECI spec",
            f"at most {format_amount(MAX_VCPU)} vCPU per pod",
        )
    if memory > MAX_MEMORY_GIB:
        raise DomainError(
            memory_field,
            f"{float(memory):g} GiB",
            "more memory than the largest ECI spec",
            f"at most {format_amount(MAX_MEMORY_GIB)} GiB per pod",
        )
    for row_vcpu, row in SPEC_TABLE.items():
        if row_vcpu < vcpu:
            continue
        for row_memory in row:
            if row_memory >= memory:
                return table_candidate(row_vcpu, row_memory)
    raise AssertionError("unreachable: the 64 vCPU row holds 512 GiB")  # pragma: no cover


def spec_table_text() -> str:
    """The spec table as one line of text (for error messages and docs)."""
    return _describe_table()
