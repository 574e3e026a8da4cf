"""The operator's admission webhooks: an HTTPS server of its own and the configurations pointing at it.

``start`` (called from ``handlers.app.startup`` before the first virtual node can report Ready) makes an
in-memory CA and serving certificate (``eci_operator.certs``), serves the webhooks with aiohttp and creates
or updates the ``eci-operator`` Validating/MutatingWebhookConfigurations with that CA as ``caBundle``.
``stop`` (from ``cleanup``) stops the server and leaves the configurations in place: their failurePolicy is
Ignore, so a stopped operator blocks nothing, and the next start overwrites them. With leader election
every replica serves and only the leader registers (``claim``, when it takes over). What is decided lives in
``eci_operator.domain.admission`` and ``eci_operator.domain.webhooks``; this package only does the I/O.
"""

from __future__ import annotations

from eci_operator.handlers.admission.service import Admission, claim, start, stop

__all__ = ["Admission", "claim", "start", "stop"]
