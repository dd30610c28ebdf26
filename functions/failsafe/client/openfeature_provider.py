"""An OpenFeature provider over `ToggleClient`, for services that already evaluate flags through OpenFeature.

Flag keys
---------
- Each of the 12 toggle names (``kill_switch``, ``policy_mode``, ``exposure_percent``, ...): the value of
  that toggle in the set that governs the request (its most specific matching scoped override, else the
  document's defaults). Booleans, strings (enum values), an integer, a float (``alpha_override``; unset
  resolves to the caller's default with reason DEFAULT) and string lists (the scopes).
- ``decision``: the full per-request `Decision` as an object (``Decision.as_dict()``).

Evaluation context: ``targeting_key`` is the user id (or attribute ``user_id``); attributes ``region``,
``cohort`` and ``client`` scope the request. Odd values are treated as missing, never raised on.

Every result carries ``flag_metadata`` with ``config_version``, ``ready``, ``stale`` and ``toggle_scope``
(the override's scope key or ``default``); ``decision`` also carries ``decision_reason`` and ``bucket``,
and its ``variant`` is the decision reason. The OpenFeature ``reason`` is DEFAULT while the client serves
its cold-start baseline, STALE when the configuration is stale, SPLIT when the sticky bucket decided
(``primary`` / ``out_of_exposure``), TARGETING_MATCH when a scoped override or a scope/kill rule did,
and STATIC for a toggle read from the document's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeVar, cast

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from failsafe.client.toggle_client import ToggleClient
from failsafe.domain.decision import (
    CompiledSet,
    DecisionReason,
    RequestContext,
    RequestContextModel,
    decide,
)
from failsafe.domain.toggles import ToggleSet

DECISION_FLAG: Final = "decision"
PROVIDER_NAME: Final = "failsafe"

_SPLIT_REASONS: Final = frozenset({DecisionReason.PRIMARY, DecisionReason.OUT_OF_EXPOSURE})

T = TypeVar("T")


def request_context(evaluation_context: EvaluationContext | None) -> RequestContext:
    """Map an OpenFeature evaluation context onto a `RequestContext`; never raises."""
    if evaluation_context is None:
        return RequestContext()
    attributes = dict(evaluation_context.attributes or {})
    if evaluation_context.targeting_key is not None:
        attributes["user_id"] = evaluation_context.targeting_key
    return RequestContextModel.context_from(attributes)


class FailsafeProvider(AbstractProvider):
    """Resolves toggle flags and the ``decision`` flag from a `ToggleClient`'s current snapshot."""

    def __init__(self, client: ToggleClient, *, manage_client: bool = False) -> None:
        super().__init__()
        self.client = client
        self.manage_client = manage_client

    def get_metadata(self) -> Metadata:
        return Metadata(name=PROVIDER_NAME)

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        if self.manage_client:
            self.client.start()

    def shutdown(self) -> None:
        if self.manage_client:
            self.client.stop()

    # -- helpers ----------------------------------------------------------------------------------

    def _metadata(self, compiled: CompiledSet) -> dict[str, bool | int | float | str]:
        client = self.client
        return {
            "config_version": compiled.version,
            "ready": client.ready,
            "stale": client.stale,
            "toggle_scope": compiled.scope.key if compiled.scope is not None else "default",
        }

    def _base_reason(self) -> Reason | None:
        if not self.client.ready:
            return Reason.DEFAULT
        if self.client.stale:
            return Reason.STALE
        return None

    def _toggle(
        self,
        flag_key: str,
        default_value: T,
        evaluation_context: EvaluationContext | None,
        expected: tuple[type, ...],
    ) -> FlagResolutionDetails[T]:
        snapshot = self.client.snapshot
        compiled = snapshot.governing_set(request_context(evaluation_context))
        metadata = self._metadata(compiled)
        if flag_key not in ToggleSet.model_fields:
            return FlagResolutionDetails(
                value=default_value,
                error_code=ErrorCode.FLAG_NOT_FOUND,
                error_message=f"unknown flag {flag_key!r}: use a toggle name or {DECISION_FLAG!r}",
                reason=Reason.ERROR,
                flag_metadata=metadata,
            )
        raw: Any = getattr(compiled.toggles, flag_key)
        if raw is None:
            return FlagResolutionDetails(
                value=default_value, reason=Reason.DEFAULT, variant="unset", flag_metadata=metadata
            )
        value: Any = raw.value if hasattr(raw, "value") else raw
        if isinstance(value, list):
            value = list(value)
        if not isinstance(value, expected) or (bool not in expected and isinstance(value, bool)):
            return FlagResolutionDetails(
                value=default_value,
                error_code=ErrorCode.TYPE_MISMATCH,
                error_message=f"flag {flag_key!r} is a {type(value).__name__}",
                reason=Reason.ERROR,
                flag_metadata=metadata,
            )
        reason = self._base_reason() or (
            Reason.TARGETING_MATCH if compiled.scope is not None else Reason.STATIC
        )
        if float in expected and isinstance(value, int):
            value = float(value)  # an integer toggle read as a float: the SDK checks the exact type
        typed = cast("T", value)  # checked against `expected` above
        return FlagResolutionDetails(value=typed, reason=reason, variant=str(value), flag_metadata=metadata)

    # -- the provider interface -------------------------------------------------------------------

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        return self._toggle(flag_key, default_value, evaluation_context, (bool,))

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._toggle(flag_key, default_value, evaluation_context, (str,))

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._toggle(flag_key, default_value, evaluation_context, (int,))

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return self._toggle(flag_key, default_value, evaluation_context, (float, int))

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        if flag_key != DECISION_FLAG:
            return self._toggle(flag_key, default_value, evaluation_context, (list,))
        ctx = request_context(evaluation_context)
        snapshot = self.client.snapshot  # one read: decision and metadata come from the same snapshot
        decision = decide(snapshot, ctx)
        compiled = snapshot.governing_set(ctx)
        metadata = self._metadata(compiled)
        metadata["config_version"] = decision.config_version
        metadata["decision_reason"] = decision.reason.value
        metadata["bucket"] = decision.bucket
        reason = self._base_reason() or (
            Reason.SPLIT if decision.reason in _SPLIT_REASONS else Reason.TARGETING_MATCH
        )
        return FlagResolutionDetails(
            value=decision.as_dict(), reason=reason, variant=decision.reason.value, flag_metadata=metadata
        )
