"""Reading a Kubernetes Pod dict: its ECI-relevant facts, its size, and what ECI cannot run.

The operator and the CLI hand the domain a plain Pod as the API returns it (camelCase keys). This module is
the only place that walks that dict; it never trusts its shape (a CLI user may feed any YAML), reports
every problem as a ``DomainError`` naming the field path, and computes the pod's CPU and memory the way
Kubernetes computes a pod's effective request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from eci_operator.domain.errors import DomainError
from eci_operator.domain.quantity import cpu_cores, memory_gib, parse_quantity
from eci_operator.models import ContainerRef
from eci_operator.models.containergroup import MAX_CONTAINERS

IGNORE_ENV = (
    "__ECI_RESOURCE_IGNORE__"  # "TRUE" on a container: left out of the sum (sidecars; eci.md section 3)
)
IGNORE_VALUE = "TRUE"
GPU_RESOURCE = "nvidia.com/gpu"
MAX_VOLUMES = 20  # per ECI instance (eci.md section 4, "Limits")
RESERVED_PORTS = (111, 10250, 10255)  # used by ECI itself: "avoid them" (eci.md section 4, "Limits")


@dataclass(frozen=True)
class PodSize:
    """The pod's effective CPU (cores), memory (GiB) and GPUs, and the field paths that set each."""

    vcpu: Fraction = Fraction(0)
    memory_gib: Fraction = Fraction(0)
    vcpu_field: str = "spec.containers[*].resources"
    memory_field: str = "spec.containers[*].resources"
    gpus: int = 0
    gpu_field: str = f'spec.containers[*].resources.limits["{GPU_RESOURCE}"]'


@dataclass(frozen=True)
class PodFacts:
    """What the resolution needs from a pod, read defensively."""

    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    containers: tuple[ContainerRef, ...] = ()
    init_containers: tuple[ContainerRef, ...] = ()
    size: PodSize = PodSize()
    ignored_containers: tuple[str, ...] = ()
    """Containers left out of the sum by ``__ECI_RESOURCE_IGNORE__: "TRUE"`` (their field paths)."""


def _mapping(value: object, path: str, errors: list[DomainError]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    errors.append(DomainError(path, value, f"expected an object, got {type(value).__name__}", "an object"))
    return {}


def _sequence(value: object, path: str, errors: list[DomainError]) -> Sequence[Any]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return value
    errors.append(DomainError(path, value, f"expected a list, got {type(value).__name__}", "a list"))
    return ()


def _string_map(value: object, path: str, errors: list[DomainError]) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, item in _mapping(value, path, errors).items():
        if isinstance(item, str):
            result[str(key)] = item
        else:
            errors.append(
                DomainError(
                    f'{path}["{key}"]',
                    item,
                    f"values must be strings, not {type(item).__name__}",
                    "a string (quote it in YAML)",
                )
            )
    return result


Amounts = tuple[Fraction, Fraction, Fraction]


def _whole_gpus(value: object, *, field: str) -> Fraction:
    amount = parse_quantity(value, field=field)
    if amount < 0 or amount.denominator != 1:
        raise DomainError(field, value, "GPUs are counted in whole devices", "a whole number >= 0, e.g. 1")
    return amount


def _ignored(container: Mapping[str, Any]) -> bool:
    env = container.get("env")
    return isinstance(env, list) and any(
        isinstance(item, Mapping) and item.get("name") == IGNORE_ENV and item.get("value") == IGNORE_VALUE
        for item in env
    )


def _container_amounts(container: Mapping[str, Any], path: str, errors: list[DomainError]) -> Amounts:
    """(cpu, memory GiB, GPUs) of one container: the limit if set, else the request, else 0."""
    resources = _mapping(container.get("resources"), f"{path}.resources", errors)
    limits = _mapping(resources.get("limits"), f"{path}.resources.limits", errors)
    requests = _mapping(resources.get("requests"), f"{path}.resources.requests", errors)
    amounts = []
    for resource, parse, name in (
        ("cpu", cpu_cores, ".cpu"),
        ("memory", memory_gib, ".memory"),
        (GPU_RESOURCE, _whole_gpus, f'["{GPU_RESOURCE}"]'),
    ):
        if limits.get(resource) is not None:
            source, value = "limits", limits[resource]
        elif requests.get(resource) is not None:
            source, value = "requests", requests[resource]
        else:
            amounts.append(Fraction(0))
            continue
        try:
            amounts.append(parse(value, field=f"{path}.resources.{source}{name}"))
        except DomainError as error:
            errors.append(error)
            amounts.append(Fraction(0))
    return amounts[0], amounts[1], amounts[2]


def _read_containers(
    spec: Mapping[str, Any], key: str, errors: list[DomainError], ignored: list[str]
) -> tuple[list[ContainerRef], list[Amounts], list[bool]]:
    """The containers of ``spec[key]``; those carrying the ignore variable get 0 CPU and memory."""
    refs: list[ContainerRef] = []
    amounts: list[Amounts] = []
    sidecar: list[bool] = []
    items = _sequence(spec.get(key), f"spec.{key}", errors)
    if len(items) > MAX_CONTAINERS:
        errors.append(
            DomainError(
                f"spec.{key}",
                f"{len(items)} containers",
                "too many containers for one ECI instance",
                f"at most {MAX_CONTAINERS}",
            )
        )
    for index, raw in enumerate(items):
        path = f"spec.{key}[{index}]"
        container = _mapping(raw, path, errors)
        name, image = container.get("name"), container.get("image")
        for attribute, value in (("name", name), ("image", image)):
            if not isinstance(value, str) or not value:
                errors.append(
                    DomainError(
                        f"{path}.{attribute}",
                        value,
                        "missing or not a string",
                        f"a non-empty container {attribute}",
                    )
                )
        if isinstance(name, str) and name and isinstance(image, str) and image:
            refs.append(ContainerRef(name=name, image=image))
        security = _mapping(container.get("securityContext"), f"{path}.securityContext", errors)
        if security.get("privileged") is True:
            errors.append(
                DomainError(
                    f"{path}.securityContext.privileged",
                    True,
                    "privileged containers are not supported on ECI",
                    "false or unset",
                )
            )
        cpu, memory, gpus = _container_amounts(container, path, errors)
        if _ignored(container):
            ignored.append(name if isinstance(name, str) and name else path)
            cpu = memory = Fraction(0)
        amounts.append((cpu, memory, gpus))
        sidecar.append(key == "initContainers" and container.get("restartPolicy") == "Always")
    return refs, amounts, sidecar


def _effective(app: list[Amounts], init: list[Amounts], sidecar: list[bool]) -> PodSize:
    """Kubernetes' effective pod request, per resource: max(sum of app containers (+ sidecars), init peak).

    Without native sidecars (init containers with ``restartPolicy: Always``) this is
    max(sum of app containers, largest init container). A sidecar keeps running, so it adds to every
    later init container and to the app containers.
    """
    values: list[Fraction] = []
    fields: list[str] = []
    for index in (0, 1, 2):
        app_sum = sum((amounts[index] for amounts in app), Fraction(0))
        running_sidecars = Fraction(0)
        init_peak = Fraction(0)
        for amounts, is_sidecar in zip(init, sidecar, strict=True):
            if is_sidecar:
                running_sidecars += amounts[index]
                init_peak = max(init_peak, running_sidecars)
            else:
                init_peak = max(init_peak, running_sidecars + amounts[index])
        steady = app_sum + running_sidecars
        values.append(max(steady, init_peak))
        fields.append(
            "spec.containers[*].resources" if steady >= init_peak else "spec.initContainers[*].resources"
        )
    gpu_field = fields[2] + f'.limits["{GPU_RESOURCE}"]'
    return PodSize(
        vcpu=values[0],
        memory_gib=values[1],
        vcpu_field=fields[0],
        memory_field=fields[1],
        gpus=int(values[2]),
        gpu_field=gpu_field,
    )


def read_pod(pod: Mapping[str, Any]) -> tuple[PodFacts, list[DomainError]]:
    """The pod's facts, and every problem found (unsupported features, malformed fields)."""
    errors: list[DomainError] = []
    if not isinstance(pod, Mapping):
        return PodFacts(), [DomainError("pod", type(pod).__name__, "not an object", "a Pod object")]
    metadata = _mapping(pod.get("metadata"), "metadata", errors)
    annotations = _string_map(metadata.get("annotations"), "metadata.annotations", errors)
    labels = _string_map(metadata.get("labels"), "metadata.labels", errors)
    spec = _mapping(pod.get("spec"), "spec", errors)

    if spec.get("hostNetwork") is True:
        errors.append(
            DomainError(
                "spec.hostNetwork",
                True,
                "ECI instances have their own network; host networking is not supported",
                "false or unset",
            )
        )
    volumes = _sequence(spec.get("volumes"), "spec.volumes", errors)
    if len(volumes) > MAX_VOLUMES:
        errors.append(
            DomainError(
                "spec.volumes",
                f"{len(volumes)} volumes",
                "too many volumes for one ECI instance",
                f"at most {MAX_VOLUMES}",
            )
        )
    for index, raw in enumerate(volumes):
        volume = _mapping(raw, f"spec.volumes[{index}]", errors)
        if volume.get("hostPath") is not None:
            host_path = _mapping(volume.get("hostPath"), f"spec.volumes[{index}].hostPath", errors)
            errors.append(
                DomainError(
                    f"spec.volumes[{index}].hostPath",
                    host_path.get("path"),
                    "hostPath volumes are not supported on ECI (there is no host)",
                    "any other volume type (emptyDir, configMap, secret, PVC, ...)",
                )
            )

    ignored: list[str] = []
    containers, app_amounts, _ = _read_containers(spec, "containers", errors, ignored)
    init_containers, init_amounts, sidecar = _read_containers(spec, "initContainers", errors, ignored)
    if not _sequence(spec.get("containers"), "spec.containers", []):
        errors.append(
            DomainError(
                "spec.containers",
                None,
                "a pod needs at least one container",
                f"1 to {MAX_CONTAINERS} containers",
            )
        )
    facts = PodFacts(
        annotations=annotations,
        labels=labels,
        containers=tuple(containers),
        init_containers=tuple(init_containers),
        size=_effective(app_amounts, init_amounts, sidecar),
        ignored_containers=tuple(ignored),
    )
    return facts, errors


def reserved_port_users(pod: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(container field path and name, port) for every container port ECI reserves (111, 10250, 10255).

    Not a refusal: ECI's limits page says "avoid them"; the operator warns with an Event.
    """
    spec = pod.get("spec") if isinstance(pod, Mapping) else None
    if not isinstance(spec, Mapping):
        return []
    found: list[tuple[str, int]] = []
    for key in ("initContainers", "containers"):
        items = spec.get(key)
        for index, container in enumerate(items if isinstance(items, list) else []):
            if not isinstance(container, Mapping) or not isinstance(container.get("ports"), list):
                continue
            for port in container["ports"]:
                number = port.get("containerPort") if isinstance(port, Mapping) else None
                if isinstance(number, int) and number in RESERVED_PORTS:
                    found.append((f"spec.{key}[{index}] ({container.get('name')})", number))
    return found
