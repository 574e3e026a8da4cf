"""Which Secrets and ConfigMaps a pod needs, and how a pod waiting for one looks (domain.references)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from eci_operator.domain.references import CONFIG_MAP, SECRET, Reference, missing, references, waiting_status

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [{"name": "c", "image": "i"}], **spec},
    }


def test_every_kind_of_reference_is_found_once() -> None:
    body = pod(
        containers=[
            {
                "name": "c",
                "env": [
                    {"name": "A", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
                    {
                        "name": "B",
                        "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k", "optional": True}},
                    },
                    {"name": "C", "valueFrom": {"secretKeyRef": {"name": "db", "key": "user"}}},
                    {"name": "D", "value": "plain"},
                ],
                "envFrom": [{"secretRef": {"name": "all"}}, {"configMapRef": {"name": "more"}}],
            }
        ],
        volumes=[
            {"name": "v1", "secret": {"secretName": "tls"}},
            {"name": "v2", "configMap": {"name": "files", "optional": True}},
            {"name": "v3", "projected": {"sources": [{"secret": {"name": "proj"}}]}},
            {"name": "v4", "emptyDir": {}},
        ],
    )
    assert references(body) == [
        Reference(SECRET, "db", False),
        Reference(CONFIG_MAP, "cfg", True),
        Reference(SECRET, "all", False),
        Reference(CONFIG_MAP, "more", False),
        Reference(SECRET, "tls", False, "v1"),
        Reference(CONFIG_MAP, "files", True, "v2"),
        Reference(SECRET, "proj", False, "v3"),
    ]


def test_missing_asks_the_namespace() -> None:
    body = pod(volumes=[{"name": "v", "secret": {"secretName": "tls"}}])
    assert missing(body, lambda kind, name: True) == []
    (ref,) = missing(body, lambda kind, name: False)
    assert (ref.reason, ref.not_found) == ("MandatorySecretNotFound", 'secret "tls" not found')
    assert ref.mount_failure == 'MountVolume.SetUp failed for volume "v" : secret "tls" not found'
    assert Reference(CONFIG_MAP, "x", True).reason == "OptionalConfigMapNotFound"


def test_env_references_give_create_container_config_error() -> None:
    status = waiting_status(pod(), [Reference(CONFIG_MAP, "cfg", False)], NOW)
    assert status["phase"] == "Pending"
    (container,) = status["containerStatuses"]
    assert container["state"] == {
        "waiting": {"reason": "CreateContainerConfigError", "message": 'configmap "cfg" not found'}
    }


def test_volume_references_leave_containers_creating() -> None:
    status = waiting_status(pod(), [Reference(SECRET, "tls", False, "v")], NOW)
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
