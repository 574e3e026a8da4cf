"""Pods through the controllers, against the in-memory API server: what is written, in which order."""

from __future__ import annotations

from handler_helpers import GROUP_PATH, NODE, Harness

from eci_operator.runtime.ipam import VSwitchPool
from helpers import wait_for

POD = "/api/v1/namespaces/ns/pods/web"


async def ready_node(h: Harness) -> None:
    h.profile()
    await h.settle()
    node = h.server.get("nodes", "", NODE)
    assert node is not None
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])


async def test_a_pod_costs_two_writes_on_the_happy_path(harness: Harness) -> None:
    await ready_node(harness)
    mark = len(harness.server.requests)
    harness.pod("web")
    await harness.settle()
    assert harness.writes_since(mark) == [
        ("POST", f"{GROUP_PATH}/namespaces/ns/containergroups"),  # created with its status
        ("PATCH", POD + "/status"),
    ]
    pod = harness.server.get("pods", "ns", "web")
    assert pod is not None
    assert pod["status"]["phase"] == "Running"
    # the address is drawn from the profile seed (0) and the pod uid: what a fresh pool gives that key
    expected_ip = VSwitchPool("vsw-1", "10.0.0.0/24").allocate(f"0:{pod['metadata']['uid']}")
    assert pod["status"]["podIP"] == pod["status"]["hostIP"] == expected_ip
    annotations = pod["metadata"]["annotations"]
    assert annotations["k8s.aliyun.com/eci-instance-spec"] == "2.0-4.0Gi"
    assert annotations["k8s.aliyun.com/eci-instance-zone"] == "cn-hangzhou-i"
    group = harness.server.get("containergroups", "ns", "web")
    assert group is not None
    assert group["spec"]["vSwitches"] == [{"id": "vsw-1", "zoneId": "cn-hangzhou-i", "cidr": "10.0.0.0/24"}]
    assert group["spec"]["lifecycle"]["restartPolicy"] == "Always"
    # the resync brings the profile's pod count up to date, then nothing more is written, however often
    harness.operator.resync()
    await harness.settle()
    mark = len(harness.server.requests)
    harness.operator.resync()
    await harness.settle()
    assert harness.writes_since(mark) == []


async def test_deletion_reports_the_containers_then_deletes_with_grace_0_and_the_uid(
    harness: Harness,
) -> None:
    await ready_node(harness)
    uid = harness.pod("web")["metadata"]["uid"]
    await harness.settle()
    mark = len(harness.server.requests)
    harness.request("DELETE", POD, {})  # graceful: the pod gets a deletionTimestamp
    await harness.settle()
    writes = [(m, p, b) for m, p, b in harness.server.requests[mark:] if m != "GET" and "/events" not in p]
    pod_writes = [(m, p) for m, p, _ in writes if p.startswith(POD)]
    assert pod_writes == [("PATCH", POD + "/status"), ("DELETE", POD)]  # as a kubelet: report, then delete
    _, _, deletion = next(w for w in writes if w[:2] == ("DELETE", POD))
    assert deletion is not None
    assert deletion["gracePeriodSeconds"] == 0
    assert deletion["preconditions"] == {"uid": uid}
    _, _, reported = next(w for w in writes if w[1] == POD + "/status")
    assert reported is not None
    assert reported["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137
    assert harness.server.get("pods", "ns", "web") is None
    assert harness.server.get("containergroups", "ns", "web") is None  # the garbage collector took it
    profile = harness.server.get("eciprofiles", "", "default")
    assert profile is not None
    assert profile["status"]["billing"]["namespaces"][0]["pods"] == 1


async def test_a_group_that_exists_already_is_taken_not_created_twice(harness: Harness) -> None:
    await ready_node(harness)
    await harness.operator.stop(drain_seconds=1.0)  # a previous incarnation created the group, then died
    pod = harness.pod("web")
    harness.request(
        "POST",
        f"{GROUP_PATH}/namespaces/ns/containergroups",
        {
            "apiVersion": "eci.ask.dev/v1alpha1",
            "kind": "ContainerGroup",
            "metadata": {
                "name": "web",
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": pod["metadata"]["uid"]}
                ],
            },
            "spec": {
                "podName": "web",
                "podUid": pod["metadata"]["uid"],
                "nodeName": NODE,
                "profile": "default",
                "zoneId": "cn-hangzhou-i",
            },
        },
    )
    # the record is a refused one (no resolved spec): the new operator takes it as it is
    from eci_operator.handlers.operator import Operator

    old = harness.operator
    harness.operator = Operator(
        old.client, harness.runtime, old.settings, clock=harness.clock, events=old.events
    )
    mark = len(harness.server.requests)
    await harness.operator.start()
    await harness.settle()
    assert ("POST", f"{GROUP_PATH}/namespaces/ns/containergroups") not in harness.writes_since(mark)


async def test_a_409_on_create_reads_the_group_back(harness: Harness) -> None:
    await ready_node(harness)
    harness.server.fail_next[("POST", "containergroups")] = [409]
    harness.pod("web")
    await harness.settle()
    # the 409 came with no group to read back (a race): the key is retried with backoff until it works
    codes = [
        c
        for (v, r, c), n in harness.operator.client.counts.by_key.items()
        if (v, r) == ("create", "containergroups")
    ]
    assert 409 in codes


async def test_watches_that_end_are_resumed_from_their_resource_version(harness: Harness) -> None:
    await ready_node(harness)
    harness.server.end_watches()  # as the server does at a watch's timeout
    harness.pod("later")

    def running() -> bool:
        pod = harness.server.get("pods", "ns", "later")
        return pod is not None and pod["status"]["phase"] == "Running"

    await wait_for(running, 5, what="the pod created after the watches ended to run", interval=0.05)
    assert all(i.lists == 1 for i in harness.operator.informers)  # resumed, not listed again


async def test_a_container_on_a_port_eci_uses_gets_a_warning_not_a_refusal(harness: Harness) -> None:
    await ready_node(harness)
    body = {
        "metadata": {"name": "ports"},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "app", "image": "nginx", "ports": [{"containerPort": 10250}]}],
        },
    }
    harness.request("POST", "/api/v1/namespaces/ns/pods", body)
    await harness.settle()
    pod = harness.server.get("pods", "ns", "ports")
    assert pod is not None
    assert pod["status"]["phase"] == "Running"
    warnings = [e for e in harness.server.all("events") if e["reason"] == "ReservedPort"]
    assert len(warnings) == 1
    assert "port 10250" in warnings[0]["message"]
