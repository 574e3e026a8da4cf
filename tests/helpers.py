"""The one way tests wait: poll a predicate until it holds or a deadline passes.

No test sleeps on its own; every wait names what it waits for, so a timeout says what never happened
and shows the last value seen.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The awaited condition did not hold before the deadline."""


async def wait_for(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float,
    *,
    what: str = "condition",
    interval: float = 0.2,
) -> T:
    """Call ``predicate`` (sync or async) until it returns a truthy value; return that value.

    Exceptions raised by the predicate count as "not yet" and are reported if the deadline passes.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            last = result
        except Exception as exc:  # the thing may not exist yet
            last = exc
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")
        await asyncio.sleep(interval)


def wait_for_sync(
    predicate: Callable[[], T], timeout: float, *, what: str = "condition", interval: float = 0.2
) -> T:
    """``wait_for`` for synchronous tests."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = predicate()
            if result:
                return result
            last = result
        except Exception as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)


def node_network_env(kubeconfig: str) -> dict[str, str]:
    """ECI_NODE_ADDRESS and ECI_KUBELET_SOCKET_DIR of a local cluster with a node network (else empty)."""
    from pathlib import Path

    path = Path(kubeconfig).parent / "node-network.env"
    if not path.exists():
        return {}
    lines = [line for line in path.read_text().splitlines() if "=" in line]
    return {key: value for key, _, value in (line.partition("=") for line in lines)}


class OperatorProcess:
    """``eci-operator run`` as a real subprocess against the test cluster (started, killed, restarted)."""

    def __init__(self, kubeconfig: str, log_path: str, *extra: str) -> None:
        import os
        import sys
        import uuid
        from pathlib import Path

        self.metrics_port = free_port()
        self.webhook_port = free_port()
        # One identity per process object (two objects are two replicas): a restart after SIGKILL renews
        # its own Lease at once instead of waiting it out, as the default hostname_uuid identity would.
        self.identity = f"test-{uuid.uuid4().hex[:8]}"
        self.argv = [
            str(Path(sys.executable).parent / "eci-operator"),
            "run",
            f"--kubeconfig={kubeconfig}",
            "--liveness=off",
            "--log-format=json",
            f"--metrics-port={self.metrics_port}",
            f"--kubelet-port-base={free_port()}",
            "--metrics-address=127.0.0.1",
            f"--webhook-port={self.webhook_port}",
            f"--leader-election-identity={self.identity}",
            *extra,
        ]
        # On kind the apiserver runs in a container: give the host's address on the kind network.
        webhook_host = os.environ.get("ECI_TEST_WEBHOOK_HOST")
        if webhook_host:
            self.argv += [f"--webhook-host={webhook_host}", "--webhook-bind-address=0.0.0.0"]
        else:
            self.argv.append("--webhook-bind-address=127.0.0.1")
        self.log_path = log_path
        self.env = {**os.environ, **node_network_env(kubeconfig)}
        self.proc: Any = None

    def synced_count(self) -> int:
        try:
            with open(self.log_path, errors="replace") as f:
                return sum('"operator.synced"' in line for line in f)
        except FileNotFoundError:
            return 0

    def start(self, *, wait: bool = True) -> None:
        """Start it; unless ``wait`` is False, return once it has synced its caches (or fail with its log)."""
        import subprocess

        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        synced_before = self.synced_count()
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        if wait:

            def synced() -> bool:
                if self.proc.poll() is not None:
                    raise AssertionError(f"operator exited {self.proc.returncode}:\n{self.log_tail()}")
                return self.synced_count() > synced_before

            wait_for_sync(synced, 60, what="the operator to sync its caches")

    def stop(self, sig: int | None = None, timeout: float = 30) -> int | None:
        import signal
        import subprocess

        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else int(self.proc.returncode)
        self.proc.send_signal(sig or signal.SIGTERM)
        try:
            return int(self.proc.wait(timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return int(self.proc.wait(timeout))

    def kill(self) -> None:
        import signal

        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Read a Prometheus endpoint into {(name, sorted labels): value}."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out
