"""The OpenFeature provider: toggle flags and the decision flag, with reason and config version."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from failsafe.client import Fetched, ToggleClient
from failsafe.client.openfeature_provider import FailsafeProvider, request_context
from failsafe.domain.decision import RequestContext

DOCUMENT = {
    "metadata": {"version": 12, "environment": "prod", "author": "t", "reason": "r"},
    "toggles": {
        "alpha_override": 0.4,
        "exposure_percent": 100,
        "region_scope": ["eu-west-1", "ap-southeast-2"],
    },
    "overrides": [
        {
            "scope": {"service": "recommender", "environment": "prod", "regions": ["ap-southeast-2"]},
            "toggles": {"kill_switch": True, "candidate_fallback_level": "D"},
        }
    ],
}


class StaticSource:
    name = "static"

    def __init__(self, payload: dict[str, Any] | None) -> None:
        self.payload = payload

    def fetch(self) -> Fetched:
        return Fetched(body=json.dumps(self.payload).encode() if self.payload else None)


@pytest.fixture
def toggle_client() -> ToggleClient:
    client = ToggleClient(StaticSource(DOCUMENT), environment="prod")
    client.refresh()
    return client


@pytest.fixture
def of_client(toggle_client: ToggleClient) -> Iterator[OpenFeatureClient]:
    api.set_provider(FailsafeProvider(toggle_client), domain="failsafe-tests")
    yield api.get_client(domain="failsafe-tests")
    api.clear_providers()


def eu(user: str = "user-1") -> EvaluationContext:
    return EvaluationContext(targeting_key=user, attributes={"region": "eu-west-1"})


def ap(user: str = "user-1") -> EvaluationContext:
    return EvaluationContext(targeting_key=user, attributes={"region": "ap-southeast-2"})


def test_a_toggle_flag_resolves_from_the_governing_set_with_version_metadata(
    of_client: OpenFeatureClient,
) -> None:
    # Given a document whose ap-southeast-2 override has the kill switch on
    # When kill_switch is evaluated for an eu and an ap request
    eu_details = of_client.get_boolean_details("kill_switch", True, eu())
    ap_details = of_client.get_boolean_details("kill_switch", False, ap())
    # Then each gets its governing set's value, reason and the config version
    assert (eu_details.value, eu_details.reason) == (False, Reason.STATIC)
    assert (ap_details.value, ap_details.reason) == (True, Reason.TARGETING_MATCH)
    assert eu_details.flag_metadata["config_version"] == 12
    assert ap_details.flag_metadata["toggle_scope"] == "recommender/prod/region=ap-southeast-2"


def test_toggle_flags_of_every_type_resolve(of_client: OpenFeatureClient) -> None:
    # Given the document above
    # When string, integer, float and list toggles are evaluated
    # Then each returns its value
    assert of_client.get_string_value("policy_mode", "x", eu()) == "hybrid_default"
    assert of_client.get_integer_value("exposure_percent", -1, eu()) == 100
    assert of_client.get_float_value("alpha_override", -1.0, eu()) == 0.4
    assert of_client.get_object_value("region_scope", [], eu()) == ["eu-west-1", "ap-southeast-2"]


def test_an_integer_toggle_read_as_a_float_resolves_to_a_float(of_client: OpenFeatureClient) -> None:
    # Given exposure_percent, an integer toggle (100 in the document above)
    # When a caller asks for it as a float
    details = of_client.get_float_details("exposure_percent", -1.0, eu())
    # Then the SDK gets a float, not a TYPE_MISMATCH and the caller's default
    assert details.error_code is None
    assert details.value == 100.0
    assert type(details.value) is float


def test_an_unset_alpha_override_resolves_to_the_callers_default(of_client: OpenFeatureClient) -> None:
    # Given the ap override, which leaves alpha_override unset
    # When it is evaluated there
    details = of_client.get_float_details("alpha_override", 0.5, ap())
    # Then the caller's default comes back with reason DEFAULT
    assert (details.value, details.reason, details.variant) == (0.5, Reason.DEFAULT, "unset")


def test_the_decision_flag_carries_the_full_decision_reason_and_version(of_client: OpenFeatureClient) -> None:
    # Given the document above
    # When the decision flag is evaluated for an eu request, an ap request and an out-of-scope request
    served = of_client.get_object_details("decision", {}, eu())
    killed = of_client.get_object_details("decision", {}, ap())
    outside = of_client.get_object_details(
        "decision", {}, EvaluationContext(targeting_key="u", attributes={"region": "sa-east-1"})
    )
    # Then the value is the decision, the variant its reason, and metadata the version and bucket
    assert isinstance(served.value, dict)
    assert served.value["policy"] == "hybrid"
    assert served.value["alpha"] == 0.4
    assert (served.variant, served.reason) == ("primary", Reason.SPLIT)
    assert served.flag_metadata["config_version"] == 12
    assert served.flag_metadata["decision_reason"] == "primary"
    assert 0 <= int(served.flag_metadata["bucket"]) < 10_000
    assert (killed.variant, killed.reason) == ("kill_switch", Reason.TARGETING_MATCH)
    assert outside.variant == "out_of_scope"


def test_an_unknown_flag_returns_the_default_with_flag_not_found(of_client: OpenFeatureClient) -> None:
    # Given / When a flag that is not a toggle is evaluated
    details = of_client.get_boolean_details("turbo_mode", True, eu())
    # Then the caller's default comes back with an error code
    assert details.value is True
    assert details.error_code == ErrorCode.FLAG_NOT_FOUND


def test_asking_for_the_wrong_type_returns_the_default_with_type_mismatch(
    of_client: OpenFeatureClient,
) -> None:
    # Given / When a boolean toggle is read as an integer
    details = of_client.get_integer_details("kill_switch", 7, eu())
    # Then the default comes back flagged as a type mismatch
    assert details.value == 7
    assert details.error_code == ErrorCode.TYPE_MISMATCH


def test_before_any_config_is_loaded_results_say_default_and_not_ready() -> None:
    # Given a provider over a client that has loaded nothing
    provider = FailsafeProvider(ToggleClient(StaticSource(None)))
    # When the decision and a toggle are resolved
    decision = provider.resolve_object_details("decision", {}, eu())
    toggle = provider.resolve_boolean_details("kill_switch", False, eu())
    # Then both say DEFAULT, version 0, not ready, and the decision is the no-config fallback
    assert decision.reason == Reason.DEFAULT
    assert decision.variant == "no_config"
    assert decision.flag_metadata["ready"] is False
    assert toggle.reason == Reason.DEFAULT
    assert toggle.flag_metadata["config_version"] == 0


def test_a_stale_configuration_is_reported_as_stale(toggle_client: ToggleClient) -> None:
    # Given a client whose last successful poll is older than stale_after
    toggle_client.stale_after = -1.0
    provider = FailsafeProvider(toggle_client)
    # When a flag is resolved
    details = provider.resolve_boolean_details("kill_switch", False, eu())
    # Then the reason is STALE and the value is still the last known good
    assert (details.value, details.reason) == (False, Reason.STALE)


def test_evaluation_contexts_map_leniently_onto_request_contexts() -> None:
    # Given contexts with odd attribute types, a user_id attribute, and none at all
    odd = EvaluationContext(targeting_key=None, attributes={"user_id": 42, "region": ["eu"], "client": "ios"})
    # When they are mapped
    # Then junk becomes None and nothing raises
    assert request_context(odd) == RequestContext("42", None, None, "ios")
    assert request_context(None) == RequestContext()


def test_a_managed_client_is_started_and_stopped_with_the_provider() -> None:
    # Given a provider that manages its client's lifecycle
    client = ToggleClient(StaticSource(DOCUMENT), environment="prod", refresh_interval=0.01)
    provider = FailsafeProvider(client, manage_client=True)
    # When OpenFeature initialises and shuts it down
    provider.initialize(EvaluationContext())
    ready = client.wait_until_ready(2)
    provider.shutdown()
    # Then the client loaded the document in the background and stopped
    assert ready
    assert client.config_version == 12
    assert provider.get_metadata().name == "failsafe"
