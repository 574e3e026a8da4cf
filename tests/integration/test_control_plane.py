"""The control plane is real: the controller-manager, the scheduler and the garbage collector all act."""

from __future__ import annotations

import datetime as dt
import uuid

from kubernetes_asyncio import client
from kubernetes_asyncio.client import ApiClient

from helpers import wait_for


def _labels() -> dict[str, str]:
    return {"app": f"cp-{uuid.uuid4().hex[:6]}"}


async def test_controller_manager_creates_replicasets_and_pods(api: ApiClient, namespace: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    labels = _labels()
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=3,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]),
            ),
        ),
    )
    await apps.create_namespaced_deployment(namespace, deployment)

    async def replicaset_owned_by_deployment() -> bool:
        rss = await apps.list_namespaced_replica_set(namespace)
        return any(rs.metadata.owner_references[0].name == "web" for rs in rss.items)

    await wait_for(replicaset_owned_by_deployment, 60, what="a ReplicaSet of Deployment web")

    async def three_pods() -> bool:
        pods = await core.list_namespaced_pod(namespace, label_selector=f"app={labels['app']}")
        return len(pods.items) == 3

    await wait_for(three_pods, 60, what="3 pods created by the ReplicaSet controller")


async def test_scheduler_binds_a_pod_to_a_ready_node(api: ApiClient, namespace: str) -> None:
    core, coordination = client.CoreV1Api(api), client.CoordinationV1Api(api)
    node_name = f"fake-node-{uuid.uuid4().hex[:6]}"
    now = dt.datetime.now(dt.UTC)
    node = client.V1Node(
        metadata=client.V1ObjectMeta(name=node_name, labels={"kubernetes.io/hostname": node_name}),
        spec=client.V1NodeSpec(),
        status=client.V1NodeStatus(
            capacity={"cpu": "8", "memory": "32Gi", "pods": "110"},
            allocatable={"cpu": "8", "memory": "32Gi", "pods": "110"},
            conditions=[
                client.V1NodeCondition(
                    type="Ready",
                    status="True",
                    reason="KubeletReady",
                    message="test node",
                    last_heartbeat_time=now,
                    last_transition_time=now,
                )
            ],
        ),
    )
    await core.create_node(node)
    try:
        await coordination.create_namespaced_lease(
            "kube-node-lease",
            client.V1Lease(
                metadata=client.V1ObjectMeta(name=node_name),
                spec=client.V1LeaseSpec(holder_identity=node_name, lease_duration_seconds=40, renew_time=now),
            ),
        )
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name="bind-me"),
            spec=client.V1PodSpec(
                containers=[client.V1Container(name="c", image="busybox")],
                node_selector={"kubernetes.io/hostname": node_name},
            ),
        )
        await core.create_namespaced_pod(namespace, pod)

        async def bound() -> str | None:
            got = await core.read_namespaced_pod("bind-me", namespace)
            return got.spec.node_name  # type: ignore[no-any-return]

        assert await wait_for(bound, 60, what="the scheduler to bind pod bind-me") == node_name
    finally:
        await core.delete_node(node_name)
        await coordination.delete_namespaced_lease(node_name, "kube-node-lease")


async def test_garbage_collector_deletes_dependents(api: ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    owner = await core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner"))
    )
    await core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(
                name="dependent",
                owner_references=[
                    client.V1OwnerReference(
                        api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid
                    )
                ],
            )
        ),
    )
    await core.delete_namespaced_config_map("owner", namespace)

    async def dependent_gone() -> bool:
        names = {cm.metadata.name for cm in (await core.list_namespaced_config_map(namespace)).items}
        return "dependent" not in names

    await wait_for(dependent_gone, 60, what="the garbage collector to delete ConfigMap dependent")
