"""The spec table, rounding up, ECS types and spec naming."""

from __future__ import annotations

from fractions import Fraction

import pytest

from eci_operator.domain import (
    MAX_MEMORY_GIB,
    MAX_VCPU,
    SPEC_TABLE,
    CandidateKind,
    DomainError,
    format_amount,
    parse_spec,
    round_up,
    spec_name,
)

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
    ],
)
def test_parse_ecs_types(token: str, vcpu: int, memory: int) -> None:
    candidate = parse_spec(token, field="f")
    assert (candidate.name, candidate.vcpu, candidate.memory_gib) == (token, vcpu, memory)
    assert candidate.kind is CandidateKind.ECS_TYPE


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("3-4Gi", "3.0 vCPU is not a supported size"),
        ("2-3Gi", "3.0 GiB is not offered with 2.0 vCPU"),
        ("0.25-2Gi", "not offered"),
        ("128-1024Gi", "not a supported size"),
        ("2-4G", "not a vCPU-memory spec"),
        ("2-4gi", "not a vCPU-memory spec"),
        ("2C4G", "not a vCPU-memory spec"),
        ("ecs.gn6i.large", "family 'gn' is not supported"),
        ("ecs.x7.large", "family 'x' is not supported"),
        ("ecs.g07.large", "not a positive integer"),
        ("ecs.g0.large", "not a positive integer"),
        ("ecs.g7abcd.large", "too long"),
        ("ecs.g7.medium", "size 'medium' is not supported"),
        ("ecs.g7.16xlarge", "size '16xlarge' is not supported"),
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
