"""The spec table, rounding up, ECS types and spec naming."""

from __future__ import annotations

from fractions import Fraction

import pytest

from eci_operator.domain import (
    MAX_MEMORY_GIB,
    MAX_VCPU,
    REGIONAL_REGIONS,
    SPEC_TABLE,
    CandidateKind,
    DomainError,
    FamilyKind,
    TableName,
    ecs_catalogue,
    format_amount,
    parse_spec,
    round_up,
    spec_name,
    spec_tables,
)
from eci_operator.domain.specs import fit

F = Fraction
FIELDS = {"vcpu_field": "cpu-field", "memory_field": "memory-field"}


@pytest.mark.parametrize(
    ("vcpu", "memory", "expected"),
    [
        (F(0), F(0), "0.25-0.5Gi"),
        (F(1, 4), F(1, 2), "0.25-0.5Gi"),
        (F(1, 4), F(1), "0.25-1.0Gi"),
        (F(3, 10), F(0), "0.5-1.0Gi"),  # 0.3 CPU -> the 0.5 row
        (F(1, 4), F(3, 2), "0.5-2.0Gi"),  # the 0.25 row tops out at 1 GiB -> next row
        (F(1, 2), F(3), "1.0-4.0Gi"),
        (F(1), F(0), "1.0-2.0Gi"),
        (F(2), F(0), "2.0-1.0Gi"),  # 2 CPU, no memory
        (F(2), F(4), "2.0-4.0Gi"),
        (F(2), F(5), "2.0-8.0Gi"),
        (F(2), F(16), "2.0-16.0Gi"),
        (F(2), F(17), "4.0-32.0Gi"),  # row 2 has at most 16 GiB; row 4's smallest >= 17 is 32
        (F(0), F(4), "1.0-4.0Gi"),  # memory only
        (F(0), F(64), "8.0-64.0Gi"),
        (F(0), F(65), "12.0-96.0Gi"),
        (F(9), F(1), "12.0-12.0Gi"),
        (F(8), F(65), "12.0-96.0Gi"),
        (F(12), F(97), "16.0-128.0Gi"),
        (F(33), F(0), "52.0-96.0Gi"),
        (F(52), F(385), "64.0-512.0Gi"),
        (F(64), F(512), "64.0-512.0Gi"),
        (F(60), F(100), "64.0-128.0Gi"),
        (F(4001, 1000), F(1), "8.0-4.0Gi"),
    ],
)
def test_round_up(vcpu: Fraction, memory: Fraction, expected: str) -> None:
    assert round_up(vcpu, memory, **FIELDS).name == expected


@pytest.mark.parametrize(
    ("vcpu", "memory", "field", "limit"),
    [
        (F(65), F(1), "cpu-field", "at most 64.0 vCPU"),
        (F(64001, 1000), F(1), "cpu-field", "at most 64.0 vCPU"),
        (F(1), F(513), "memory-field", "at most 512.0 GiB"),
        (F(1), F(512 * 1024 + 1, 1024), "memory-field", "at most 512.0 GiB"),
    ],
)
def test_round_up_limits(vcpu: Fraction, memory: Fraction, field: str, limit: str) -> None:
    with pytest.raises(DomainError) as caught:
        round_up(vcpu, memory, **FIELDS)
    assert caught.value.field == field
    assert limit in caught.value.allowed


def test_every_table_entry_rounds_to_itself_and_is_named_with_decimals() -> None:
    assert MAX_VCPU == 64
    assert MAX_MEMORY_GIB == 512
    for vcpu, row in SPEC_TABLE.items():
        assert list(row) == sorted(row)
        for memory in row:
            candidate = round_up(vcpu, memory, **FIELDS)
            assert (F(candidate.vcpu), F(candidate.memory_gib)) == (vcpu, memory)
            assert parse_spec(candidate.name, field="f") == candidate
            vcpu_text, memory_text = candidate.name.removesuffix("Gi").split("-")
            assert "." in vcpu_text
            assert "." in memory_text


@pytest.mark.parametrize(
    ("amount", "text"),
    [(F(2), "2.0"), (F(1, 4), "0.25"), (F(1, 2), "0.5"), (F(512), "512.0"), (F(3, 2), "1.5")],
)
def test_format_amount(amount: Fraction, text: str) -> None:
    assert format_amount(amount) == text


def test_spec_name() -> None:
    assert spec_name(F(2), F(4)) == "2.0-4.0Gi"
    assert spec_name(F(1, 4), F(1, 2)) == "0.25-0.5Gi"


@pytest.mark.parametrize(
    ("token", "name", "vcpu", "memory"),
    [
        ("2-4Gi", "2.0-4.0Gi", 2, 4),
        ("2.0-4.0Gi", "2.0-4.0Gi", 2, 4),
        ("0.25-0.5Gi", "0.25-0.5Gi", 0.25, 0.5),
        ("64-512Gi", "64.0-512.0Gi", 64, 512),
    ],
)
def test_parse_vcpu_memory_specs(token: str, name: str, vcpu: float, memory: float) -> None:
    candidate = parse_spec(token, field="f")
    assert (candidate.name, candidate.vcpu, candidate.memory_gib) == (name, vcpu, memory)
    assert candidate.kind is CandidateKind.VCPU_MEMORY


@pytest.mark.parametrize(
    ("token", "vcpu", "memory"),
    [
        ("ecs.g7.xlarge", 4, 16),
        ("ecs.c7.large", 2, 4),
        ("ecs.r7.xlarge", 4, 32),
        ("ecs.g6.2xlarge", 8, 32),
        ("ecs.c6.4xlarge", 16, 32),
        ("ecs.r6.8xlarge", 32, 256),
        ("ecs.g7a.large", 2, 8),  # our rule: a variant suffix after the generation is allowed
        ("ecs.r7se.xlarge", 4, 32),
        ("ecs.g10.large", 2, 8),
        # eci.md section 3: the sizes 3xlarge, 6xlarge, 13xlarge, 26xlarge and the wider family list
        ("ecs.g6.3xlarge", 12, 48),
        ("ecs.c6.13xlarge", 52, 96),
        ("ecs.g6.13xlarge", 52, 192),
        ("ecs.r6.26xlarge", 104, 768),
        ("ecs.g6.6xlarge", 24, 96),
        ("ecs.g7.16xlarge", 64, 256),
        ("ecs.hfc7.large", 2, 4),
        ("ecs.hfg7.xlarge", 4, 16),
        ("ecs.ic5.large", 2, 2),
        ("ecs.sn2ne.large", 2, 8),
        ("ecs.se1ne.xlarge", 4, 32),
        ("ecs.t5-c1m2.large", 2, 4),  # seen written back on a real pod
        ("ecs.t6-c1m4.xlarge", 4, 16),
    ],
)
def test_parse_ecs_types(token: str, vcpu: int, memory: int) -> None:
    candidate = parse_spec(token, field="f")
    assert (candidate.name, candidate.vcpu, candidate.memory_gib) == (token, vcpu, memory)
    assert candidate.kind is CandidateKind.ECS_TYPE
    assert candidate.family_kind is FamilyKind.X86
    assert candidate.gpus == 0


@pytest.mark.parametrize(
    ("token", "kind", "vcpu", "memory", "gpus"),
    [
        ("ecs.gn6i-c4g1.xlarge", FamilyKind.GPU, 4, 15, 1),  # ASK's spec page, first example
        ("ecs.gn6v-c8g1.2xlarge", FamilyKind.GPU, 8, 32, 1),  # the eci-profile page's selector example
        ("ecs.gn6v-c8g1.16xlarge", FamilyKind.GPU, 64, 256, 8),
        ("ecs.gn5i-c4g1.xlarge", FamilyKind.GPU, 4, 16, 1),  # ECI billing page example
        ("ecs.g8y.large", FamilyKind.ARM, 2, 8, 0),
        ("ecs.c8y.xlarge", FamilyKind.ARM, 4, 8, 0),
        ("ecs.r8y.2xlarge", FamilyKind.ARM, 8, 64, 0),
        ("ecs.i2.xlarge", FamilyKind.LOCAL_DISK, 4, 32, 0),
        ("ecs.d1ne.2xlarge", FamilyKind.LOCAL_DISK, 8, 32, 0),
    ],
)
def test_parse_gpu_arm_and_local_disk_types(
    token: str, kind: FamilyKind, vcpu: int, memory: int, gpus: int
) -> None:
    candidate = parse_spec(token, field="f")
    assert (candidate.vcpu, candidate.memory_gib, candidate.family_kind, candidate.gpus) == (
        vcpu,
        memory,
        kind,
        gpus,
    )
    assert candidate.arm is (kind is FamilyKind.ARM)


def test_every_catalogue_name_parses() -> None:
    for name in ecs_catalogue.catalogue_names():
        assert parse_spec(name, field="f").name == name


@pytest.mark.parametrize(
    ("region", "name"),
    [(r, TableName.REGIONAL) for r in REGIONAL_REGIONS]
    + [("cn-hongkong", TableName.ALL_REGIONS), ("eu-central-1", TableName.ALL_REGIONS)],
)
def test_the_region_picks_the_table(region: str, name: TableName) -> None:
    assert len(REGIONAL_REGIONS) == 12
    assert spec_tables.table_name(region, spot=False) is name
    assert spec_tables.table_name(region, spot=True) is TableName.SPOT


def test_the_regional_table_adds_the_documented_rows() -> None:
    regional = spec_tables.REGIONAL
    assert regional[F(2)] == tuple(F(m) for m in (1, 2, 4, 6, 8, 10, 12, 14, 16))
    assert regional[F(4)] == tuple(F(m) for m in (2, 4, 6, 8, 10, 12, 14, 16, *range(18, 31, 2), 32))
    assert regional[F(6)] == tuple(F(m) for m in range(6, 49, 2))
    assert regional[F(8)] == tuple(F(m) for m in (4, *range(8, 63, 2), 64))
    assert set(spec_tables.ALL_REGIONS) < set(regional)
    for vcpu, row in spec_tables.ALL_REGIONS.items():
        assert set(row) <= set(regional[vcpu])


@pytest.mark.parametrize(
    ("table", "vcpu", "memory", "expected"),
    [
        # the page's worked example: 7 vCPU / 13 GiB in cn-hangzhou -> 8 vCPU / 14 GiB
        (spec_tables.REGIONAL, F(7), F(13), "8.0-14.0Gi"),
        (spec_tables.ALL_REGIONS, F(7), F(13), "8.0-16.0Gi"),  # the older page, without the regional table
        # eci.md section 3, ignoring containers: 2C4G + 2C4G + 0.25C0.5G
        (spec_tables.REGIONAL, F(17, 4), F(17, 2), "6.0-10.0Gi"),
        (spec_tables.REGIONAL, F(4), F(8), "4.0-8.0Gi"),
        (spec_tables.REGIONAL, F(6), F(12), "6.0-12.0Gi"),
        (spec_tables.ALL_REGIONS, F(6), F(12), "8.0-16.0Gi"),
        (spec_tables.REGIONAL, F(2), F(17), "4.0-18.0Gi"),
        (spec_tables.REGIONAL, F(8), F(63), "8.0-64.0Gi"),
        # spot: from 2 vCPU, memory >= vCPU, no regional spec
        (spec_tables.SPOT, F(1, 4), F(1, 2), "2.0-2.0Gi"),
        (spec_tables.SPOT, F(2), F(1), "2.0-2.0Gi"),
        (spec_tables.SPOT, F(2), F(6), "2.0-8.0Gi"),
        (spec_tables.SPOT, F(6), F(12), "8.0-16.0Gi"),
        (spec_tables.SPOT, F(8), F(4), "8.0-8.0Gi"),
        (spec_tables.SPOT, F(2), F(17), "4.0-32.0Gi"),
    ],
)
def test_round_up_on_a_table(table: spec_tables.Table, vcpu: F, memory: F, expected: str) -> None:
    assert round_up(vcpu, memory, **FIELDS, table=table).name == expected


@pytest.mark.parametrize(
    ("token", "table", "expected"),
    [
        ("2-3Gi", spec_tables.ALL_REGIONS, "2.0-4.0Gi"),
        ("2-3Gi", spec_tables.REGIONAL, "2.0-4.0Gi"),
        ("6-12Gi", spec_tables.REGIONAL, "6.0-12.0Gi"),  # accepted as is in a regional region
        ("6-12Gi", spec_tables.ALL_REGIONS, "8.0-16.0Gi"),
        ("3-5Gi", spec_tables.REGIONAL, "4.0-6.0Gi"),
        ("0.5-1Gi", spec_tables.SPOT, "2.0-2.0Gi"),
        ("ecs.g7.large", spec_tables.SPOT, "ecs.g7.large"),  # ECS types are never rounded
    ],
)
def test_fit_rounds_off_table_entries_up(token: str, table: spec_tables.Table, expected: str) -> None:
    assert fit(parse_spec(token, field="f"), table, field="f").name == expected


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("65-4Gi", "larger than the largest ECI spec"),
        ("2-513Gi", "larger than the largest ECI spec"),
        ("128-1024Gi", "larger than the largest ECI spec"),
        ("0-2Gi", "must be more than 0"),
        ("2-0Gi", "must be more than 0"),
        ("2-4G", "not a vCPU-memory spec"),
        ("2-4gi", "not a vCPU-memory spec"),
        ("2C4G", "not a vCPU-memory spec"),
        ("ecs.gn6i.large", "family 'gn6i' is not supported"),
        ("ecs.gn6i-c4g1.2xlarge", "size '2xlarge' is not offered in family gn6i-c4g1"),
        ("ecs.t5-c3m7.large", "family 't5-c3m7' is not supported"),
        ("ecs.t5-c1m2.8xlarge", "not offered for burstable types"),
        ("ecs.x7.large", "family 'x7' is not supported"),
        ("ecs.g07.large", "not a positive integer"),
        ("ecs.g0.large", "not a positive integer"),
        ("ecs.g7abcd.large", "too long"),
        ("ecs.g7.medium", "size 'medium' is not supported"),
        ("ecs.g7.12xlarge", "size '12xlarge' is not supported"),
        ("ECS.G7.XLARGE", "not a vCPU-memory spec"),
        ("ecs.g.large", "not a vCPU-memory spec"),
        ("", "not a vCPU-memory spec"),
    ],
)
def test_bad_specs(token: str, why: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_spec(token, field="k8s.aliyun.com/eci-use-specs")
    assert caught.value.field == "k8s.aliyun.com/eci-use-specs"
    assert caught.value.value == token
    assert why in caught.value.why
    assert caught.value.allowed
