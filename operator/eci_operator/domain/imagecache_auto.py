"""The ImageCache ECI creates by itself for a pod that no cache matches (pure).

Alibaba: with ``eci-auto-imc`` true (the default) "ECI selects the best match ... If no cache matches, ECI
creates one automatically" (fact sheet section 8). Our rendering: the operator creates an ``ImageCache``
object of the pod's images (its init and app images, each once, at most 20), named from that image set
alone, so a burst of identical pods, a restarted operator or a second replica all ask for the same object
(create-or-get); labelled ``eci.ask.dev/automatic-image-cache: "true"``, kept ``AUTO_RETENTION_DAYS`` and
built on the same timeline as any cache by the profile of the pod's vSwitch. The pod that asked pulls
normally; later pods match the cache once it is Ready. Nothing is created when the pod pins a cache or
turns matching off, when the pull model or ``autoCreateImageCache`` is off, or when a cache being built
would serve the pod once Ready (a burst asks once, not once per pod).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from eci_operator.domain.bodies import meta_of, spec_of
from eci_operator.domain.imagecache_match import CacheView, choose, match_rules, pod_images
from eci_operator.models import keys
from eci_operator.models.containergroup import ContainerGroupSpec
from eci_operator.models.imagecache import AUTO_RETENTION_DAYS, IMAGECACHE_API_VERSION, MAX_IMAGES
from eci_operator.models.profile import ImagePulls

NAME_PREFIX = "auto-"


def automatic_name(images: Sequence[str]) -> str:
    """The cache's name, from the set of images alone (order and repeats do not matter)."""
    digest = hashlib.sha256("\n".join(sorted(set(images))).encode()).hexdigest()
    return NAME_PREFIX + digest[:20]


def may_create(recorded: ContainerGroupSpec, settings: ImagePulls) -> bool:
    """The cheap half of the question: the pull model and automatic caches are on, and nothing matched."""
    return settings.enabled and settings.auto_create_image_cache and recorded.image_cache is None


def automatic_cache(
    pod: Mapping[str, Any],
    recorded: ContainerGroupSpec,
    settings: ImagePulls,
    caches: Sequence[CacheView],
) -> dict[str, Any] | None:
    """The ImageCache to create for a pod just recorded without a matching cache, or None."""
    if not may_create(recorded, settings):
        return None
    images = pod_images(pod)
    meta = meta_of(pod)
    rules = match_rules(meta.get("annotations") or {}, images)  # (parsed before: valid here)
    if rules.pinned is not None or not rules.auto or not images:
        return None
    building = [dataclasses.replace(c, usable=True) for c in caches if c.phase == "Creating"]
    if choose(rules, images, building, lambda _: 0.0) is not None:
        return None  # on its way: it serves the next pods once Ready
    wanted = list(dict.fromkeys(images))[:MAX_IMAGES]
    name = automatic_name(wanted)
    if any(c.name == name for c in caches):
        return None  # there already (an expired one is removed by the controller, then made again)
    namespace = str(meta.get("namespace"))
    secrets = [
        f"{namespace}:{s['name']}"
        for s in spec_of(pod).get("imagePullSecrets") or []
        if isinstance(s, Mapping) and s.get("name")
    ][:MAX_IMAGES]
    vswitch = recorded.vswitches[0].id if recorded.vswitches else recorded.vswitch_ids[0]
    annotations = {
        keys.ECI_PREFIX + "eci-vswitch": vswitch,  # built with the pull model of the pod's profile
        keys.AUTO_IMAGE_CACHE_FOR: f"{namespace}/{meta.get('name')}",
    }
    if recorded.security_group_ids:
        annotations[keys.ECI_PREFIX + "eci-security-group"] = recorded.security_group_ids[0]
    spec: dict[str, Any] = {"images": wanted, "retentionDays": AUTO_RETENTION_DAYS}
    if secrets:
        spec["imagePullSecrets"] = secrets
    return {
        "apiVersion": IMAGECACHE_API_VERSION,
        "kind": "ImageCache",
        "metadata": {
            "name": name,
            "labels": {keys.AUTO_IMAGE_CACHE_LABEL: "true"},
            "annotations": annotations,
        },
        "spec": spec,
    }


def is_automatic(body: Mapping[str, Any]) -> bool:
    """Created by the emulated ECI itself (so it may remove it once expired)."""
    return (meta_of(body).get("labels") or {}).get(keys.AUTO_IMAGE_CACHE_LABEL) == "true"
