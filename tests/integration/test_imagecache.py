"""ASK's ImageCache on the real control plane: Alibaba's documented manifest applies unchanged, is built
Creating → Ready on the pull model of the profile owning its vSwitch, and a bad one gets a clear answer."""

from __future__ import annotations

from typing import Any

import yaml
from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

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
