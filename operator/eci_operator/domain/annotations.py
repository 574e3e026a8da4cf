"""Parsers of the ECI pod annotations (``k8s.aliyun.com/eci-*``) this emulator honours.

Each parser takes the raw annotation string and returns a typed value or raises ``DomainError`` naming the
annotation, the offending token and what would be valid. They are total: any string in, a value or a
``DomainError`` out (a property test feeds them arbitrary text). Cross-annotation rules (a spot price limit
needs ``SpotWithPriceLimit``; vSwitches must belong to the profile) live in ``resolve``, which knows the
other annotations and the profile.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from eci_operator.domain.ecs_catalogue import FamilyKind
from eci_operator.domain.errors import DomainError
from eci_operator.domain.specs import SPEC_ALLOWED, Candidate, parse_spec
from eci_operator.models import (
    MAX_PENDING_MINUTES,
    MIN_PENDING_MINUTES,
    FailStrategy,
    ScheduleStrategy,
    SpotStrategy,
)
from eci_operator.models.profile import SECURITY_GROUP_PATTERN, VSWITCH_PATTERN

PREFIX = "k8s.aliyun.com/"
USE_SPECS = PREFIX + "eci-use-specs"
VSWITCH = PREFIX + "eci-vswitch"
SCHEDULE_STRATEGY = PREFIX + "eci-schedule-strategy"
SECURITY_GROUP = PREFIX + "eci-security-group"
SPOT_STRATEGY = PREFIX + "eci-spot-strategy"
SPOT_PRICE_LIMIT = PREFIX + "eci-spot-price-limit"
SPOT_DURATION = PREFIX + "eci-spot-duration"
SPOT_FALLBACK = PREFIX + "eci-spot-fallback"
FAIL_STRATEGY = PREFIX + "eci-fail-strategy"
MAX_PENDING_MINUTE = PREFIX + "eci-max-pending-minute"

# Written back by ECI after creation (eci.md section 2); the operator sets them on the pod.
INSTANCE_ID = PREFIX + "eci-instance-id"
INSTANCE_SPEC = PREFIX + "eci-instance-spec"
INSTANCE_CPU = PREFIX + "eci-instance-cpu"
INSTANCE_MEM = PREFIX + "eci-instance-mem"
INSTANCE_ZONE = PREFIX + "eci-instance-zone"

MAX_SPECS = 5
MAX_VSWITCHES = 10
MAX_SECURITY_GROUPS = 5
_PRICE = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,3})?")
_MINUTES = re.compile(r"[0-9]{1,5}")


def _tokens(annotation: str, value: str, *, limit: int, allowed: str) -> list[str]:
    """Split a comma list: whitespace around items is tolerated, empty items and duplicates are not."""
    if not value.strip():
        raise DomainError(annotation, value, "empty", allowed)
    tokens = [token.strip() for token in value.split(",")]
    if len(tokens) > limit:
        raise DomainError(
            annotation,
            value,
            f"{len(tokens)} items, more than {limit}",
            f"at most {limit} comma-separated items: {allowed}",
        )
    for token in tokens:
        if not token:
            raise DomainError(annotation, value, "empty item in the comma-separated list", allowed)
    return tokens


def _no_duplicates(annotation: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DomainError(annotation, name, "listed twice", "each item at most once")
        seen.add(name)


# GPU, local-disk and ARM types "can only be specified with types of the same kind" (eci.md section 2).
EXCLUSIVE_KINDS = (FamilyKind.GPU, FamilyKind.LOCAL_DISK, FamilyKind.ARM)


def _same_kind(value: str, candidates: tuple[Candidate, ...]) -> None:
    for kind in EXCLUSIVE_KINDS:
        alike = [c.name for c in candidates if c.family_kind is kind]
        others = [c.name for c in candidates if c.family_kind is not kind]
        if alike and others:
            raise DomainError(
                USE_SPECS,
                value,
                f"{kind.value} types ({', '.join(alike)}) cannot be mixed with other specs "
                f"({', '.join(others)})",
                f"{kind.value} types only, or no {kind.value} type (GPU, local-disk and ARM types can only "
                "be specified with types of the same kind)",
            )


def parse_use_specs(value: str) -> tuple[Candidate, ...]:
    """``eci-use-specs``: up to 5 specs, tried in order; normalised as written (not yet rounded onto the
    pod's table: ``resolve`` does that); duplicates and mixed kinds are an error."""
    tokens = _tokens(USE_SPECS, value, limit=MAX_SPECS, allowed=SPEC_ALLOWED)
    candidates = tuple(parse_spec(token, field=USE_SPECS) for token in tokens)
    _no_duplicates(USE_SPECS, [candidate.name for candidate in candidates])
    _same_kind(value, candidates)
    return candidates


def _ids(annotation: str, value: str, *, limit: int, pattern: str, what: str) -> tuple[str, ...]:
    allowed = f"{what} ids ({pattern})"
    tokens = _tokens(annotation, value, limit=limit, allowed=allowed)
    for token in tokens:
        if len(token) > 64 or not re.fullmatch(pattern, token):
            raise DomainError(annotation, token, f"not a {what} id", allowed)
    _no_duplicates(annotation, tokens)
    return tuple(tokens)


def parse_vswitch_ids(value: str) -> tuple[str, ...]:
    """``eci-vswitch``: up to 10 vSwitch ids, in the order ECI tries them (with VSwitchOrdered)."""
    return _ids(VSWITCH, value, limit=MAX_VSWITCHES, pattern=VSWITCH_PATTERN, what="vSwitch")


def parse_security_group_ids(value: str) -> tuple[str, ...]:
    """``eci-security-group``: up to 5 security group ids."""
    return _ids(
        SECURITY_GROUP,
        value,
        limit=MAX_SECURITY_GROUPS,
        pattern=SECURITY_GROUP_PATTERN,
        what="security group",
    )


def parse_schedule_strategy(value: str) -> ScheduleStrategy:
    """``eci-schedule-strategy``: ``VSwitchOrdered`` or ``VSwitchRandom`` (exact spelling)."""
    try:
        return ScheduleStrategy(value)
    except ValueError:
        raise DomainError(
            SCHEDULE_STRATEGY, value, "unknown strategy", ", ".join(s.value for s in ScheduleStrategy)
        ) from None


def parse_spot_strategy(value: str) -> SpotStrategy:
    """``eci-spot-strategy``: ``SpotAsPriceGo`` or ``SpotWithPriceLimit`` (omit it for pay-as-you-go)."""
    if value in (SpotStrategy.AS_PRICE_GO, SpotStrategy.WITH_PRICE_LIMIT):
        return SpotStrategy(value)
    raise DomainError(
        SPOT_STRATEGY,
        value,
        "unknown spot strategy",
        "SpotAsPriceGo, SpotWithPriceLimit (omit the annotation for pay-as-you-go)",
    )


def parse_spot_price_limit(value: str) -> str:
    """``eci-spot-price-limit``: a positive CNY/hour price, <= 3 decimals; normalised ("0.50" -> "0.5")."""
    allowed = (
        "a positive decimal number of CNY per hour, at most 9 digits before the point and 3 after, e.g. 0.5"
    )
    if not _PRICE.fullmatch(value):
        raise DomainError(SPOT_PRICE_LIMIT, value, "not a decimal with at most 3 decimals", allowed)
    price = Decimal(value)
    if price <= 0:
        raise DomainError(SPOT_PRICE_LIMIT, value, "the price limit must be positive", allowed)
    return format(price.normalize(), "f")


def parse_spot_duration(value: str) -> int:
    """``eci-spot-duration``: hours of protection from reclaim, "0" or "1"."""
    if value in ("0", "1"):
        return int(value)
    raise DomainError(SPOT_DURATION, value, "unsupported protection period", '"0" or "1" (hours)')


def parse_bool(annotation: str, value: str) -> bool:
    """A boolean annotation: exactly "true" or "false" (our rule: lowercase only, as ECI's docs write it)."""
    if value in ("true", "false"):
        return value == "true"
    raise DomainError(annotation, value, "not a boolean", '"true" or "false"')


def parse_spot_fallback(value: str) -> bool:
    """``eci-spot-fallback``: fall back to pay-as-you-go when there is no spot stock."""
    return parse_bool(SPOT_FALLBACK, value)


def parse_fail_strategy(value: str) -> FailStrategy:
    """``eci-fail-strategy``: ``fail-back`` (keep retrying while Pending), ``fail-over`` (recorded as written,
    the same effect as fail-back) or ``fail-fast``."""
    try:
        return FailStrategy(value)
    except ValueError:
        raise DomainError(
            FAIL_STRATEGY, value, "unknown fail strategy", ", ".join(s.value for s in FailStrategy)
        ) from None


def parse_max_pending_minutes(value: str) -> int:
    """``eci-max-pending-minute``: an integer number of minutes, 10 to 1440."""
    allowed = f"an integer from {MIN_PENDING_MINUTES} to {MAX_PENDING_MINUTES} (minutes)"
    if not _MINUTES.fullmatch(value):
        raise DomainError(MAX_PENDING_MINUTE, value, "not a whole number of minutes", allowed)
    minutes = int(value)
    if not MIN_PENDING_MINUTES <= minutes <= MAX_PENDING_MINUTES:
        raise DomainError(MAX_PENDING_MINUTE, value, "out of range", allowed)
    return minutes


PARSERS: dict[str, Callable[[str], object]] = {
    USE_SPECS: parse_use_specs,
    VSWITCH: parse_vswitch_ids,
    SCHEDULE_STRATEGY: parse_schedule_strategy,
    SECURITY_GROUP: parse_security_group_ids,
    SPOT_STRATEGY: parse_spot_strategy,
    SPOT_PRICE_LIMIT: parse_spot_price_limit,
    SPOT_DURATION: parse_spot_duration,
    SPOT_FALLBACK: parse_spot_fallback,
    FAIL_STRATEGY: parse_fail_strategy,
    MAX_PENDING_MINUTE: parse_max_pending_minutes,
}
"""Every annotation the resolution reads, with its parser."""
