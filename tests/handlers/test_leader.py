"""Leader election in-process: two replicas on one in-memory API server and one manual clock.

Each replica is assembled as ``handlers.app`` assembles it with leader election on: its own client (whose
write fence is the elector's ``may_write``), its own simulated runtime, an operator that watches from the
start and leads only once elected. Time moves only when a test says so, and the electors take one step
(client-go's tryAcquireOrRenew) when the test calls ``step``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest
from handler_helpers import GROUP_PATH, NODE, ZONE, settle_while

from eci_operator.domain import leader as rules
from eci_operator.handlers.leader import ElectionConfig, LeaderElector
from eci_operator.handlers.operator import Operator
from eci_operator.handlers.settings import Settings
from eci_operator.kube.client import KubeClient
from eci_operator.kube.errors import NotLeader
from eci_operator.kube.events import EventPoster
from eci_operator.kube.memory import ApiServer
from eci_operator.kube.memory_transport import MemoryTransport
from eci_operator.runtime.clock import ManualClock
from eci_operator.runtime.simulated import SimulatedRuntime

LEASE = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/eci-operator"


@dataclass
class Replica:
    name: str
    client: KubeClient
    operator: Operator
    elector: LeaderElector

    def writes(self) -> Counter[tuple[str, str]]:
        """Successful writes other than the election Lease's."""
        return Counter({k: n for k, n in self.client.counts.writes().items() if k[1] != "leases"})

    def refused(self) -> int:
        return sum(n for (_, _, code), n in self.client.counts.by_key.items() if code == -1)


class Cluster:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.server = ApiServer(now=self.clock.now)
        for ns in ("ns", "kube-node-lease", "kube-system"):
            self.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
        self.replicas: list[Replica] = []

    def request(self, method: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
        code, answer = self.server.handle(method, path, {}, body)
        self.server.requests.pop()
        assert code < 300, answer
        return answer

    async def replica(self, name: str) -> Replica:
        client = KubeClient(MemoryTransport(self.server), max_retries=0)
        settings = Settings(workers=4, webhooks=False, metrics_port=0)
        events = EventPoster(client, quiet=0.0, max_defer=0.0)
        op = Operator(client, SimulatedRuntime(self.clock), settings, clock=self.clock, events=events)
        elector = LeaderElector(client, self.clock, ElectionConfig(namespace="kube-system", identity=name))
        client.write_fence = elector.may_write
        await op.watch()
        replica = Replica(name, client, op, elector)
        self.replicas.append(replica)
        return replica

    async def settle(self, timeout: float = 5.0) -> None:
        def busy() -> bool:
            return bool(
                self.server.undelivered()
                or any(
                    r.operator.leading and (len(r.operator.queue) or r.operator.events.pending)
                    for r in self.replicas
                )
            )

        await settle_while(busy, timeout, what="the replicas")

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.settle()

    def pod(self, name: str) -> None:
        body = {
            "metadata": {"name": name},
            "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "nginx"}]},
        }
        self.request("POST", "/api/v1/namespaces/ns/pods", body)

    def ip(self, name: str) -> str | None:
        pod = self.server.get("pods", "ns", name)
        return None if pod is None else (pod.get("status") or {}).get("podIP")

    def holder(self) -> str:
        lease = self.server.get("leases", "kube-system", "eci-operator")
        assert lease is not None
        return str(lease["spec"]["holderIdentity"])


@pytest.fixture
async def cluster() -> object:
    c = Cluster()
    yield c
    for r in c.replicas:
        await r.operator.stop(drain_seconds=0.5)


async def two_replicas(cluster: Cluster) -> tuple[Replica, Replica]:
    a, b = await cluster.replica("a"), await cluster.replica("b")
    assert await a.elector.step() == "started"
    assert await b.elector.step() is None  # held by a and not expired: b stays a standby
    await a.operator.lead()
    body = {
        "apiVersion": "eci.ask.dev/v1alpha1",
        "kind": "ECIProfile",
        "metadata": {"name": "default"},
        "spec": {
            "regionId": "cn-hangzhou",
            "vpcId": "vpc-1",
            "securityGroupId": "sg-1",
            "vSwitches": [{"id": "vsw-1", "zoneId": ZONE, "cidr": "10.0.0.0/28"}],
        },
    }
    cluster.request("POST", f"{GROUP_PATH}/eciprofiles", body)
    await cluster.settle()
    return a, b


async def test_only_the_leader_writes_while_the_standby_keeps_its_caches_warm(cluster: Cluster) -> None:
    a, b = await two_replicas(cluster)
    cluster.pod("web")
    await cluster.settle()
    assert cluster.ip("web")
    assert cluster.holder() == "a"
    assert a.writes()[("create", "containergroups")] == 1
    assert b.writes() == Counter()  # not one write: no node status, no node Lease, no pod status
    assert ("ns", "web") in b.operator.caches.pods.items  # but it sees everything the leader does
    assert ("ns", "web") in b.operator.caches.groups.items
    assert ("", NODE) in b.operator.caches.nodes.items


async def test_a_standby_takes_over_an_expired_lease_and_adopts_before_placing(cluster: Cluster) -> None:
    _a, b = await two_replicas(cluster)
    for name in ("web-0", "web-1", "web-2"):
        cluster.pod(name)
    await cluster.settle()
    before = {n: cluster.ip(n) for n in ("web-0", "web-1", "web-2")}
    # a dies (kill -9): it never renews again. Inside the lease duration b must wait...
    await cluster.advance(10)
    assert await b.elector.step() is None
    await cluster.advance(6)  # ...past 15 s since b last saw the record change, it takes over
    assert await b.elector.step() == "started"
    assert b.elector.last_takeover_seconds == pytest.approx(16)
    await b.operator.lead()
    cluster.pod("new")
    await cluster.settle()
    assert cluster.holder() == "b"
    lease = cluster.server.get("leases", "kube-system", "eci-operator")
    assert lease is not None
    assert lease["spec"]["leaseTransitions"] == 1
    assert {n: cluster.ip(n) for n in before} == before  # adopted: same IPs
    assert b.operator.runtime.get(("ns", "web-0")) is not None
    assert cluster.ip("new")
    assert cluster.ip("new") not in before.values()
    assert b.writes()[("create", "containergroups")] == 1  # only the new pod's group: the others adopted


async def test_a_leader_that_lost_its_lease_stops_writing_at_once(cluster: Cluster) -> None:
    """No split brain: a leader paused past its renew deadline writes nothing more, whatever runs in it."""
    a, b = await two_replicas(cluster)
    cluster.pod("web")
    await cluster.settle()
    # a is paused (SIGSTOP, a long GC, a partition): no renewal for more than the renew deadline
    cluster.clock.advance(10.5)
    assert not a.elector.leading  # by a's own clock, at once: before any step, before b can take over
    with pytest.raises(NotLeader):
        await a.client.merge_patch(f"/api/v1/nodes/{NODE}/status", {"status": {}})
    writes_before = a.writes()
    await cluster.advance(5)
    assert await b.elector.step() == "started"
    await b.operator.lead()
    cluster.pod("during")  # a's informers still see it and a's queue still tries to reconcile it
    a.operator.resync()
    await cluster.settle()
    assert a.writes() == writes_before  # every write a tried was refused unsent
    assert a.refused() > 0
    assert cluster.ip("during")  # b placed it
    assert await a.elector.step() == "stopped"  # OnStoppedLeading: the process exits and restarts
    assert cluster.holder() == "b"
    groups = [g["spec"]["podUid"] for g in cluster.server.all("containergroups")]
    assert len(groups) == len(set(groups)) == 2  # one group per pod


async def test_a_released_lease_is_taken_over_at_the_next_retry(cluster: Cluster) -> None:
    a, b = await two_replicas(cluster)
    await a.operator.stop(drain_seconds=0.5)
    assert await a.elector.release()
    lease = cluster.server.get("leases", "kube-system", "eci-operator")
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == ""
    assert lease["spec"]["leaseDurationSeconds"] == 1
    assert not a.elector.leading
    await cluster.advance(2)  # one retry period, not a lease duration
    assert await b.elector.step() == "started"
    assert b.elector.last_takeover_seconds == pytest.approx(2)


async def test_of_two_candidates_writing_the_same_version_only_one_wins(cluster: Cluster) -> None:
    a, b, c = await cluster.replica("a"), await cluster.replica("b"), await cluster.replica("c")
    assert await a.elector.step() == "started"
    assert await b.elector.step() is None
    assert await c.elector.step() is None
    await cluster.advance(16)  # a died; b and c both hold the expired record, at the same version
    assert await b.elector.step() == "started"
    assert c.elector.observed is not None
    claim = rules.claim(c.elector.observed, "c", cluster.clock.now(), 15)
    assert await c.elector._write(claim) is False  # its resourceVersion precondition failed: 409
    assert cluster.holder() == "b"
    assert await c.elector.step() is None  # and on its next try it sees b's fresh record


async def test_a_paused_leader_nobody_replaced_resumes_at_the_version_it_wrote(cluster: Cluster) -> None:
    a, b = await cluster.replica("a"), await cluster.replica("b")
    assert await a.elector.step() == "started"
    cluster.clock.advance(30)  # paused past its deadline and its lease duration; b never tried meanwhile
    assert not a.elector.leading
    assert await a.elector.step() is None  # renewed at its own resourceVersion: nobody else led
    assert a.elector.leading
    assert await b.elector.step() is None  # and b sees a fresh record
    assert cluster.holder() == "a"


async def test_a_leader_that_reads_another_holder_stops_at_once_inside_its_deadline(cluster: Cluster) -> None:
    a, b = await cluster.replica("a"), await cluster.replica("b")
    assert await a.elector.step() == "started"
    cluster.request("PATCH", LEASE, {"spec": {"holderIdentity": "intruder"}})  # e.g. a clock-rate skew
    await cluster.advance(2)
    assert a.elector.leading  # it has not looked yet
    assert await a.elector.step() == "stopped"  # its fast path got 409, the read shows the intruder
    assert not a.elector.leading
    assert await b.elector.step() is None


async def test_a_leader_cut_off_from_the_api_server_is_suspended_then_resumes(cluster: Cluster) -> None:
    a, b = await two_replicas(cluster)
    # The API server answers 503 to every Lease write and read for longer than the renew deadline.
    cluster.server.fail_next[("PATCH", "leases")] = [503] * 20
    cluster.server.fail_next[("GET", "leases")] = [503] * 20
    for _ in range(6):  # 12 s of retries (every 2 s): past the 10 s renew deadline
        cluster.clock.advance(2)
        assert await a.elector.step() is None
    assert a.elector.suspended
    assert not a.elector.leading  # the fence is up: nothing but the Lease is written
    assert not a.elector.stopped.is_set()  # not stopped: nobody else can have led (the Lease never moved)
    mark = a.refused()
    cluster.pod("while-cut-off")
    await cluster.settle()
    assert a.refused() > mark
    cluster.server.fail_next.clear()
    cluster.clock.advance(2)
    assert await a.elector.step() is None  # renewed at the version it last wrote
    assert a.elector.leading
    assert not a.elector.suspended
    assert cluster.holder() == "a"
    assert await b.elector.step() is None  # b saw a fresh record: it stays a standby
