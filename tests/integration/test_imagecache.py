"""ASK's ImageCache on the real control plane: Alibaba's documented manifest applies unchanged, is built
Creating → Ready on the pull model of the profile owning its vSwitch, and a bad one gets a clear answer."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from cluster_helpers import GROUP, VERSION, virtual_pod, zone_of
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from eci_operator.domain.imagecache_auto import automatic_name
from eci_operator.domain.kubetime import parse_time
from helpers import wait_for

IMC = ("eci.alibabacloud.com", "v1", "imagecaches")

# The form of Alibaba's "Manage ImageCaches" sample: annotations for the build instance's network, the
# images, the pull secrets as namespace:secretName, the size in GB and the retention in days.
MANIFEST = """
apiVersion: eci.alibabacloud.com/v1
kind: ImageCache
metadata:
  name: {name}
  annotations:
    k8s.aliyun.com/eci-security-group: sg-test
    k8s.aliyun.com/eci-vswitch: {vswitch}
spec:
  images:
  - registry.example/team/app:1.0
  - registry.example/team/sidecar:1.0
  imagePullSecrets:
  - {namespace}:regcred
  imageCacheSize: 25
  retentionDays: 7
"""


async def test_alibabas_manifest_applies_unchanged_and_the_cache_becomes_ready(
    api: ApiClient, namespace: str, make_profile: Any, kubectl: Any, tmp_path: Any
) -> None:
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    profile = await make_profile(
        simulation={
            "imagePulls": {"bandwidthMiBps": 100, "defaultImageSizeMiB": 100, "cacheBuildOverheadSeconds": 2}
        }
    )
    vswitch = profile["spec"]["vSwitches"][0]["id"]
    await core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "regcred"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": "e30="},
        },
    )
    name = f"ic-{namespace}"
    path = tmp_path / "imagecache.yaml"
    path.write_text(MANIFEST.format(name=name, vswitch=vswitch, namespace=namespace))
    kubectl("apply", "-f", str(path))
    try:

        async def status() -> dict[str, Any]:
            return dict((await custom.get_cluster_custom_object(*IMC, name)).get("status") or {})

        async def ready() -> dict[str, Any] | None:
            got = await status()
            return got if got.get("phase") == "Ready" else None

        built = await wait_for(ready, 30, what=f"ImageCache {name} Ready")
        assert built["progress"] == "100%"
        assert built["imageCacheId"].startswith("imc-")
        assert [e["message"] for e in built["events"]][:2] == [
            "Successfully pulled image registry.example/team/app:1.0",
            "Successfully pulled image registry.example/team/sidecar:1.0",
        ]
        assert built["expireDateTime"] > built["startTime"]  # retentionDays: 7
        listed = kubectl("get", "ic", name).stdout
        assert "Ready" in listed
        assert "100%" in listed
    finally:
        await custom.delete_cluster_custom_object(*IMC, name)


async def test_a_missing_pull_secret_fails_the_cache_and_a_bad_spec_is_refused(
    api: ApiClient, namespace: str, make_profile: Any, kubectl: Any, tmp_path: Any
) -> None:
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    await make_profile()
    name = f"ic-bad-{namespace}"
    body = {
        "apiVersion": "eci.alibabacloud.com/v1",
        "kind": "ImageCache",
        "metadata": {"name": name},
        "spec": {"images": ["registry.example/app:1"], "imagePullSecrets": [f"{namespace}:absent"]},
    }
    await custom.create_cluster_custom_object(*IMC, body)
    try:

        async def failed() -> dict[str, Any] | None:
            got = dict((await custom.get_cluster_custom_object(*IMC, name)).get("status") or {})
            return got if got.get("phase") == "Failed" else None

        got = await wait_for(failed, 30, what=f"ImageCache {name} Failed")
        assert f"{namespace}:absent" in got["events"][0]["message"]

        async def warned() -> bool:
            events = await core.list_namespaced_event("default", field_selector=f"involvedObject.name={name}")
            return any(
                e.reason == "ImageCacheFailed" and f"{namespace}:absent" in e.message for e in events.items
            )

        await wait_for(warned, 30, what="a Warning Event naming the missing secret")
    finally:
        await custom.delete_cluster_custom_object(*IMC, name)
    path = tmp_path / "bad.yaml"
    bad = {**body, "metadata": {"name": f"{name}-2"}, "spec": {"images": ["a"], "imageCacheSize": 10}}
    path.write_text(yaml.safe_dump(bad))
    refused = kubectl("apply", "-f", str(path), check=False)
    assert refused.returncode != 0
    assert "spec.imageCacheSize" in refused.stderr
    assert "greater than or equal to 20" in refused.stderr


async def test_a_pod_matching_a_ready_cache_starts_faster_with_the_write_back_and_events(
    api: ApiClient, namespace: str, make_profile: Any
) -> None:
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    selector = await _pulling_zone(make_profile, bandwidthMiBps=50, defaultImageSizeMiB=200)
    name = f"ic-warm-{namespace}"
    image = f"registry.example/{namespace}/app:1"
    body = {
        "apiVersion": "eci.alibabacloud.com/v1",
        "kind": "ImageCache",
        "metadata": {"name": name},
        "spec": {"images": [image]},
    }
    await custom.create_cluster_custom_object(*IMC, body)
    try:

        async def ready() -> dict[str, Any] | None:
            got = dict((await custom.get_cluster_custom_object(*IMC, name)).get("status") or {})
            return got if got.get("phase") == "Ready" else None

        cache = await wait_for(ready, 30, what=f"ImageCache {name} Ready")
        for pod, img in (("cold", f"registry.example/{namespace}/other:1"), ("warm", image)):
            await core.create_namespaced_pod(namespace, _pod(pod, selector, img))

        async def started(pod: str) -> float | None:
            group = await custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, "containergroups", pod
            )
            status = group.get("status") or {}
            if status.get("phase") != "Running":
                return None
            return (parse_time(status["startedAt"]) - parse_time(status["instanceCreatedAt"])).total_seconds()

        cold = await wait_for(lambda: started("cold"), 30, what="pod cold Running")
        warm = await wait_for(lambda: started("warm"), 30, what="pod warm Running")
        assert cold == pytest.approx(4, abs=0.01)  # 200 MiB at 50 MiB/s, recorded by the model
        assert warm == pytest.approx(1, abs=0.01)  # the cache's start (demo calibration)
        pod = await core.read_namespaced_pod("warm", namespace)
        assert pod.metadata.annotations["k8s.aliyun.com/eci-matched-image-cache"] == cache["imageCacheId"]

        async def reasons(pod: str) -> set[str]:
            events = await core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={pod}")
            return {e.reason for e in events.items}

        await wait_for(
            lambda: _has(reasons("cold"), {"Pulling", "Pulled", "Created", "Started"}),
            30,
            what="cold's events",
        )
        await wait_for(
            lambda: _has(reasons("warm"), {"SuccessfulHitImageCache", "Pulled"}), 30, what="warm's"
        )
    finally:
        await custom.delete_cluster_custom_object(*IMC, name)


async def _has(got: Any, wanted: set[str]) -> bool:
    return wanted <= await got


async def _pulling_zone(make_profile: Any, **figures: Any) -> dict[str, str]:
    """A profile with the pull model on (these figures, a 1 s cache build overhead): its zone's selector."""
    pulls = {"enabled": True, "cacheBuildOverheadSeconds": 1, **figures}
    profile = await make_profile(simulation={"imagePulls": pulls})
    return {"topology.kubernetes.io/zone": zone_of(profile)}


def _pod(name: str, selector: dict[str, str], image: str) -> dict[str, Any]:
    manifest = virtual_pod(name, nodeSelector=selector)
    manifest["spec"]["containers"][0]["image"] = image
    return manifest


async def test_pods_no_cache_matches_get_one_automatic_cache_that_later_pods_match(
    api: ApiClient, namespace: str, make_profile: Any
) -> None:
    """ECI's "If no cache matches, ECI creates one automatically": one cache for a burst, then a hit."""
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    selector = await _pulling_zone(
        make_profile, autoCreateImageCache=True, bandwidthMiBps=100, defaultImageSizeMiB=100
    )
    image = f"registry.example/{namespace}/auto:1"
    name = automatic_name([image])
    try:
        for pod in ("first", "second", "third"):
            await core.create_namespaced_pod(namespace, _pod(pod, selector, image))

        async def ready() -> dict[str, Any] | None:
            try:
                got = await custom.get_cluster_custom_object(*IMC, name)
            except client.ApiException as exc:
                if exc.status == 404:
                    return None
                raise
            return dict(got) if (got.get("status") or {}).get("phase") == "Ready" else None

        cache = await wait_for(ready, 30, what=f"automatic ImageCache {name} Ready")
        assert cache["metadata"]["labels"]["eci.ask.dev/automatic-image-cache"] == "true"
        assert cache["spec"] == {"images": [image], "retentionDays": 7, "imageCacheSize": 20}
        listed = await custom.list_cluster_custom_object(*IMC)
        assert [c["metadata"]["name"] for c in listed["items"] if image in c["spec"]["images"]] == [name]
        await core.create_namespaced_pod(namespace, _pod("late", selector, image))

        async def matched() -> str | None:
            pod = await core.read_namespaced_pod("late", namespace)
            return (pod.metadata.annotations or {}).get("k8s.aliyun.com/eci-matched-image-cache")

        assert await wait_for(matched, 30, what="pod late matched") == cache["status"]["imageCacheId"]
    finally:
        try:
            await custom.delete_cluster_custom_object(*IMC, name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
