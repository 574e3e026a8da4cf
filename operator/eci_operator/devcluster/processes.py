"""Start and stop the control plane's processes by pid, and only those.

A process is started in its own session (so it outlives ``make cluster-up``) with its output in a log file,
and its pid is recorded together with its executable path. Stopping checks that the pid still runs that
executable before signalling it, so a recycled pid is never killed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class ClusterError(RuntimeError):
    """A control-plane operation failed; the message is one line naming the cause and the log to read."""


@dataclass(frozen=True)
class Recorded:
    """What the state file remembers of one started component."""

    name: str
    pid: int
    executable: str
    log: str


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def start(name: str, argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> Recorded:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n--- starting {name}: {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, **env} if env else None,
        )
    return Recorded(name=name, pid=proc.pid, executable=str(argv[0]), log=str(log))


def _reap(pid: int) -> None:
    # Our own children (when the harness started them in-process) must be reaped or they linger as zombies.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def alive(rec: Recorded) -> bool:
    """True if ``rec.pid`` runs and is still the executable we started (not a recycled pid or a zombie)."""
    _reap(rec.pid)
    try:
        exe = os.readlink(f"/proc/{rec.pid}/exe")
        with open(f"/proc/{rec.pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    if state == "Z":
        return False
    return Path(exe.removesuffix(" (deleted)")).resolve() == Path(rec.executable).resolve()


def stop(rec: Recorded, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; returns when the process is gone."""
    if not alive(rec):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(rec.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(rec):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(rec.pid, signal.SIGKILL)
        if time.monotonic() > deadline + 10:
            raise ClusterError(f"{rec.name} (pid {rec.pid}) did not exit after SIGKILL")
        time.sleep(0.1)


def tail(log: Path | str, lines: int = 15) -> str:
    try:
        text = Path(log).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])
