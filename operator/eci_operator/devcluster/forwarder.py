"""The virtual nodes' side of the node network: TCP in a network namespace, relayed to the operator.

The apiserver proxies to a node's InternalIP but never to loopback, so on the local control plane the
virtual nodes get an address inside a network namespace of the harness's own (``devcluster.node_network``).
This process enters that namespace, and for every ``kubelet-<port>.sock`` the operator serves in the
socket directory it listens on ``<address>:<port>`` and relays each connection, bytes as they are (TLS
stays end to end between the apiserver and the operator), to that Unix socket. Filesystem Unix sockets
are reachable from any network namespace. The directory is polled, so nodes may come and go.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

CLONE_NEWNET = 0x40000000
POLL_SECONDS = 0.2


def enter(netns: str) -> None:
    """Move this (still single-threaded) process into the named network namespace."""
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into network namespace {netns} failed")
    finally:
        os.close(fd)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(Exception):
        writer.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _relay(socket_path: Path) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(str(socket_path))
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    return handle


async def serve(address: str, sockets: Path) -> None:
    servers: dict[int, asyncio.Server] = {}
    while True:
        wanted: dict[int, Path] = {}
        for path in sockets.glob("kubelet-*.sock"):
            digits = path.stem.removeprefix("kubelet-")
            if digits.isdigit():
                wanted[int(digits)] = path
        for port in sorted(set(wanted) - set(servers)):
            try:
                servers[port] = await asyncio.start_server(_relay(wanted[port]), address, port)
                print(f"forwarding {address}:{port} -> {wanted[port]}", flush=True)
            except OSError as exc:
                print(f"cannot listen on {address}:{port}: {exc}", flush=True)
        for port in sorted(set(servers) - set(wanted)):
            servers.pop(port).close()
        await asyncio.sleep(POLL_SECONDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--netns", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--sockets", required=True, type=Path)
    args = parser.parse_args()
    enter(args.netns)
    asyncio.run(serve(args.address, args.sockets))


if __name__ == "__main__":
    main()
