"""The HTTPS endpoints the API server calls with AdmissionReviews (aiohttp, TLS from ``eci_operator.certs``).

Each endpoint unpacks the review, asks ``domain.admission`` with what the operator's caches know (profiles,
virtual nodes, namespace labels) and answers. A request that arrives before the caches are filled waits
for them briefly; a bug answers "allowed" (and is logged) — the same as the Ignore failure policy would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from aiohttp import web

from eci_operator.domain import admission as rules
from eci_operator.domain import pod_mutation as mutation
from eci_operator.domain import webhooks
from eci_operator.domain.configmap import SIMULATION_PREFIX, configmap_problems
from eci_operator.domain.nodes import incumbents
from eci_operator.handlers.ask_config import PROFILE_NAME, SOURCE
from eci_operator.handlers.caches import Caches
from eci_operator.models import ECIProfileSpec

log = structlog.get_logger("eci_operator.admission")
SYNC_WAIT_SECONDS = 3.0
VSWITCH_WAIT_SECONDS = 2.0
Decide = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]


def _deny(message: str, code: int = 400) -> dict[str, Any]:
    return {"allowed": False, "status": {"code": code, "reason": "BadRequest", "message": message}}


def _patched(patch: list[dict[str, Any]]) -> dict[str, Any]:
    encoded = base64.b64encode(json.dumps(patch, separators=(",", ":")).encode()).decode()
    return {"allowed": True, "patchType": "JSONPatch", "patch": encoded}


class AdmissionServer:
    """The webhook endpoints over the operator's state."""

    def __init__(self, caches: Caches) -> None:
        self.caches = caches
        self.app = web.Application()
        self.app.router.add_post(webhooks.VALIDATE_PROFILES, self._route(self.validate_profile))
        self.app.router.add_post(webhooks.VALIDATE_PODS, self._route(self.validate_pod))
        self.app.router.add_post(
            webhooks.VALIDATE_ECI_PROFILE_CONFIGMAP, self._route(self.validate_eci_profile_configmap)
        )
        self.app.router.add_post(webhooks.MUTATE_PODS, self._route(self.mutate_pod))
        self.app.router.add_post(
            webhooks.MUTATE_ECI_NAMESPACE_PODS, self._route(self.mutate_eci_namespace_pod)
        )
        self.app.router.add_get("/healthz", self._healthz)
        self._runner: web.AppRunner | None = None

    async def start(self, host: str, port: int, context: ssl.SSLContext) -> None:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port, ssl_context=context).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    def _route(self, decide: Decide) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                review = await request.json()
                req = review["request"]
                uid = str(req["uid"])
            except (ValueError, KeyError, TypeError):
                return web.Response(status=400, text="expected an admission.k8s.io/v1 AdmissionReview")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SYNC_WAIT_SECONDS):
                    await self.caches.synced.wait()
            try:
                response = await decide(req)
            except Exception as exc:  # never block the cluster on our own bug
                log.exception("admission.error", path=request.path, uid=uid, error=repr(exc))
                response = {"allowed": True, "warnings": [f"eci-operator admission error: {exc!r}"]}
            body = {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {"uid": uid, **response},
            }
            return web.json_response(body)

        return handle

    # ------------------------------------------------------------------------------------ views of state
    def _specs(self) -> dict[str, ECIProfileSpec]:
        return {name: profile.spec for name, profile in self.caches.profiles.valid().items()}

    def _owners(self) -> dict[str, str]:
        return rules.zone_owners(self.caches.profiles.valid(), incumbents(self.caches.nodes.items.values()))

    @staticmethod
    def _pod(req: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
        pod = dict(req.get("object") or {})
        namespace = str(req.get("namespace") or (pod.get("metadata") or {}).get("namespace") or "default")
        return pod, namespace

    # ------------------------------------------------------------------------------------------- views
    async def validate_profile(self, req: Mapping[str, Any]) -> dict[str, Any]:
        body = req.get("object") or {}
        name = str(req.get("name") or (body.get("metadata") or {}).get("name") or "")
        others = {n: p.spec for n, p in self.caches.profiles.valid().items() if n != name}
        errors = rules.validate_profile_admission(
            body, old_body=req.get("oldObject"), others=others, vswitches=self.caches.profiles.inventory
        )
        if not errors:
            return {"allowed": True}
        log.info("admission.denied", kind="ECIProfile", name=name, problems=len(errors))
        return _deny(rules.denial(f'ECIProfile "{name}"', (e.message for e in errors)))

    async def validate_eci_profile_configmap(self, req: Mapping[str, Any]) -> dict[str, Any]:
        """An eci-profile edit that would not take effect is refused, with the messages of its Event."""
        body = req.get("object") or {}
        old = req.get("oldObject") or {}
        data = body.get("data") or {}
        annotations = (body.get("metadata") or {}).get("annotations") or {}
        simulation = {k: v for k, v in annotations.items() if k.startswith(SIMULATION_PREFIX)}

        def old_simulation() -> dict[str, str]:
            meta = (old.get("metadata") or {}).get("annotations") or {}
            return {k: v for k, v in meta.items() if k.startswith(SIMULATION_PREFIX)}

        if old and (old.get("data") or {}) == data and old_simulation() == simulation:
            return {"allowed": True}  # labels, other annotations: always allowed
        deadline = asyncio.get_running_loop().time() + VSWITCH_WAIT_SECONDS
        while True:
            errors = configmap_problems(
                data,
                vswitches=self.caches.profiles.inventory,
                name=PROFILE_NAME,
                source=SOURCE,
                annotations=simulation,
            )
            # A VSwitch applied a moment ago may not be in the cache yet: give its watch event a moment.
            unknown = any("no such vSwitch" in e.why for e in errors)
            if not unknown or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.1)
        if not errors:
            return {"allowed": True}
        log.info("admission.denied", kind="ConfigMap", name=SOURCE, problems=len(errors))
        return _deny("\n".join(m if m.startswith(SOURCE) else f"{SOURCE}: {m}" for m in map(str, errors)))

    async def validate_pod(self, req: Mapping[str, Any]) -> dict[str, Any]:
        pod, namespace = self._pod(req)
        labels = self.caches.namespaces.get(namespace, {})
        if not rules.targets_virtual_nodes(pod, namespace_labels=labels):
            return {"allowed": True}
        verdict = rules.validate_pod_admission(
            pod, profiles=self._specs(), owners=self._owners(), namespace_labels=labels
        )
        who = rules.pod_name(pod, namespace)
        if verdict.allowed:
            return {"allowed": True}
        log.info(
            "admission.denied",
            kind="Pod",
            pod=who,
            profiles=list(verdict.profiles),
            problems=len(verdict.errors),
        )
        return _deny(rules.denial(f"pod {who}", verdict.errors))

    async def mutate_pod(self, req: Mapping[str, Any], *, eci_namespace: bool = False) -> dict[str, Any]:
        pod, namespace = self._pod(req)
        patch = mutation.pod_patch(
            pod,
            namespace_labels=self.caches.namespaces.get(namespace, {}),
            eci_namespace=eci_namespace,
            profiles=self._specs(),
            owners=self._owners(),
        )
        if not patch:
            return {"allowed": True}
        log.info("admission.mutated", pod=rules.pod_name(pod, namespace), paths=[op["path"] for op in patch])
        return _patched(patch)

    async def mutate_eci_namespace_pod(self, req: Mapping[str, Any]) -> dict[str, Any]:
        return await self.mutate_pod(req, eci_namespace=True)
