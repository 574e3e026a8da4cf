"""``MemoryTransport``: the ``Transport`` that hands a ``KubeClient``'s requests to ``kube.memory.ApiServer``
in the same process (bodies as JSON bytes, watches as a stream of JSON lines), as httpx's MockTransport."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from eci_operator.kube.memory import ApiServer, Obj
from eci_operator.kube.transport import Request, Response


class _MemoryStream:
    def __init__(self, status: int, body: bytes, queue: asyncio.Queue[Obj | None] | None) -> None:
        self.status, self.reason, self._body, self._queue = (
            status,
            "OK" if status < 400 else "Error",
            body,
            queue,
        )

    async def read(self) -> bytes:
        return self._body

    async def chunks(self) -> AsyncIterator[bytes]:
        while self._queue is not None:
            event = await self._queue.get()
            if event is None:
                return
            yield json.dumps(event).encode() + b"\n"


class MemoryTransport:
    """A ``Transport`` that answers from an ``ApiServer`` in the same process."""

    def __init__(self, server: ApiServer) -> None:
        self.server = server

    async def send(self, request: Request) -> Response:
        body = json.loads(request.body) if request.body else None
        code, answer = self.server.handle(request.method, request.path, request.params, body)
        await asyncio.sleep(0)  # let watchers run, as a network round trip would
        return Response(code, "OK" if code < 400 else answer.get("reason", ""), json.dumps(answer).encode())

    @contextlib.asynccontextmanager
    async def stream(self, request: Request, read_timeout: float) -> AsyncIterator[_MemoryStream]:
        async with self.server.watch(request.path, request.params) as queue:
            yield _MemoryStream(200, b"", queue)

    async def close(self) -> None:
        return None
