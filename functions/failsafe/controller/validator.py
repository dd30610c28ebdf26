"""The AppConfig LAMBDA validator: the semantic toggle rules the JSON Schema cannot express.

AppConfig invokes the function with `{"applicationId", "configurationProfileId", "configurationVersion",
"content"}` where `content` is the base64 of the document. Returning means valid; raising rejects the
version, and AppConfig shows the exception message, which names the fields involved.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from failsafe.domain.toggles import ToggleDocument


class ToggleValidationError(ValueError):
    pass


class ValidatorEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    applicationId: str | None = None
    configurationProfileId: str | None = None
    configurationVersion: str | None = None
    content: str


def validate_event(event: Any) -> ToggleDocument:
    try:
        parsed = ValidatorEvent.model_validate(event)
    except ValidationError as exc:
        raise ToggleValidationError(f"not an AppConfig validator event: {exc.errors()[0]['msg']}") from exc
    try:
        raw = base64.b64decode(parsed.content, validate=True)
        data = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise ToggleValidationError(f"content is not base64-encoded JSON: {exc}") from exc
    try:
        return ToggleDocument.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'document'}: {err['msg']}" for err in exc.errors()
        )
        raise ToggleValidationError(problems) from exc
