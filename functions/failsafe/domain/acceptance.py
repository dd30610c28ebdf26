"""The one acceptance rule for a toggles document: what every client applies is what the validator admits.

`failsafe.client.ToggleClient` applies a served document only if `accept_document` accepts it, and the
AppConfig LAMBDA validator (`failsafe.controller.validator`) rejects a version unless `accept_document`
accepts it. So AppConfig can never deploy a version that every client refuses (which would leave the
fleet on its last known good while the controller believes the new toggles are in force).

The rule, in order: at most `MAX_DOCUMENT_BYTES` bytes; a JSON media type when the source says one; JSON;
an object; a valid `ToggleDocument` with the JSON Schema's strict types (`document_from_json_data`); and
`metadata.environment` equal to the environment of the reader, when it knows one.
"""

from __future__ import annotations

import json
from typing import Final

from pydantic import ValidationError

from failsafe.domain.toggles import MAX_JSON_DEPTH, ToggleDocument, document_from_json_data

MAX_DOCUMENT_BYTES: Final = 1024 * 1024
"""1 MiB: a full document with 256 scoped overrides is well under this; AppConfig's own cap is 2 MB."""

JSON_MEDIA_TYPES: Final = frozenset({"application/json", "text/json"})
MAX_PROBLEMS_SHOWN: Final = 5


class DocumentRejected(ValueError):
    """A toggles document that must not be applied (or deployed); the message says why in one line."""


def accept_document(
    body: bytes,
    *,
    environment: str | None,
    content_type: str | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> ToggleDocument:
    """The `ToggleDocument` in `body`, or `DocumentRejected` with a one-line reason naming the field.

    `environment` is the environment the reader serves (None: a reader that serves any, e.g. a tool).
    """
    if len(body) > max_bytes:
        raise DocumentRejected(
            f"document too large: {len(body)} bytes, more than the {max_bytes} bytes clients accept"
        )
    if content_type is not None:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in JSON_MEDIA_TYPES and not media_type.endswith("+json"):
            raise DocumentRejected(f"wrong content type {media_type!r}: expected application/json")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DocumentRejected(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise DocumentRejected(f"not valid JSON: nested more than {MAX_JSON_DEPTH} levels deep") from None
    if not isinstance(data, dict):
        raise DocumentRejected(f"wrong type: expected a JSON object, got {type(data).__name__}")
    try:
        # Strict JSON types, as the AppConfig JSON Schema validator has them: "50" or true is no exposure.
        document = document_from_json_data(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '<document>'}: {error['msg']}"
            for error in exc.errors()[:MAX_PROBLEMS_SHOWN]
        )
        extra = exc.error_count() - MAX_PROBLEMS_SHOWN
        more = f" (+{extra} more)" if extra > 0 else ""
        raise DocumentRejected(f"invalid toggles: {problems}{more}") from None
    if environment is not None and document.metadata.environment != environment:
        raise DocumentRejected(
            f"metadata.environment is {document.metadata.environment!r}, but it is served to "
            f"environment {environment!r}: set metadata.environment to {environment!r}"
        )
    return document
