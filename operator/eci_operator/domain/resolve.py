"""Resolving a pod's ECI instance: which spec, where, how — and where each decision came from.

This is the heart of the emulator: ECI reads a pod's ``k8s.aliyun.com/eci-*`` annotations at creation,
falls back to the eci-profile, and sizes the instance from the containers when no spec is named. Per
field, the precedence is: pod annotation > selector effect > profile > computed from the containers >
the 2 vCPU / 4 GiB default. ``resolve`` returns a frozen ``Resolution`` recording every decision and its
source; ``validate_pod`` returns every problem at once (for the admission webhook). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from eci_operator.domain import annotations as ann
from eci_operator.domain.errors import DomainError
from eci_operator.domain.pods import PodFacts, read_pod
from eci_operator.domain.profiles import check_security_group_ids, check_vswitch_ids, validate_profile
from eci_operator.domain.resolution import (
    SOURCE_DEFAULT,
    SOURCE_PROFILE,
    Resolution,
    SpotSettings,
    annotation_source,
    selector_source,
)
from eci_operator.domain.selectors import Effects, apply_selectors
from eci_operator.domain.sizing import SpecChoice, choose
from eci_operator.models import (
    DEFAULT_PENDING_MINUTES,
    Arch,
    ECIProfileSpec,
    FailStrategy,
    ScheduleStrategy,
    SpotStrategy,
    VSwitch,
)

T = TypeVar("T")


class _Resolver:
    """One resolution: reads values by precedence, collects every error, never stops at the first."""

    def __init__(self, facts: PodFacts, effects: Effects, errors: list[DomainError]) -> None:
        self.facts = facts
        self.effects = effects
        self.errors = errors
        self.sources: dict[str, str] = {}

    def raw(self, name: str) -> tuple[str, str] | None:
        """(value, source) of an annotation: the pod's own, else a selector's, else None."""
        if name in self.facts.annotations:
            return self.facts.annotations[name], annotation_source(name)
        if name in self.effects.annotations:
            return self.effects.annotations[name], selector_source(self.effects.annotation_sources[name])
        return None

    def error(self, error: DomainError, source: str) -> None:
        if source.startswith("selector:"):
            selector = source.removeprefix("selector:")
            error = DomainError(
                error.field, error.value, f"{error.why} (set by selector {selector!r})", error.allowed
            )
        self.errors.append(error)

    def read(self, name: str, parser: Callable[[str], T]) -> tuple[T, str] | None:
        """The parsed annotation and its source; None if absent or invalid (the error is recorded)."""
        found = self.raw(name)
        if found is None:
            return None
        value, source = found
        try:
            return parser(value), source
        except DomainError as error:
            self.error(error, source)
            return None

    def pick(self, key: str, name: str, parser: Callable[[str], T], fallback: T, fallback_source: str) -> T:
        """Annotation (pod, then selector) if valid, else the fallback; records the source under ``key``."""
        found = self.read(name, parser)
        value, source = found if found is not None else (fallback, fallback_source)
        self.sources[key] = source
        return value


def _candidates(
    resolver: _Resolver, facts: PodFacts, profile: ECIProfileSpec, spot: SpotSettings
) -> SpecChoice:
    """The specs to try (``domain.sizing``), with their sources; errors recorded on the resolver."""
    found = resolver.read(ann.USE_SPECS, ann.parse_use_specs)
    choice = choose(
        facts,
        profile,
        use_specs=found[0] if found is not None else None,
        use_specs_set=resolver.raw(ann.USE_SPECS) is not None,
        spot=spot.strategy is not SpotStrategy.NO_SPOT,
    )
    resolver.errors.extend(choice.errors)
    if found is not None:
        resolver.sources["candidates"] = found[1]
        for error in choice.use_spec_errors:
            resolver.error(error, found[1])
    resolver.sources.update(choice.sources)
    resolver.sources["instanceSpec"] = resolver.sources["candidates"]
    return choice


def _spot(resolver: _Resolver) -> SpotSettings:
    strategy = resolver.pick(
        "spot.strategy", ann.SPOT_STRATEGY, ann.parse_spot_strategy, SpotStrategy.NO_SPOT, SOURCE_DEFAULT
    )
    price_limit = resolver.read(ann.SPOT_PRICE_LIMIT, ann.parse_spot_price_limit)
    duration = resolver.read(ann.SPOT_DURATION, ann.parse_spot_duration)
    fallback = resolver.read(ann.SPOT_FALLBACK, ann.parse_spot_fallback)
    if strategy is SpotStrategy.NO_SPOT:
        # An invalid strategy is already reported; only a missing one makes the other spot annotations wrong.
        strategy_missing = resolver.raw(ann.SPOT_STRATEGY) is None
        for name, found in (
            (ann.SPOT_PRICE_LIMIT, price_limit),
            (ann.SPOT_DURATION, duration),
            (ann.SPOT_FALLBACK, fallback),
        ):
            raw = resolver.raw(name)
            if strategy_missing and found is not None and raw is not None:
                resolver.error(
                    DomainError(
                        name,
                        raw[0],
                        f"{ann.SPOT_STRATEGY} is not set",
                        f"only together with {ann.SPOT_STRATEGY}",
                    ),
                    raw[1],
                )
        resolver.sources.update({"spot.durationHours": SOURCE_DEFAULT, "spot.fallback": SOURCE_DEFAULT})
        return SpotSettings()
    limit: str | None = None
    if strategy is SpotStrategy.WITH_PRICE_LIMIT:
        if price_limit is None:
            if resolver.raw(ann.SPOT_PRICE_LIMIT) is None:
                resolver.errors.append(
                    DomainError(
                        ann.SPOT_PRICE_LIMIT,
                        None,
                        f"{ann.SPOT_STRATEGY} is SpotWithPriceLimit",
                        "a positive hourly price limit with at most 3 decimals, e.g. 0.5",
                    )
                )
        else:
            limit = price_limit[0]
            resolver.sources["spot.priceLimit"] = price_limit[1]
    elif price_limit is not None:
        raw = resolver.raw(ann.SPOT_PRICE_LIMIT)
        assert raw is not None
        resolver.error(
            DomainError(
                ann.SPOT_PRICE_LIMIT,
                raw[0],
                f"{ann.SPOT_STRATEGY} is {strategy.value}",
                f"only with {ann.SPOT_STRATEGY}: SpotWithPriceLimit",
            ),
            raw[1],
        )
    duration_hours, duration_source = duration if duration is not None else (1, SOURCE_DEFAULT)
    fallback_value, fallback_source = fallback if fallback is not None else (False, SOURCE_DEFAULT)
    resolver.sources.update({"spot.durationHours": duration_source, "spot.fallback": fallback_source})
    return SpotSettings(
        strategy=strategy, price_limit=limit, duration_hours=duration_hours, fallback=fallback_value
    )


def _resolve(
    pod: Mapping[str, Any], profile: ECIProfileSpec, namespace_labels: Mapping[str, str]
) -> tuple[Resolution | None, list[DomainError]]:
    errors = list(validate_profile(profile))
    facts, pod_errors = read_pod(pod)
    errors.extend(pod_errors)
    effects = apply_selectors(
        profile.selectors,
        namespace_labels=namespace_labels,
        pod_labels=facts.labels,
        pod_annotations=facts.annotations,
    )
    resolver = _Resolver(facts, effects, errors)

    spot = _spot(resolver)  # first: a spot pod is sized on the spot table
    choice = _candidates(resolver, facts, profile, spot)
    candidates = choice.candidates

    profile_vswitches: tuple[str, ...] = tuple(v.id for v in profile.vswitches)
    vswitch_ids = resolver.pick(
        "vSwitchIds", ann.VSWITCH, ann.parse_vswitch_ids, profile_vswitches, SOURCE_PROFILE
    )
    if resolver.sources["vSwitchIds"] != SOURCE_PROFILE:
        for error in check_vswitch_ids(vswitch_ids, profile):
            resolver.error(error, resolver.sources["vSwitchIds"])
        vswitch_ids = tuple(v for v in vswitch_ids if v in profile_vswitches) or profile_vswitches

    schedule = resolver.pick(
        "scheduleStrategy",
        ann.SCHEDULE_STRATEGY,
        ann.parse_schedule_strategy,
        ScheduleStrategy.RANDOM,
        SOURCE_DEFAULT,
    )
    default_groups: tuple[str, ...] = (profile.security_group_id,)
    security_groups = resolver.pick(
        "securityGroupIds",
        ann.SECURITY_GROUP,
        ann.parse_security_group_ids,
        default_groups,
        SOURCE_PROFILE,
    )
    if resolver.sources["securityGroupIds"] != SOURCE_PROFILE:
        for error in check_security_group_ids(security_groups, profile):
            resolver.error(error, resolver.sources["securityGroupIds"])

    fail_strategy = resolver.pick(
        "failStrategy", ann.FAIL_STRATEGY, ann.parse_fail_strategy, FailStrategy.FAIL_BACK, SOURCE_DEFAULT
    )
    max_pending = resolver.pick(
        "maxPendingMinutes",
        ann.MAX_PENDING_MINUTE,
        ann.parse_max_pending_minutes,
        DEFAULT_PENDING_MINUTES,
        SOURCE_DEFAULT,
    )
    if errors:
        return None, errors
    first = candidates[0]
    zones = {v.id: v.zone_id for v in profile.vswitches}
    resolution = Resolution(
        candidates=candidates,
        instance_spec=first.name,
        vcpu=first.vcpu,
        memory_gib=first.memory_gib,
        requested_vcpu=float(facts.size.vcpu),
        requested_memory_gib=float(facts.size.memory_gib),
        spec_table=choice.table,
        ignored_containers=facts.ignored_containers,
        arch=Arch.ARM64 if first.arm else Arch.AMD64,
        gpus=first.gpus,
        requested_gpus=facts.size.gpus,
        vswitch_ids=vswitch_ids,
        vswitch_zones={v: zones[v] for v in vswitch_ids},
        schedule_strategy=schedule,
        security_group_ids=security_groups,
        spot=spot,
        fail_strategy=fail_strategy,
        max_pending_minutes=max_pending,
        matched_selectors=effects.matched,
        effect_annotations=dict(effects.annotations),
        effect_labels=dict(effects.labels),
        sources=dict(resolver.sources),
        region_id=profile.region_id,
        vpc_id=profile.vpc_id,
        containers=facts.containers,
        init_containers=facts.init_containers,
    )
    return resolution, []


def resolve(
    pod: Mapping[str, Any], profile: ECIProfileSpec, *, namespace_labels: Mapping[str, str]
) -> Resolution:
    """Resolve ``pod`` (a plain Pod dict, camelCase) against ``profile``; raises the first DomainError."""
    resolution, errors = _resolve(pod, profile, namespace_labels)
    if errors:
        raise errors[0]
    assert resolution is not None
    return resolution


def validate_pod(
    pod: Mapping[str, Any], profile: ECIProfileSpec, *, namespace_labels: Mapping[str, str]
) -> list[DomainError]:
    """Every problem that would stop ``resolve`` (empty if the pod resolves)."""
    return _resolve(pod, profile, namespace_labels)[1]


MAX_RECORDED_VSWITCHES = 10


def vswitches_for_zone(resolution: Resolution, profile: ECIProfileSpec, zone_id: str) -> list[VSwitch]:
    """The profile's vSwitch objects the resolution allows in ``zone_id``, in resolution order.

    Raises a DomainError naming ``k8s.aliyun.com/eci-vswitch`` when none is in that zone.
    """
    by_id = {v.id: v for v in profile.vswitches}
    ids = [v for v in resolution.vswitch_ids if v in by_id and by_id[v].zone_id == zone_id]
    if not ids:
        in_zone = [v.id for v in profile.vswitches if v.zone_id == zone_id]
        raise DomainError(
            ann.VSWITCH,
            ",".join(resolution.vswitch_ids),
            f"none of these vSwitches is in zone {zone_id}",
            f"a vSwitch of zone {zone_id}: {', '.join(in_zone)}"
            if in_zone
            else f"a zone of the profile: {', '.join(profile.zone_ids)}",
        )
    return [by_id[v] for v in ids]


def vswitches_for_pod(resolution: Resolution, profile: ECIProfileSpec, zone_id: str) -> list[VSwitch]:
    """What a group records: the vSwitches of its node's zone, then the pod's others (fail-over order).

    ECI tries another allowed zone when the first has no stock ("Create pods in multiple zones"); at most
    ten vSwitches, as ``eci-vswitch`` allows. DomainError as ``vswitches_for_zone``.
    """
    in_zone = vswitches_for_zone(resolution, profile, zone_id)
    by_id = {v.id: v for v in profile.vswitches}
    others = [by_id[v] for v in resolution.vswitch_ids if v in by_id and by_id[v].zone_id != zone_id]
    return (in_zone + others)[:MAX_RECORDED_VSWITCHES]
