"""The Lambda handler: typed settings from the environment, and it never raises."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from failsafe.recommender import handler as handler_module
from failsafe.recommender.handler import configure_runtime, handler, reset
from failsafe.recommender.models import RecommendationResponse
from failsafe.recommender.settings import RecommenderSettings, SourceKind


class Context:
    function_name = "recommender"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:recommender"
    aws_request_id = "req-1"


@pytest.fixture
def lambda_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_document: Callable[..., bytes]
) -> Iterator[Path]:
    toggles = tmp_path / "toggles.json"
    toggles.write_bytes(make_document("normal", version=5))
    for name, value in {
        "FAILSAFE_SERVICE": "recommender",
        "FAILSAFE_ENVIRONMENT": "dev",
        "FAILSAFE_TOGGLES_FILE": str(toggles),
        "FAILSAFE_PREWARM_USERS": "5",
        "FAILSAFE_REFRESH_SECONDS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FAILSAFE_CHAOS", raising=False)
    reset()
    yield toggles
    reset()
    configure_runtime()


def test_settings_from_the_template_variables() -> None:
    # Given the variables template.yaml sets
    env = {
        "POWERTOOLS_SERVICE_NAME": "recs",
        "FAILSAFE_ENVIRONMENT": "prod",
        "APPCONFIG_APPLICATION_ID": "app123",
        "APPCONFIG_ENVIRONMENT_ID": "env456",
        "APPCONFIG_PROFILE_ID": "prof789",
    }
    # When parsed
    settings = RecommenderSettings.from_env(env)
    # Then they land in the typed model, and appconfigdata is the source on a plain Lambda
    assert (settings.service, settings.environment) == ("recs", "prod")
    assert (
        settings.appconfig_application,
        settings.appconfig_environment_name,
        settings.appconfig_profile,
    ) == (
        "app123",
        "env456",
        "prof789",
    )
    assert settings.resolved_source is SourceKind.APPCONFIGDATA
    assert settings.problems == ()


def test_bad_settings_fall_back_to_defaults_and_are_named() -> None:
    # Given malformed values
    settings = RecommenderSettings.from_env(
        {
            "FAILSAFE_REFRESH_SECONDS": "-3",
            "FAILSAFE_PREWARM_USERS": "lots",
            "FAILSAFE_SERVICE": "bad service!",
        }
    )
    # Then the defaults apply and each problem is listed once
    assert (settings.refresh_seconds, settings.prewarm_users, settings.service) == (15.0, 200, "recommender")
    assert len(settings.problems) == 3
    assert any("FAILSAFE_REFRESH_SECONDS" in p for p in settings.problems)


def test_source_selection() -> None:
    assert RecommenderSettings.from_env({"FAILSAFE_TOGGLES_FILE": "/x"}).resolved_source is SourceKind.FILE
    assert (
        RecommenderSettings.from_env({"FAILSAFE_AGENT_URL": "http://localhost:2772"}).resolved_source
        is SourceKind.AGENT
    )


def test_handler_serves_valid_responses_for_odd_events(
    lambda_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the handler on a file source
    events: list[Any] = [
        {"user_id": "u00001", "region": "eu-west-1", "cohort": "power", "client": "ios", "k": 5},
        None,
        [],
        "garbage",
        {"user_id": None, "region": 7},
        {"user_id": "x" * 10_000, "k": "3"},
        {"user_id": {"nested": True}, "k": -4},
    ]
    # When each event is handled
    responses = [handler(event, Context()) for event in events]
    # Then every response is valid and full, and the first is personalised on version 5
    for response in responses:
        validated = RecommendationResponse.model_validate(json.loads(json.dumps(response)))
        assert validated.k_returned == validated.k
    assert (responses[0]["policy"], responses[0]["config_version"], responses[0]["k"]) == ("hybrid", 5, 5)
    assert responses[4]["reason"] == "missing_user"
    assert responses[5]["reason"] == "missing_user"
    # And one EMF line per request went to stdout
    emf = [line for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert len(emf) == len(events)


def test_handler_picks_up_a_new_document_after_the_refresh_interval(
    lambda_env: Path, make_document: Callable[..., bytes]
) -> None:
    # Given a controllable monotonic clock
    now = [1000.0]
    configure_runtime(monotonic=lambda: now[0])
    assert handler({"user_id": "u1"}, Context())["config_version"] == 5
    # When the kill switch is deployed, first before and then after the refresh interval
    lambda_env.write_bytes(make_document("emergency", version=6))
    before = handler({"user_id": "u1"}, Context())
    now[0] += 1.5
    after = handler({"user_id": "u1"}, Context())
    # Then the next invocation after the interval serves the emergency baseline
    assert before["config_version"] == 5
    assert (after["config_version"], after["reason"], after["policy"]) == (6, "kill_switch", "popularity")


def test_handler_survives_an_internal_failure(lambda_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a recommender that cannot even be built
    def broken(settings: object = None) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(handler_module, "get_service", broken)
    # When invoked / Then global popular answers in full with reason "error"
    response = RecommendationResponse.model_validate(handler({"user_id": "u1", "k": 4}, Context()))
    assert (response.reason, response.policy, response.k_returned) == ("error", "popularity", 4)


def test_unreachable_toggles_serve_the_cold_start_baseline(
    lambda_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a toggles file that does not exist
    monkeypatch.setenv("FAILSAFE_TOGGLES_FILE", str(lambda_env.parent / "missing.json"))
    reset()
    # When invoked / Then the client's cold-start baseline (no_config, version 0) answers, in full
    response = RecommendationResponse.model_validate(handler({"user_id": "u1"}, Context()))
    assert (response.reason, response.config_version, response.k_returned) == ("no_config", 0, 10)


def test_chaos_from_the_environment_is_refused_in_prod(
    lambda_env: Path, monkeypatch: pytest.MonkeyPatch, make_document: Callable[..., bytes]
) -> None:
    # Given prod and a chaos document without the prod guards
    lambda_env.write_bytes(make_document("normal", version=5, environment="prod"))
    monkeypatch.setenv("FAILSAFE_ENVIRONMENT", "prod")
    monkeypatch.setenv("FAILSAFE_CHAOS", json.dumps({"enabled": True, "error_percent": 100}))
    reset()
    # When invoked / Then no error is injected
    assert handler({"user_id": "u1"}, Context())["reason"] == "primary"
    # And in dev the same document is in force
    lambda_env.write_bytes(make_document("normal", version=5))
    monkeypatch.setenv("FAILSAFE_ENVIRONMENT", "dev")
    reset()
    assert handler({"user_id": "u1"}, Context())["reason"] == "error"


def test_the_template_streams_make_the_lambda_deliver_events_through_firehose() -> None:
    # Given the stream variables template.yaml sets
    from failsafe.aws.event_stream import FirehoseEventSink
    from failsafe.recommender.handler import _event_sink

    env = {"RANKING_EVENTS_STREAM": "ranking-s", "ERROR_EVENTS_STREAM": "error-s", "AWS_REGION": "eu-west-1"}
    # When the recommender's sink is built from them
    sink = _event_sink(RecommenderSettings.from_env(env))
    # Then it is a Firehose sink over both streams; without them no events are recorded
    assert isinstance(sink, FirehoseEventSink)
    assert sink._streams == {"ranking_events": "ranking-s", "error_events": "error-s"}
    assert _event_sink(RecommenderSettings.from_env({})) is None
