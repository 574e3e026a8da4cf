"""The kubelet-style Events of a pod's image pulls and container starts (pure: which, with what text).

With the pull model on, a pod shows what a kubelet's would: ``Pulling`` when its instance is created, then
``Pulled`` (with the duration, and the time including the wait for the pulls before it), ``Created`` and
``Started`` per container when the containers start; a matched ImageCache adds ECI's
``SuccessfulHitImageCache`` and its images read "already present on machine". With the pull model off
(nothing pulled, no cache) there are none, as before.
"""

from __future__ import annotations

from eci_operator.models.containergroup import ContainerGroupSpec, ContainerGroupStatus

HIT_IMAGE_CACHE = "SuccessfulHitImageCache"


def image_events(
    spec: ContainerGroupSpec, before: ContainerGroupStatus, after: ContainerGroupStatus
) -> list[tuple[str, str]]:
    """(reason, message) of the Events the change from ``before`` to ``after`` brings, in order."""
    life, cache = spec.lifecycle, spec.image_cache
    if life is None or (not life.image_pulls and cache is None):
        return []
    out: list[tuple[str, str]] = []
    if after.instance_id and not before.instance_id:
        if cache is not None:
            out.append(
                (
                    HIT_IMAGE_CACHE,
                    f"[eci.imagecache]Successfully hit image cache {cache.image_cache_id}, "
                    "eci will be scheduled with this image cache.",
                )
            )
        out += [("Pulling", f'Pulling image "{p.image}"') for p in life.image_pulls]
    if after.started_at and not before.started_at:
        if cache is not None:
            out += [("Pulled", f'Container image "{i}" already present on machine') for i in cache.images]
        waited = 0.0
        for pull in life.image_pulls:
            waited += pull.seconds
            out.append(
                (
                    "Pulled",
                    f'Successfully pulled image "{pull.image}" in {_seconds(pull.seconds)} '
                    f"({_seconds(waited)} including waiting)",
                )
            )
        names = [c.name for c in after.containers if not c.init]
        out += [("Created", f"Created container {n}") for n in names]
        out += [("Started", f"Started container {n}") for n in names]
    return out


def _seconds(value: float) -> str:
    """A duration as the kubelet prints one (``4s``, ``1.5s``, ``320ms``)."""
    if value < 1:
        return f"{round(value * 1000)}ms"
    return f"{value:.3f}".rstrip("0").rstrip(".") + "s"
