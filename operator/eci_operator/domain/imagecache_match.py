"""Which ImageCache a new pod uses: ECI's matching rules over the caches that are Ready (pure).

The pod annotations (alibabacloud.com/help/en/elastic-container-instance/latest/use-imagecache):
``eci-imc-id`` pins one cache, which must be Ready; ``eci-auto-imc`` (default ``"true"``; the legacy
``eci-image-cache`` says the same, ``eci-auto-imc`` wins when both are set) lets ECI pick the best match;
``imc-perfect-match: "true"`` asks that every image of the pod be in the cache; ``imc-match-count-request:
"N"`` that at least N of them be. Without either, one matching image is enough. Images match when written
exactly alike (ECI asks for the same references in the cache and the pod). Our order among matching
caches, where Alibaba names only its criteria ("image match degree, image size, and creation time"): more
matched images first, then more matched MiB, then the newer cache, then the name.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from eci_operator.domain.annotations import PREFIX, parse_bool
from eci_operator.domain.errors import DomainError

IMC_ID = PREFIX + "eci-imc-id"
AUTO_IMC = PREFIX + "eci-auto-imc"
IMAGE_CACHE = PREFIX + "eci-image-cache"  # legacy name of eci-auto-imc
PERFECT_MATCH = PREFIX + "imc-perfect-match"
MATCH_COUNT = PREFIX + "imc-match-count-request"
_COUNT = re.compile(r"[1-9][0-9]{0,2}")


@dataclass(frozen=True)
class CacheView:
    """What matching needs of one ImageCache."""

    name: str
    cache_id: str
    images: tuple[str, ...]
    created_at: dt.datetime
    usable: bool  # Ready and not expired
    phase: str = "Ready"


@dataclass(frozen=True)
class CacheMatch:
    name: str
    cache_id: str
    images: tuple[str, ...]  # the pod's images found in the cache


@dataclass(frozen=True)
class MatchRules:
    pinned: str | None
    auto: bool
    required: int  # how many of the pod's images must be in the cache


def match_rules(annotations: Mapping[str, str], pod_images: Sequence[str]) -> MatchRules:
    """The pod's matching annotations, parsed; a bad value raises ``DomainError`` naming the annotation."""
    distinct = len(dict.fromkeys(pod_images))
    auto_raw = annotations.get(AUTO_IMC, annotations.get(IMAGE_CACHE))
    auto = (
        True
        if auto_raw is None
        else parse_bool(AUTO_IMC if AUTO_IMC in annotations else IMAGE_CACHE, auto_raw)
    )
    perfect = parse_bool(PERFECT_MATCH, annotations[PERFECT_MATCH]) if PERFECT_MATCH in annotations else False
    required = 1
    if MATCH_COUNT in annotations:
        value = annotations[MATCH_COUNT]
        if not _COUNT.fullmatch(value) or int(value) > distinct:
            raise DomainError(
                MATCH_COUNT, value, "not a count of the pod's images", f"an integer from 1 to {distinct}"
            )
        required = int(value)
    if perfect:
        required = distinct
    pinned = annotations.get(IMC_ID)
    if pinned is not None and not re.fullmatch(r"imc-[a-z0-9]{1,40}", pinned):
        raise DomainError(
            IMC_ID, pinned, "not an ImageCache id", "imc- followed by lowercase letters and digits"
        )
    return MatchRules(pinned=pinned, auto=auto, required=min(required, distinct))


def choose(
    rules: MatchRules,
    pod_images: Sequence[str],
    caches: Sequence[CacheView],
    size_mib: Callable[[str], float],
) -> CacheMatch | None:
    """The cache the pod uses, or None (its images are pulled). A pinned cache that is not usable raises."""
    wanted = tuple(dict.fromkeys(pod_images))
    if rules.pinned is not None:
        cache = next((c for c in caches if c.cache_id == rules.pinned), None)
        if cache is None or not cache.usable:
            state = "does not exist" if cache is None else f"is {cache.phase} ({cache.name})"
            raise DomainError(IMC_ID, rules.pinned, f"the ImageCache {state}", "the id of a Ready ImageCache")
        return CacheMatch(cache.name, cache.cache_id, tuple(i for i in wanted if i in cache.images))
    if not rules.auto or not wanted:
        return None
    best: tuple[tuple[int, float, dt.datetime, str], CacheView, tuple[str, ...]] | None = None
    for cache in caches:
        hits = tuple(i for i in wanted if i in cache.images)
        if not cache.usable or len(hits) < rules.required:
            continue
        rank = (len(hits), sum(size_mib(i) for i in hits), cache.created_at, _reversed(cache.name))
        if best is None or rank > best[0]:
            best = (rank, cache, hits)
    if best is None:
        return None
    return CacheMatch(best[1].name, best[1].cache_id, best[2])


def _reversed(name: str) -> str:
    """A key under which the alphabetically first name ranks highest (ties after the other criteria)."""
    return "".join(chr(0x10FFFF - ord(c)) for c in name)
