"""Pure decisions of the emulator: how ECI would size, place and configure a pod's instance.

Nothing here imports kopf or a Kubernetes client, logs, reads a clock or does I/O: every function takes
plain data (a Pod dict, an ``ECIProfileSpec``) and returns plain data, so the rules can be unit-tested
exhaustively and reused by the operator, the admission webhook and the CLI alike.

Public surface:

- ``resolve(pod, profile, *, namespace_labels) -> Resolution`` and ``validate_pod(...) -> list[DomainError]``
- ``vswitches_for_zone(resolution, profile, zone_id) -> list[VSwitch]``
- ``load_profile(document) -> ECIProfile`` and ``validate_profile(spec) -> list[DomainError]``
- ``DomainError`` (``field``, ``value``, ``why``, ``allowed``) and ``DomainErrors``
- the building blocks: quantities, the spec tables by region (``spec_tables``) and rounding, the ECS type
  catalogue (``ecs_catalogue``), annotation parsers, selector matching, ``reserved_port_users``.
"""

from eci_operator.domain.annotations import PARSERS
from eci_operator.domain.ecs_catalogue import FAMILIES as ECS_FAMILIES
from eci_operator.domain.ecs_catalogue import SIZES as ECS_SIZES
from eci_operator.domain.ecs_catalogue import FamilyKind, ecs_type
from eci_operator.domain.errors import DomainError, DomainErrors, from_validation_error
from eci_operator.domain.pods import PodFacts, PodSize, read_pod, reserved_port_users
from eci_operator.domain.profiles import load_profile, validate_profile
from eci_operator.domain.quantity import cpu_cores, memory_gib, parse_quantity
from eci_operator.domain.resolution import (
    Resolution,
    SpotSettings,
    annotation_source,
    selector_source,
)
from eci_operator.domain.resolve import (
    resolve,
    validate_pod,
    vswitches_for_zone,
)
from eci_operator.domain.selectors import Effects, apply_selectors, label_selector_matches, selector_matches
from eci_operator.domain.spec_tables import REGIONAL_REGIONS, TableName, table_for
from eci_operator.domain.specs import (
    MAX_MEMORY_GIB,
    MAX_VCPU,
    SPEC_TABLE,
    Candidate,
    CandidateKind,
    format_amount,
    parse_spec,
    round_up,
    spec_name,
)

__all__ = [
    "ECS_FAMILIES",
    "ECS_SIZES",
    "MAX_MEMORY_GIB",
    "MAX_VCPU",
    "PARSERS",
    "REGIONAL_REGIONS",
    "SPEC_TABLE",
    "Candidate",
    "CandidateKind",
    "DomainError",
    "DomainErrors",
    "Effects",
    "FamilyKind",
    "PodFacts",
    "PodSize",
    "Resolution",
    "SpotSettings",
    "TableName",
    "annotation_source",
    "apply_selectors",
    "cpu_cores",
    "ecs_type",
    "format_amount",
    "from_validation_error",
    "label_selector_matches",
    "load_profile",
    "memory_gib",
    "parse_quantity",
    "parse_spec",
    "read_pod",
    "reserved_port_users",
    "resolve",
    "round_up",
    "selector_matches",
    "selector_source",
    "spec_name",
    "table_for",
    "validate_pod",
    "validate_profile",
    "vswitches_for_zone",
]
