"""Golden file of a resolution matrix: pods x namespaces against the test profile.

A change to any rule shows up as a diff of ``golden/resolutions.json``. Regenerate it deliberately with
``UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from builders import container, make_pod, make_profile

from eci_operator.domain import resolve, validate_pod

GOLDEN = Path(__file__).parent / "golden" / "resolutions.json"
A = "k8s.aliyun.com/"

CASES: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "empty pod": (make_pod(), {}),
    "requests only": (make_pod(containers=[container(cpu="300m", memory="700Mi")]), {}),
    "limits beat requests": (make_pod(containers=[container(cpu="1", limit_cpu="2", memory="1Gi")]), {}),
    "cpu only": (make_pod(containers=[container(cpu="2")]), {}),
    "memory only": (make_pod(containers=[container(memory="3Gi")]), {}),
    "next row": (make_pod(containers=[container(cpu="2", memory="17Gi")]), {}),
    "init dominates": (
        make_pod(containers=[container(cpu="1")], init_containers=[container("init", memory="10Gi")]),
        {},
    ),
    "largest spec": (make_pod(containers=[container(cpu="64", memory="512Gi")]), {}),
    "use-specs list": (make_pod(annotations={A + "eci-use-specs": "ecs.r7.xlarge,2-4Gi, 0.25-1Gi"}), {}),
    "selector batch": (make_pod(labels={"app": "etl"}), {"team": "batch"}),
    "pod beats selector": (
        make_pod(labels={"app": "etl", "tier": "own"}, annotations={A + "eci-use-specs": "1-2Gi"}),
        {"team": "batch"},
    ),
    "everything annotated": (
        make_pod(
            annotations={
                A + "eci-vswitch": "vsw-j,vsw-i",
                A + "eci-schedule-strategy": "VSwitchOrdered",
                A + "eci-security-group": "sg-extra",
                A + "eci-spot-strategy": "SpotWithPriceLimit",
                A + "eci-spot-price-limit": "0.125",
                A + "eci-spot-duration": "0",
                A + "eci-spot-fallback": "true",
                A + "eci-fail-strategy": "fail-fast",
                A + "eci-max-pending-minute": "1440",
            }
        ),
        {},
    ),
    "worked example 7/13": (make_pod(containers=[container(cpu="7", memory="13Gi")]), {}),
    "off-table use-specs": (make_pod(annotations={A + "eci-use-specs": "2-3Gi,6-12Gi,2-4Gi"}), {}),
    "ignored sidecar": (
        make_pod(
            containers=[
                container("a", cpu="2", memory="4Gi"),
                container("b", cpu="2", memory="4Gi"),
                container(
                    "c",
                    cpu="250m",
                    memory="512Mi",
                    env=[{"name": "__ECI_RESOURCE_IGNORE__", "value": "TRUE"}],
                ),
            ]
        ),
        {},
    ),
    "spot rounded onto the spot table": (
        make_pod(
            annotations={A + "eci-spot-strategy": "SpotAsPriceGo"},
            containers=[container(cpu="500m", memory="6Gi")],
        ),
        {},
    ),
    "gpu": (
        make_pod(
            annotations={A + "eci-use-specs": "ecs.gn6i-c4g1.xlarge"},
            containers=[container(resources={"limits": {"cpu": "2", "nvidia.com/gpu": "1"}})],
        ),
        {},
    ),
    "fail-over": (make_pod(annotations={A + "eci-fail-strategy": "fail-over"}), {}),
    "arm without the arm node": (make_pod(annotations={A + "eci-use-specs": "ecs.g8y.large"}), {}),
    "gpu without a gpu type": (
        make_pod(containers=[container(resources={"limits": {"nvidia.com/gpu": "1"}})]),
        {},
    ),
    "errors": (
        make_pod(
            hostNetwork=True,
            annotations={A + "eci-use-specs": "2-4Gi,2.0-4.0Gi", A + "eci-spot-fallback": "yes"},
            volumes=[{"name": "h", "hostPath": {"path": "/"}}],
        ),
        {},
    ),
}


def _matrix() -> dict[str, Any]:
    profile = make_profile()
    result: dict[str, Any] = {}
    for name, (pod, ns) in CASES.items():
        errors = validate_pod(pod, profile, namespace_labels=ns)
        if errors:
            result[name] = {"errors": [str(error) for error in errors]}
        else:
            result[name] = resolve(pod, profile, namespace_labels=ns).to_dict()
    return result


def test_resolution_matrix_matches_golden_file() -> None:
    actual = _matrix()
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert actual == expected, "resolution changed; regenerate with UPDATE_GOLDEN=1 and review the diff"
