"""The request and response models of the reference recommender (Lambda event and UI payload).

Request: lenient by design, a request is never refused
------------------------------------------------------
``{"user_id", "region", "cohort", "client", "k", "shadow"}``; unknown keys are ignored and nothing raises:

- ``user_id``, ``region``, ``cohort``, ``client``: strings are kept, integers become strings, anything
  else (missing, null, lists, objects, floats, booleans) becomes ``None``. `failsafe.domain.decision.decide`
  then gives the documented treatment: no usable user id (missing, empty, over 256 characters) gets the
  popularity fallback with reason ``missing_user``; a request without a region/cohort/client that a toggle
  set is scoped to is ``out_of_scope`` (we never guess a region). A user id the interaction log has never
  seen is a cold-start user: personalised from a stable segment profile, no history.
- ``k``: the number of items wanted; missing or not an integer gives `DEFAULT_K` (10); out of range is
  clamped to ``1..MAX_K`` (100).

Response: strict, so that tests can hold every answer to it
-----------------------------------------------------------
``{"items": [{"item_id", "score", "title", "genre"}...], "k", "k_returned", "policy", "fallback_level",
"reason", "config_version"}``. ``policy`` and ``fallback_level`` are what was actually served (a request
that failed and was answered from the last-resort list says ``popularity`` / ``D`` and reason ``error``);
``reason`` is otherwise the decision's reason (``primary``, ``kill_switch``, ``out_of_exposure``...).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import pairwise
from typing import Annotated, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from failsafe.domain.decision import RequestContext, lenient_text
from failsafe.recommender.dataset import MAX_K

DEFAULT_K: Final = 10
REASON_ERROR: Final = "error"
"""Response reason of a request whose model path failed and was answered from the last-resort list."""

ResponseReason = Literal[
    "primary",
    "kill_switch",
    "out_of_scope",
    "out_of_exposure",
    "missing_user",
    "no_config",
    "invalid_context",
    "error",
]
PolicyName = Literal["hybrid", "content_only", "collab_only", "popularity"]


def _lenient_k(value: object) -> int:
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value) <= 12:
        number = int(value.strip())
    if number is None:
        return DEFAULT_K
    return max(1, min(MAX_K, number))


class RecommendationRequest(BaseModel):
    """One request. Parse with `RecommendationRequest.parse`, which accepts anything and never raises."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: str | None = None
    region: str | None = None
    cohort: str | None = None
    client: str | None = None
    k: int = DEFAULT_K
    shadow: bool = False
    """Shadow traffic (a shadow test's mirrored request): answered, but excluded from the evidence queries."""

    @field_validator("shadow", mode="before")
    @classmethod
    def _shadow(cls, value: object) -> bool:
        return value is True

    @field_validator("user_id", "region", "cohort", "client", mode="before")
    @classmethod
    def _text(cls, value: object) -> str | None:
        return lenient_text(value)

    @field_validator("k", mode="before")
    @classmethod
    def _k(cls, value: object) -> int:
        return _lenient_k(value)

    @classmethod
    def parse(cls, event: object) -> RecommendationRequest:
        """Any event (a mapping, None, a list, garbage) becomes a request with the default treatment."""
        if isinstance(event, RecommendationRequest):
            return event
        if not isinstance(event, Mapping):
            return cls()
        return cls.model_validate({key: event.get(key) for key in cls.model_fields if key in event})

    def context(self) -> RequestContext:
        return RequestContext(self.user_id, self.region, self.cohort, self.client)


class ResponseItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    item_id: Annotated[str, Field(min_length=1, max_length=64)]
    score: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
    title: Annotated[str, Field(min_length=1, max_length=256)]
    genre: Annotated[str, Field(min_length=1, max_length=64)]


class RecommendationResponse(BaseModel):
    """What the UI receives. Strict: the types are exactly these, and the counts must agree."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    items: list[ResponseItem]
    k: Annotated[int, Field(ge=1, le=MAX_K)]
    k_returned: Annotated[int, Field(ge=0, le=MAX_K)]
    policy: PolicyName
    fallback_level: Literal["A", "B", "C", "D"]
    reason: ResponseReason
    config_version: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.k_returned != len(self.items):
            raise ValueError(f"k_returned={self.k_returned} but {len(self.items)} items")
        if self.k_returned > self.k:
            raise ValueError(f"k_returned={self.k_returned} exceeds k={self.k}")
        ids = [item.item_id for item in self.items]
        if len(set(ids)) != len(ids):
            raise ValueError("items: duplicate item_id")
        scores = [item.score for item in self.items]
        if any(a < b for a, b in pairwise(scores)):
            raise ValueError("items: not sorted by score (descending)")
        return self
