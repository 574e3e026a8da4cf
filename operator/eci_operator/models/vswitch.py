"""The ``VSwitch`` custom resource: one vSwitch of a simulated VPC, the inventory ASK's ConfigMap points at.

The real ``kube-system/eci-profile`` ConfigMap names vSwitch ids only; the cloud knows each one's zone and
CIDR. Here the cloud's VPC inventory is a cluster-scoped object per vSwitch, its ``spec`` fields named as
in Alibaba's VPC API (``DescribeVSwitches``: VSwitchId, VpcId, ZoneId, CidrBlock). ``simulation`` is ours:
a zone outage or stock limit rehearsed without an ECIProfile. The validators mirror the CRD
(``crds/vswitches.yaml``). No I/O.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator

from eci_operator.models._base import KubeModel, ObjectMeta
from eci_operator.models.common import Condition
from eci_operator.models.profile import REGION_PATTERN, VPC_PATTERN, VSWITCH_PATTERN, ZoneSimulation

KIND = "VSwitch"
PLURAL = "vswitches"
MIN_PREFIX, MAX_PREFIX = 16, 29  # a vSwitch's mask: /16 to /29 (Alibaba VPC, CreateVSwitch)


class VSwitchSimulation(KubeModel):
    """Our simulated cloud for the vSwitch's zone: is the zone up, stock per spec (absent = unlimited)."""

    available: bool = True
    stock: dict[str, int] = Field(default_factory=dict)

    @field_validator("stock")
    @classmethod
    def _stock_is_sane(cls, value: dict[str, int]) -> dict[str, int]:
        ZoneSimulation(zone_id="cn-hangzhou-i", stock=value)  # the one home of the stock rules
        return value


class VSwitchSpec(KubeModel):
    """A vSwitch as Alibaba's VPC API describes it (plus our simulation knobs)."""

    v_switch_id: str = Field(alias="vSwitchId", max_length=64, pattern=VSWITCH_PATTERN)
    vpc_id: str = Field(max_length=64, pattern=VPC_PATTERN)
    zone_id: str = Field(max_length=64, pattern=REGION_PATTERN)
    cidr_block: str = Field(max_length=18)
    simulation: VSwitchSimulation = Field(default_factory=VSwitchSimulation)

    @field_validator("cidr_block")
    @classmethod
    def _cidr_block(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"not an IPv4 network in CIDR notation with no host bits set: {exc}") from None
        if not MIN_PREFIX <= network.prefixlen <= MAX_PREFIX:
            raise ValueError(f"a vSwitch's mask is /{MIN_PREFIX} to /{MAX_PREFIX}, got /{network.prefixlen}")
        return value


class VSwitchStatus(KubeModel):
    """What the operator observed: addresses in use and free (written periodically), and validity."""

    ips_in_use: int | None = Field(default=None, ge=0, alias="ipsInUse")
    available_ip_address_count: int | None = Field(default=None, ge=0)
    conditions: list[Condition] = Field(default_factory=list)


class VSwitchObject(KubeModel):
    """A whole VSwitch object (cluster-scoped; its name is its vSwitchId)."""

    api_version: Literal["eci.ask.dev/v1alpha1"] = "eci.ask.dev/v1alpha1"
    kind: Literal["VSwitch"] = "VSwitch"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: VSwitchSpec
    status: VSwitchStatus | None = None
