"""ECIProfile selectors: which selectors match a pod, and which annotations and labels they add.

The rules follow the ASK ``eci-profile`` ConfigMap documentation: selectors are matched in order; a
selector with a ``namespaceSelector`` and an ``objectSelector`` needs both to match, one with neither
matches every pod; the effects of all matching selectors merge, an earlier selector wins over a later one,
and a selector never overwrites an annotation or label the pod already has. Selectors see the pod's own
labels, not labels added by earlier selectors (our rule: matching does not depend on selector order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from eci_operator.models import LabelSelector, LabelSelectorOperator, Selector


def label_selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Kubernetes label-selector semantics; an empty selector matches everything."""
    for key, value in selector.match_labels.items():
        if labels.get(key) != value:
            return False
    for requirement in selector.match_expressions:
        present = requirement.key in labels
        match requirement.operator:
            case LabelSelectorOperator.IN:
                ok = present and labels[requirement.key] in requirement.values
            case LabelSelectorOperator.NOT_IN:
                ok = not present or labels[requirement.key] not in requirement.values
            case LabelSelectorOperator.EXISTS:
                ok = present
            case LabelSelectorOperator.DOES_NOT_EXIST:
                ok = not present
        if not ok:
            return False
    return True


def selector_matches(
    selector: Selector, *, namespace_labels: Mapping[str, str], pod_labels: Mapping[str, str]
) -> bool:
    """Whether one profile selector applies to a pod (each of its two label selectors is optional)."""
    if selector.namespace_selector is not None and not label_selector_matches(
        selector.namespace_selector, namespace_labels
    ):
        return False
    return selector.object_selector is None or label_selector_matches(selector.object_selector, pod_labels)


@dataclass(frozen=True)
class Effects:
    """The merged effect of the matching selectors on one pod.

    ``annotations``/``labels`` hold only what the pod lacks (what admission would add); the ``*_sources``
    maps say which selector supplied each key.
    """

    matched: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotation_sources: dict[str, str] = field(default_factory=dict)
    label_sources: dict[str, str] = field(default_factory=dict)


def apply_selectors(
    selectors: Sequence[Selector],
    *,
    namespace_labels: Mapping[str, str],
    pod_labels: Mapping[str, str],
    pod_annotations: Mapping[str, object],
) -> Effects:
    """Match ``selectors`` in order and merge their effects under the never-overwrite rule."""
    effects = Effects()
    matched: list[str] = []
    for selector in selectors:
        if not selector_matches(selector, namespace_labels=namespace_labels, pod_labels=pod_labels):
            continue
        matched.append(selector.name)
        for key, value in selector.effect.annotations.items():
            if key not in pod_annotations and key not in effects.annotations:
                effects.annotations[key] = value
                effects.annotation_sources[key] = selector.name
        for key, value in selector.effect.labels.items():
            if key not in pod_labels and key not in effects.labels:
                effects.labels[key] = value
                effects.label_sources[key] = selector.name
    return Effects(
        matched=tuple(matched),
        annotations=effects.annotations,
        labels=effects.labels,
        annotation_sources=effects.annotation_sources,
        label_sources=effects.label_sources,
    )
