"""The AppConfig LAMBDA validator: the semantic toggle rules the JSON Schema cannot express.

AppConfig invokes the function with `{"applicationId", "configurationProfileId", "configurationVersion",
"content"}` where `content` is the base64 of the document. Returning means valid; raising rejects the
version, and AppConfig shows the exception message, which names the fields involved.

The rule is `failsafe.domain.acceptance.accept_document`, the very one every `ToggleClient` applies: size
cap, strict JSON types, the semantic rules and `metadata.environment` equal to this stack's environment.
AppConfig therefore never deploys a version that the clients of this environment would refuse.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from failsafe.domain.acceptance import DocumentRejected, accept_document
from failsafe.domain.toggles import ToggleDocument


class ToggleValidationError(ValueError):
    pass


class ValidatorEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    applicationId: str | None = None
    configurationProfileId: str | None = None
    configurationVersion: str | None = None
    content: str


def validate_event(event: Any, *, environment: str) -> ToggleDocument:
    """The document of an AppConfig validator event for `environment`, or `ToggleValidationError`."""
    try:
        parsed = ValidatorEvent.model_validate(event)
    except ValidationError as exc:
        raise ToggleValidationError(f"not an AppConfig validator event: {exc.errors()[0]['msg']}") from exc
    try:
        raw = base64.b64decode(parsed.content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ToggleValidationError(f"content is not base64-encoded JSON: {exc}") from exc
    try:
        return accept_document(raw, environment=environment)
    except DocumentRejected as exc:
        raise ToggleValidationError(str(exc)) from exc
