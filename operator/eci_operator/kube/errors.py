"""Typed API errors: what a non-2xx answer means, decided once instead of at every call site.

``ApiError`` carries the HTTP status (0 for a connection that failed after retries) and the server's
``Status`` body; ``api_error`` picks the subclass, so callers write ``except NotFound`` rather than compare
integers. Modelled on client-go's ``apierrors.IsNotFound``/``IsConflict``/... predicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApiError(Exception):
    """A non-2xx answer from the API server (after retries)."""

    status = 0

    def __init__(self, status: int, reason: str, body: Mapping[str, Any] | None = None) -> None:
        self.status = status
        self.reason = reason
        self.body = dict(body or {})
        message = self.body.get("message") or reason
        super().__init__(f"{status} {reason}: {message}")


class NotFound(ApiError):
    """404: the object (or its namespace) does not exist."""


class Conflict(ApiError):
    """409: it exists already, or a uid / resourceVersion precondition failed."""


class Gone(ApiError):
    """410: the watch cannot resume from that resourceVersion: list again."""


class Invalid(ApiError):
    """422: the server refused the body (validation, a bad patch)."""


class TooManyRequests(ApiError):
    """429: throttled (retried by the client before this is raised)."""


class NotLeader(ApiError):
    """Not sent: this replica does not hold the leader election Lease (``handlers.leader``'s fence)."""


class ConnectionFailed(ApiError):
    """No answer at all (status 0), after the client's retries."""


_BY_STATUS: dict[int, type[ApiError]] = {
    0: ConnectionFailed,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}


def api_error(status: int, reason: str, body: Mapping[str, Any] | None = None) -> ApiError:
    """The typed error for an answer with ``status``."""
    return _BY_STATUS.get(status, ApiError)(status, reason, body)
