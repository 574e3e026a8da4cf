"""Selector matching (namespace + pod labels, matchLabels and matchExpressions) and effect merging."""

from __future__ import annotations

from typing import Any

import pytest

from eci_operator.domain import apply_selectors, label_selector_matches
from eci_operator.models import LabelSelector, Selector


def _selector(doc: dict[str, Any]) -> LabelSelector:
    return LabelSelector.model_validate(doc)


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({}, {}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        ({"matchLabels": {"a": "1"}}, {}, False),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]}, {}, False),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"b": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"b": "1"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": "1"}, False),
        (
            {"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "Exists"}]},
            {"a": "1"},
            False,
        ),
    ],
)
def test_label_selector(selector: dict[str, Any], labels: dict[str, str], matches: bool) -> None:
    assert label_selector_matches(_selector(selector), labels) is matches


@pytest.mark.parametrize(
    "requirement",
    [
        {"key": "a", "operator": "In"},
        {"key": "a", "operator": "NotIn", "values": []},
        {"key": "a", "operator": "Exists", "values": ["x"]},
        {"key": "a", "operator": "Matches", "values": ["x"]},
    ],
)
def test_malformed_requirements_are_rejected(requirement: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"operator|values|Input should be"):
        _selector({"matchExpressions": [requirement]})


def _selectors(*docs: dict[str, Any]) -> list[Selector]:
    return [Selector.model_validate(doc) for doc in docs]


BOTH = {
    "name": "both",
    "namespaceSelector": {"matchLabels": {"team": "batch"}},
    "objectSelector": {"matchLabels": {"app": "etl"}},
    "effect": {"annotations": {"k": "both"}},
}
NS_ONLY = {
    "name": "ns",
    "namespaceSelector": {"matchLabels": {"team": "batch"}},
    "effect": {"annotations": {"k": "ns"}},
}
POD_ONLY = {
    "name": "pod",
    "objectSelector": {"matchLabels": {"app": "etl"}},
    "effect": {"annotations": {"k": "pod"}},
}
ALL = {"name": "all", "effect": {"annotations": {"k": "all"}, "labels": {"tier": "all"}}}


@pytest.mark.parametrize(
    ("ns_labels", "pod_labels", "matched"),
    [
        ({"team": "batch"}, {"app": "etl"}, ["both", "ns", "pod", "all"]),
        ({"team": "batch"}, {}, ["ns", "all"]),
        ({}, {"app": "etl"}, ["pod", "all"]),
        ({}, {}, ["all"]),
    ],
)
def test_both_selectors_must_match_and_neither_matches_all(
    ns_labels: dict[str, str], pod_labels: dict[str, str], matched: list[str]
) -> None:
    effects = apply_selectors(
        _selectors(BOTH, NS_ONLY, POD_ONLY, ALL),
        namespace_labels=ns_labels,
        pod_labels=pod_labels,
        pod_annotations={},
    )
    assert list(effects.matched) == matched
    assert effects.annotations == {"k": matched[0]}  # the earliest matching selector wins
    assert effects.annotation_sources == {"k": matched[0]}


def test_effects_merge_and_never_overwrite_the_pod() -> None:
    first = {"name": "first", "effect": {"annotations": {"a": "1"}, "labels": {"l1": "first"}}}
    second = {
        "name": "second",
        "effect": {"annotations": {"a": "2", "b": "2", "c": "2"}, "labels": {"l1": "x", "l2": "2"}},
    }
    effects = apply_selectors(
        _selectors(first, second),
        namespace_labels={},
        pod_labels={"l2": "pod"},
        pod_annotations={"c": "pod"},
    )
    assert effects.annotations == {"a": "1", "b": "2"}
    assert effects.annotation_sources == {"a": "first", "b": "second"}
    assert effects.labels == {"l1": "first"}
    assert effects.label_sources == {"l1": "first"}


def test_selectors_see_the_pods_own_labels_only() -> None:
    adds = {"name": "adds", "effect": {"labels": {"app": "etl"}}}
    effects = apply_selectors(
        _selectors(adds, POD_ONLY), namespace_labels={}, pod_labels={}, pod_annotations={}
    )
    assert effects.matched == ("adds",)
