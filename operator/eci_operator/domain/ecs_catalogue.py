"""The ECS instance types ECI accepts in ``eci-use-specs``, as data: families, their kind and shape, sizes.

A pod naming an ECS type gets exactly that type's vCPUs, memory (and GPUs), so the catalogue must know each
family's kind (x86, ARM, GPU, local disk: GPU, local-disk and ARM types "can only be specified with types of
the same kind"), its vCPU:GiB ratio or, for GPU families, a per-size table. ``ecs_type`` looks a name up;
``matching_type`` finds the type a spot vCPU-memory spec is priced as. Prices are ``domain.pricing``'s.

Sources: eci.md section 3 ("Specify ECS instance types to create an elastic container instance",
help.aliyun.com/document_detail/607899.htm, and ASK's spec page for the GPU and burstable examples). The
shapes of the local-disk and GPU families and the burstable ratio suffixes are ECS's own instance-family
pages (alibabacloud.com/help/en/ecs/user-guide/overview-of-instance-families); they are not in the fact
sheet, so they are our catalogue entries, listed in the README.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Final

from eci_operator.domain.errors import DomainError


class FamilyKind(StrEnum):
    """What ECI can mix: x86 types with each other and with vCPU-memory specs; the others only alike."""

    X86 = "x86"
    ARM = "arm"
    GPU = "gpu"
    LOCAL_DISK = "local-disk"


SIZES: Final[Mapping[str, tuple[int, int]]] = {
    # size -> (vCPUs, memory basis): memory = the family's GiB per vCPU x the basis. 13xlarge and 26xlarge
    # are 52 and 104 vCPU with the memory of 48 and 96 (ecs.c6.13xlarge = 52 vCPU / 96 GiB, eci.md section 3).
    "large": (2, 2),
    "xlarge": (4, 4),
    "2xlarge": (8, 8),
    "3xlarge": (12, 12),
    "4xlarge": (16, 16),
    "6xlarge": (24, 24),
    "8xlarge": (32, 32),
    "13xlarge": (52, 48),
    "16xlarge": (64, 64),
    "26xlarge": (104, 96),
}
BURSTABLE_SIZES: Final = ("large", "xlarge", "2xlarge", "4xlarge")
# Burstable and shared families name their ratio in a suffix: ecs.t5-c1m2.large = 2 vCPU / 4 GiB.
BURSTABLE_RATIOS: Final[Mapping[str, Fraction]] = {
    "c1m1": Fraction(1),
    "c1m2": Fraction(2),
    "c1m4": Fraction(4),
    "c2m1": Fraction(1, 2),
}
# Our rule: a g/c/r family of a generation or variant the catalogue does not list (ecs.g7a, ecs.r7se,
# ecs.g10) is x86 with the letter's ratio, as before the catalogue existed.
GENERIC_RATIOS: Final[Mapping[str, int]] = {"g": 4, "c": 2, "r": 8}


@dataclass(frozen=True)
class Family:
    """One ECS family: its kind and either a GiB-per-vCPU ratio or a per-size table (vCPU, GiB, GPUs)."""

    kind: FamilyKind
    gib_per_vcpu: Fraction | None = None
    shapes: Mapping[str, tuple[int, int, int]] = field(default_factory=dict)
    gpu_model: str | None = None
    burstable: bool = False


def _ratio(gib: int | Fraction, kind: FamilyKind = FamilyKind.X86) -> Family:
    return Family(kind=kind, gib_per_vcpu=Fraction(gib))


def _gpu(model: str, shapes: Mapping[str, tuple[int, int, int]]) -> Family:
    return Family(kind=FamilyKind.GPU, shapes=shapes, gpu_model=model)


FAMILIES: Final[Mapping[str, Family]] = {
    # x86, newest first (also the order in which a spot vCPU-memory spec is matched to a type)
    "g7": _ratio(4), "c7": _ratio(2), "r7": _ratio(8),
    "hfg7": _ratio(4), "hfc7": _ratio(2), "hfr7": _ratio(8), "g7ne": _ratio(4),
    "g6e": _ratio(4), "c6e": _ratio(2), "r6e": _ratio(8),
    "g6": _ratio(4), "c6": _ratio(2), "r6": _ratio(8), "hfg6": _ratio(4), "hfc6": _ratio(2),
    "g5": _ratio(4), "c5": _ratio(2), "r5": _ratio(8), "ic5": _ratio(1), "g5ne": _ratio(4),
    "hfg5": _ratio(4), "hfc5": _ratio(2),
    "sn2ne": _ratio(4), "sn1ne": _ratio(2), "se1ne": _ratio(8), "se1": _ratio(8),
    # ARM (Yitian 710): need the profile's enableLinuxArm64Node
    "g8y": _ratio(4, FamilyKind.ARM), "c8y": _ratio(2, FamilyKind.ARM), "r8y": _ratio(8, FamilyKind.ARM),
    # local disks (NVMe SSD: i2, i3; HDD: d1ne)
    "i2": _ratio(8, FamilyKind.LOCAL_DISK), "i3": _ratio(8, FamilyKind.LOCAL_DISK),
    "d1ne": _ratio(4, FamilyKind.LOCAL_DISK),
    # GPU: size -> (vCPU, GiB, GPUs)
    "gn6i-c4g1": _gpu("NVIDIA T4", {"xlarge": (4, 15, 1)}),
    "gn6i-c8g1": _gpu("NVIDIA T4", {"2xlarge": (8, 31, 1)}),
    "gn6i-c16g1": _gpu("NVIDIA T4", {"4xlarge": (16, 62, 1)}),
    "gn6v-c8g1": _gpu(
        "NVIDIA V100", {"2xlarge": (8, 32, 1), "8xlarge": (32, 128, 4), "16xlarge": (64, 256, 8)}
    ),
    "gn5i-c4g1": _gpu("NVIDIA P4", {"xlarge": (4, 16, 1)}),
    "gn5i-c8g1": _gpu("NVIDIA P4", {"2xlarge": (8, 32, 1)}),
}  # fmt: skip
BURSTABLE_FAMILIES: Final = ("t6", "t5", "s6", "u1")

_NAME = re.compile(r"ecs\.(?P<family>[a-z]+[0-9]+[a-z]*(?:-[a-z0-9]+)?)\.(?P<size>[0-9a-z]+)")
_GENERIC = re.compile(r"(?P<letter>[a-z]+)(?P<generation>[0-9]+)(?P<variant>[a-z]*)")


@dataclass(frozen=True)
class EcsType:
    """A resolved ECS type name: its family, kind, vCPUs, memory and GPUs."""

    name: str
    family: str
    kind: FamilyKind
    vcpu: int
    memory_gib: Fraction
    gpus: int = 0
    burstable: bool = False


def _families_text() -> str:
    named = ", ".join(FAMILIES)
    burstable = ", ".join(f"{b}-<{'|'.join(BURSTABLE_RATIOS)}>" for b in BURSTABLE_FAMILIES)
    return f"families {named}; burstable {burstable}; any g|c|r<generation>[variant]"


def _sized(name: str, family_name: str, family: Family, size: str, field: str) -> EcsType:
    if family.shapes:
        if size not in family.shapes:
            raise DomainError(
                field, name, f"size {size!r} is not offered in family {family_name}", ", ".join(family.shapes)
            )
        vcpu, memory, gpus = family.shapes[size]
        return EcsType(name, family_name, family.kind, vcpu, Fraction(memory), gpus)
    if size not in SIZES:
        raise DomainError(
            field,
            name,
            f"size {size!r} is not supported",
            "sizes " + ", ".join(f"{s} ({v} vCPU)" for s, (v, _) in SIZES.items()),
        )
    assert family.gib_per_vcpu is not None
    vcpu, basis = SIZES[size]
    return EcsType(
        name, family_name, family.kind, vcpu, family.gib_per_vcpu * basis, burstable=family.burstable
    )


def _family(family_name: str, name: str, field: str) -> Family:
    """The catalogue's family, a burstable one with a ratio suffix, or a generic g/c/r; else an error."""
    if family_name in FAMILIES:
        return FAMILIES[family_name]
    base, dash, suffix = family_name.partition("-")
    if dash and base in BURSTABLE_FAMILIES and suffix in BURSTABLE_RATIOS:
        return Family(kind=FamilyKind.X86, gib_per_vcpu=BURSTABLE_RATIOS[suffix], burstable=True)
    generic = _GENERIC.fullmatch(family_name)
    if generic and generic["letter"] in GENERIC_RATIOS:
        if generic["generation"].startswith("0"):
            raise DomainError(
                field,
                name,
                f"generation {generic['generation']!r} is not a positive integer",
                "a generation like 6, 7 or 8, optionally with a variant suffix like 7a",
            )
        if len(generic["variant"]) > 3:
            raise DomainError(
                field,
                name,
                f"variant suffix {generic['variant']!r} is too long",
                "at most 3 lowercase letters after the generation (e.g. ecs.g7a, ecs.r7se)",
            )
        return _ratio(GENERIC_RATIOS[generic["letter"]])
    raise DomainError(field, name, f"ECS family {family_name!r} is not supported", _families_text())


def is_ecs_name(token: str) -> bool:
    """Whether ``token`` has the shape of an ECS type name (``ecs.<family>.<size>``)."""
    return _NAME.fullmatch(token) is not None


def ecs_type(name: str, *, field: str) -> EcsType:
    """The catalogue entry of ``name`` (lowercase, as ECI writes it); else a DomainError naming ``field``."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise DomainError(field, name, "not an ECS type name", "ecs.<family>.<size>, e.g. ecs.g7.xlarge")
    family_name, size = match["family"], match["size"]
    family = _family(family_name, name, field)
    if family.burstable and size not in BURSTABLE_SIZES:
        raise DomainError(
            field, name, f"size {size!r} is not offered for burstable types", ", ".join(BURSTABLE_SIZES)
        )
    return _sized(name, family_name, family, size, field)


def catalogue_names() -> list[str]:
    """Every type the catalogue lists explicitly (each family with each of its sizes; burstables too)."""
    names = []
    for family_name, family in FAMILIES.items():
        for size in family.shapes or SIZES:
            names.append(f"ecs.{family_name}.{size}")
    for base in BURSTABLE_FAMILIES:
        for suffix in BURSTABLE_RATIOS:
            names.extend(f"ecs.{base}-{suffix}.{size}" for size in BURSTABLE_SIZES)
    return names


def matching_type(vcpu: Fraction, memory_gib: Fraction) -> str | None:
    """The x86 type a vCPU-memory spec runs on for pricing (the first family in catalogue order), or None.

    Spot by vCPU and memory is priced at "the matched ECS type's market price" (eci.md section 5); which
    type ECI matches is not published, so ours is the first non-burstable x86 family, newest first.
    """
    for family_name, family in FAMILIES.items():
        if family.kind is not FamilyKind.X86 or family.gib_per_vcpu is None:
            continue
        for size, (size_vcpu, basis) in SIZES.items():
            if size_vcpu == vcpu and family.gib_per_vcpu * basis == memory_gib:
                return f"ecs.{family_name}.{size}"
    return None
