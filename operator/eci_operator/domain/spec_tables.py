"""ECI's vCPU-memory spec tables, as data: all regions, the twelve regions with more specs, and spot.

Which table a pod is sized on depends on the profile's region (and on spot), so the tables live here, in one
place, with their sources; ``domain.specs`` rounds over whichever ``table_for`` returns. No logic beyond
choosing and merging the tables.

Sources:
- "Specify the number of vCPUs and memory size to create an elastic container instance"
  (alibabacloud.com/help/en/eci/user-guide/specify-the-number-of-vcpus-and-memory-size-to-create-an-elastic-
  container-instance; help.aliyun.com/document_detail/114662.html): the all-region table, the regional table
  and its regions, and "specs of the regional table cannot be spot".
- The spot table: help.aliyun.com/document_detail/165053.htm (eci.md section 5): spot by vCPU and memory needs
  at least 2 vCPU; 2 -> 2, 4, 8, 16; 4 -> 4, 8, 16, 32; 8 -> 8 ... 64; our reading of the rows the fact sheet
  elides: the all-region rows from 12 vCPU up, unchanged (every one already has memory >= vCPU).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Final

F = Fraction
Table = Mapping[Fraction, tuple[Fraction, ...]]


def _table(rows: dict[Fraction, tuple[int | Fraction, ...]]) -> Table:
    return MappingProxyType({v: tuple(F(m) for m in row) for v, row in rows.items()})


ALL_REGIONS: Final = _table(
    {
        F(1, 4): (F(1, 2), 1),
        F(1, 2): (1, 2),
        F(1): (2, 4, 8),
        F(2): (1, 2, 4, 8, 16),
        F(4): (2, 4, 8, 16, 32),
        F(8): (4, 8, 16, 32, 64),
        F(12): (12, 24, 48, 96),
        F(16): (16, 32, 64, 128),
        F(24): (24, 48, 96, 192),
        F(32): (32, 64, 128, 256),
        F(52): (96, 192, 384),
        F(64): (128, 256, 512),
    }
)
"""Offered in every region ECI serves."""

REGIONAL_EXTRA: Final = _table(
    {
        F(2): (6, 10, 12, 14),
        F(4): (6, 10, 12, 14, *range(18, 31, 2)),
        F(6): tuple(range(6, 49, 2)),
        F(8): tuple(m for m in range(10, 63, 2) if m not in (16, 32)),
    }
)
"""Offered only in ``REGIONAL_REGIONS``, in addition to ``ALL_REGIONS`` (never as spot)."""

REGIONAL_REGIONS: Final = (
    "cn-hangzhou",
    "cn-shanghai",
    "cn-qingdao",
    "cn-beijing",
    "cn-zhangjiakou",
    "cn-huhehaote",
    "cn-wulanchabu",
    "cn-shenzhen",
    "cn-heyuan",
    "cn-guangzhou",
    "cn-chengdu",
    "ap-southeast-1",
)

SPOT: Final = _table(
    {
        F(2): (2, 4, 8, 16),
        F(4): (4, 8, 16, 32),
        F(8): (8, 16, 32, 64),
        # From 12 vCPU on, the all-region rows (the spot page's table stops at 8: README, "Our rules").
        **{vcpu: tuple(memory) for vcpu, memory in ALL_REGIONS.items() if vcpu >= 12},
    }
)
"""What a spot instance by vCPU and memory may be (from 2 vCPU; no regional-only spec)."""


def _merge(base: Table, extra: Table) -> Table:
    rows = {v: set(row) for v, row in base.items()}
    for vcpu, row in extra.items():
        rows.setdefault(vcpu, set()).update(row)
    return MappingProxyType({v: tuple(sorted(rows[v])) for v in sorted(rows)})


REGIONAL: Final = _merge(ALL_REGIONS, REGIONAL_EXTRA)
"""The whole table of a region in ``REGIONAL_REGIONS``."""


class TableName(StrEnum):
    """Which table a spec was sized on (recorded in the resolution as ``specTable``)."""

    ALL_REGIONS = "all-regions"
    REGIONAL = "regional"
    SPOT = "spot"


TABLES: Final = MappingProxyType(
    {TableName.ALL_REGIONS: ALL_REGIONS, TableName.REGIONAL: REGIONAL, TableName.SPOT: SPOT}
)


def table_name(region_id: str, *, spot: bool) -> TableName:
    """The table of ``region_id``: spot's when ``spot``, else regional or all-region."""
    if spot:
        return TableName.SPOT
    return TableName.REGIONAL if region_id in REGIONAL_REGIONS else TableName.ALL_REGIONS


def table_for(region_id: str, *, spot: bool = False) -> Table:
    """The vCPU -> memory sizes table a pod of ``region_id`` is sized on."""
    return TABLES[table_name(region_id, spot=spot)]
