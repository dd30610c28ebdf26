"""One acceptance rule: every case runs through the client's path and the AppConfig validator's path, and
both must give the same verdict (`failsafe.domain.acceptance.accept_document`)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from failsafe.client.sources import Fetched
from failsafe.client.toggle_client import RefreshOutcome, ToggleClient
from failsafe.controller.validator import ToggleValidationError, validate_event
from failsafe.domain.acceptance import MAX_DOCUMENT_BYTES, DocumentRejected, accept_document
from failsafe.domain.schema import example_document

ENVIRONMENT = "prod"


def _document(**metadata: Any) -> dict[str, Any]:
    data = example_document().model_dump(mode="json")
    data["metadata"] = {**data["metadata"], **metadata}
    return data


def _padded_to(size: int) -> bytes:
    """A valid document whose JSON is `size` bytes (padded with whitespace, which JSON ignores)."""
    raw = json.dumps(_document()).encode()
    return raw + b" " * (size - len(raw))


CASES: dict[str, tuple[bytes, str | None]] = {
    # name: (body, None when accepted, else a fragment of the reason)
    "valid": (json.dumps(_document()).encode(), None),
    "exactly 1 MiB": (_padded_to(MAX_DOCUMENT_BYTES), None),
    "another environment": (json.dumps(_document(environment="staging")).encode(), "metadata.environment"),
    "1.6 MB, otherwise valid": (_padded_to(1_600_000), "too large"),
    "1 MiB + 1 byte": (_padded_to(MAX_DOCUMENT_BYTES + 1), "too large"),
    "exposure as a string": (
        json.dumps({**_document(), "toggles": {"exposure_percent": "50"}}).encode(),
        "exposure_percent",
    ),
    "kill switch as a number": (
        json.dumps({**_document(), "toggles": {"kill_switch": 1, "candidate_fallback_level": "D"}}).encode(),
        "kill_switch",
    ),
    "invalid combination": (
        json.dumps({**_document(), "toggles": {"policy_mode": "collab_only", "disable_cf": True}}).encode(),
        "disable_cf",
    ),
    "not JSON": (b"{nope", "not valid JSON"),
    "not an object": (b"[1, 2]", "expected a JSON object"),
}


class _OneDocument:
    name = "one-document"

    def __init__(self, body: bytes) -> None:
        self.body = body

    def fetch(self) -> Fetched:
        return Fetched(body=self.body, content_type="application/json", version_label="v")


def _client_verdict(body: bytes) -> str | None:
    client = ToggleClient(_OneDocument(body), environment=ENVIRONMENT)
    outcome = client.refresh()
    if outcome is RefreshOutcome.APPLIED:
        return None
    assert outcome is RefreshOutcome.REJECTED
    return client.last_error


def _validator_verdict(body: bytes) -> str | None:
    event = {"configurationVersion": "2", "content": base64.b64encode(body).decode()}
    try:
        validate_event(event, environment=ENVIRONMENT)
    except ToggleValidationError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("name", list(CASES))
def test_the_client_and_the_validator_give_the_same_verdict(name: str) -> None:
    # Given a served document
    body, rejected_for = CASES[name]
    # When the client polls it and AppConfig's LAMBDA validator checks it
    client, validator = _client_verdict(body), _validator_verdict(body)
    # Then both accept it, or both reject it with the same reason naming the field or the limit
    assert client == validator
    if rejected_for is None:
        assert client is None
    else:
        assert client is not None
        assert rejected_for in client


def test_the_rule_names_the_size_limit_and_the_environment_to_set() -> None:
    # Given a 1.6 MB document and one for staging
    # When a prod reader checks them
    # Then the reasons say the limit and what to set
    with pytest.raises(DocumentRejected, match=f"more than the {MAX_DOCUMENT_BYTES} bytes"):
        accept_document(_padded_to(1_600_000), environment=ENVIRONMENT)
    with pytest.raises(DocumentRejected, match=r"set metadata\.environment to 'prod'"):
        accept_document(json.dumps(_document(environment="staging")).encode(), environment=ENVIRONMENT)
