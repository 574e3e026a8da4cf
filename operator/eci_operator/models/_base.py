"""Shared pydantic plumbing for the CRD models: camelCase aliases, strictness, and Kubernetes metadata.

Every model of a CRD field inherits from ``KubeModel`` so that Python code uses snake_case while the wire
format (the API server, YAML manifests) uses the camelCase names of the CRD schema. Models are strict
(``extra="forbid"``): a typo in a manifest is an error, not a silently ignored field. This module does no
I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from pydantic.alias_generators import to_camel

GROUP = "eci.ask.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# metav1 conventions, repeated in the CRDs.
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
DECIMAL_PATTERN = r"^[0-9]+(\.[0-9]+)?$"


class KubeModel(BaseModel):
    """Base of every CRD model: camelCase on the wire, snake_case in Python, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
    )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire form (camelCase keys, unset optional fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class OwnerReference(KubeModel):
    """A metav1.OwnerReference (only the fields this project sets or reads)."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(KubeModel):
    """The parts of metav1.ObjectMeta the operator reads; anything else the server sends is kept."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    owner_references: list[OwnerReference] = Field(default_factory=list)
    finalizers: list[str] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _drop_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave empty labels, annotations, ownerReferences and finalizers out of the wire form."""
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if value != {} and value != []}
