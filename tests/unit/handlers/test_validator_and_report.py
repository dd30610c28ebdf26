"""ToggleValidator (AppConfig LAMBDA validator) and IncidentReport."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from tests.unit.handlers.conftest import FakeContext, World, load_event
from tests.unit.handlers.helpers import deploy_until_complete, execution_input, ingest, plan, signed, task

from failsafe.controller.validator import ToggleValidationError
from failsafe.domain.metrics import COVERAGE, FILL_RATE, LATENCY_MS, NAMESPACE
from failsafe.domain.schema import example_document
from failsafe.handlers import incident_report, manual_rollback, toggle_validator


def _validator_event(document: Any) -> dict[str, Any]:
    return {
        "applicationId": "app",
        "configurationProfileId": "profile",
        "configurationVersion": "2",
        "content": base64.b64encode(json.dumps(document).encode()).decode(),
    }


def test_validator_accepts_a_valid_document() -> None:
    # Given the checked-in example document
    document = example_document().model_dump(mode="json")
    # When AppConfig invokes the validator
    # Then it returns without error
    assert toggle_validator.handler(_validator_event(document), FakeContext()) is None


def test_validator_rejects_an_invalid_combination_naming_the_fields() -> None:
    # Given a document with CF disabled in collab_only mode
    document = example_document().model_dump(mode="json")
    document["toggles"] = {**document["toggles"], "policy_mode": "collab_only", "disable_cf": True}
    # When AppConfig invokes the validator
    with pytest.raises(ToggleValidationError) as error:
        toggle_validator.handler(_validator_event(document), FakeContext())
    # Then the message names both fields
    assert "disable_cf + policy_mode" in str(error.value)


@pytest.mark.parametrize(
    "event", [{}, {"content": "%%%not-base64"}, {"content": base64.b64encode(b"[1]").decode()}]
)
def test_validator_rejects_garbage(event: dict[str, Any]) -> None:
    # Given an event without content, with content that is not base64, or not a toggle document
    # When AppConfig invokes the validator
    # Then the version is rejected
    with pytest.raises(ToggleValidationError):
        toggle_validator.handler(event, FakeContext())


def test_incident_report_merges_the_timeline_and_efficacy_into_s3(world: World) -> None:
    # Given an incident with stage 1 deployed and metrics before and after the rollback
    started = ingest(load_event("alarm-latency-p2.json"))
    state = execution_input(world, started["incident_id"])
    cw = world.client("cloudwatch")
    dims = [{"Name": "Service", "Value": "recommender"}, {"Name": "Environment", "Value": "prod"}]

    def emit(coverage: float, latency: float, fill: float) -> None:
        cw.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": COVERAGE,
                    "Dimensions": dims,
                    "Value": coverage,
                    "Timestamp": world.clock.now(),
                },
                {
                    "MetricName": LATENCY_MS,
                    "Dimensions": dims,
                    "Value": latency,
                    "Timestamp": world.clock.now(),
                },
                {"MetricName": FILL_RATE, "Dimensions": dims, "Value": fill, "Timestamp": world.clock.now()},
            ],
        )

    world.clock.advance(60)
    emit(90.0, 450.0, 80.0)
    world.clock.advance(60)
    plan(state, "begin")
    deploy_until_complete(world, state)
    plan(state, "applied")
    world.clock.advance(60)
    emit(100.0, 120.0, 100.0)
    world.clock.advance(60)
    # When the report task runs
    location = task(incident_report, "report", state)
    # Then S3 holds the JSON and Markdown with the merged timeline and the before/after figures
    s3 = world.client("s3")
    report = json.loads(s3.get_object(Bucket="reports", Key=location["json_key"])["Body"].read())
    markdown = s3.get_object(Bucket="reports", Key=location["markdown_key"])["Body"].read().decode()
    sources = {item["source"] for item in report["timeline"]}
    assert {"audit", "appconfig"} <= sources
    assert next(i["what"] for i in report["timeline"] if i["source"] == "audit") == "transition:P2_FIRED"
    assert report["efficacy"]["pre_rollback"]["coverage"] == pytest.approx(90.0)
    assert report["efficacy"]["post_rollback"]["coverage"] == pytest.approx(100.0)
    assert report["audit_chain_ok"] is True
    assert f"# Incident {state['incident_id']}" in markdown
    assert "| post_rollback | 100.00 |" in markdown


def test_a_late_report_describes_its_own_incident_not_the_scopes_next_one(world: World) -> None:
    # Given an incident with stage 1 deployed, closed by hand, and a new incident already open on the scope
    first = execution_input(world, ingest(load_event("alarm-latency-p2.json"))["incident_id"])
    plan(first, "begin")
    deploy_until_complete(world, first)
    plan(first, "applied")
    [deploy] = [e for e in _audit_entries(world) if e["action"] == "toggles:deploy"]
    recover = {"action": "recover", "scope": "recommender/prod", "reason": "fixed", "requested_by": "alice"}
    manual_rollback.dispatch(signed(recover))
    world.clock.advance(120)
    later = load_event("alarm-coverage-p1.json")
    later["time"] = "2026-01-01T01:00:00Z"
    later["detail"]["state"]["timestamp"] = "2026-01-01T01:00:00.000+0000"
    second = ingest(later)["incident_id"]
    assert second != first["incident_id"]

    # When the first incident's report is built now
    location = task(incident_report, "report", first)

    # Then it tells the first incident's end and pre-incident version, not the open one's
    key = location["json_key"]
    report = json.loads(world.client("s3").get_object(Bucket="reports", Key=key)["Body"].read())
    assert report["incident_id"] == first["incident_id"]
    assert report["final_state"] == "NORMAL"
    assert report["pre_incident_config_version"] == deploy["before"]["config_version"]


def _audit_entries(world: World) -> list[dict[str, Any]]:
    items = world.client("dynamodb").scan(TableName="audit")["Items"]
    return [json.loads(i["entry"]["S"]) for i in sorted(items, key=lambda i: int(i["seq"]["N"]))]
