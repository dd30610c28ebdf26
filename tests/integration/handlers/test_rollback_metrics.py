"""The controller's own metrics, emitted where the facts become known (EMF, namespace Failsafe/Controller)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from tests.integration.handlers.helpers import (
    deploy_until_complete,
    execution_input,
    health,
    ingest,
    plan,
    state_record,
    task,
)
from tests.integration.handlers.world import World, load_event

from failsafe.aws.reports import EfficacyReader
from failsafe.controller import rollback_metrics
from failsafe.domain import metrics as contract
from failsafe.domain.scope import Scope
from failsafe.handlers import apply_toggles
from failsafe_tools.local.emf_logs import parse_emf_document

SCOPE = "recommender/prod"


@pytest.fixture
def emitted() -> Iterator[list[dict[str, Any]]]:
    documents: list[dict[str, Any]] = []
    rollback_metrics.set_sink(documents.append)
    yield documents
    rollback_metrics.set_sink(None)


def values(documents: list[dict[str, Any]], name: str) -> list[tuple[Any, str | None]]:
    """(value, Level) of every document carrying metric `name`."""
    out = []
    for document in documents:
        if name in document:
            value = document[name]
            (value,) = value if isinstance(value, list) else [value]
            out.append((value, document.get("Level")))
    return out


def _open_p2(world: World) -> dict[str, Any]:
    started = ingest(load_event("alarm-latency-p2.json"))
    state = execution_input(world, started["incident_id"])
    world.set_alarm("latency-p2", "ALARM")
    return state


def _stage_1_in_force(world: World) -> dict[str, Any]:
    state = _open_p2(world)
    plan(state, "begin")
    deploy_until_complete(world, state)
    plan(state, "applied")
    return state


def serve_version(world: World, version: int) -> None:
    """The recommender served requests with config `version` a second ago (its ConfigVersion metric)."""
    world.client("cloudwatch").put_metric_data(
        Namespace=contract.NAMESPACE,
        MetricData=[
            {
                "MetricName": contract.CONFIG_VERSION,
                "Dimensions": EfficacyReader.dimensions(Scope.parse(SCOPE)),
                "Timestamp": world.clock.now() - timedelta(seconds=1),
                "Value": float(version),
            }
        ],
    )


def test_stage_in_force_reports_duration_against_target_time_to_mitigate_and_user_impact(
    world: World, emitted: list[dict[str, Any]]
) -> None:
    # Given a P2 incident, When stage 1 (level 1, target 120 s) is deployed and in force
    _stage_1_in_force(world)
    # Then the rollback's duration is reported next to its target, within it, and it succeeded
    [(duration, level)] = values(emitted, contract.ROLLBACK_DURATION)
    assert level == "1"
    assert 0 <= duration <= 120
    assert values(emitted, contract.ROLLBACK_TARGET) == [(120, "1")]
    assert values(emitted, contract.ROLLBACK_TARGET_MISSED) == [(0, "1")]
    assert values(emitted, contract.ROLLBACK_SUCCEEDED) == [(1, "1")]
    # And time to mitigate and user impact (first alarm -> mitigated) are reported once
    [(mitigate, _)] = values(emitted, contract.TIME_TO_MITIGATE)
    [(impact, impact_level)] = values(emitted, contract.USER_IMPACT)
    assert impact_level is None
    assert mitigate >= duration
    assert impact >= 0


def test_a_deployment_appconfig_rolls_back_counts_as_a_failed_rollback(
    world: World, emitted: list[dict[str, Any]]
) -> None:
    # Given a P2 incident whose deployment AppConfig rolls back (a monitor alarm in ALARM)
    from tests.integration.handlers.test_controller_tasks import _monitor_with

    state = _open_p2(world)
    plan(state, "begin")
    _monitor_with(world, "coverage-p1")
    world.set_alarm("coverage-p1", "ALARM")
    # When it is applied and checked
    state["deployment"] = task(apply_toggles, "apply", state)
    world.clock.advance(5)
    assert task(apply_toggles, "check", state)["rolled_back"] is True
    # Then one failed rollback of level 1 is counted, and no success
    assert values(emitted, contract.ROLLBACK_FAILED) == [(1, "1")]
    assert values(emitted, contract.ROLLBACK_SUCCEEDED) == []


def test_a_missed_deadline_is_health_degrading_during_the_rollback(
    world: World, emitted: list[dict[str, Any]]
) -> None:
    # Given stage 1 in force and its alarm still firing
    state = _stage_1_in_force(world)
    assert health(state)["status"] == "FIRING"
    assert values(emitted, contract.HEALTH_DEGRADED) == []
    # When its deadline passes
    world.clock.advance(301)
    assert health(state)["status"] == "ESCALATE"
    # Then health degrading during the rollback is counted, and the open incident's age is reported
    assert values(emitted, contract.HEALTH_DEGRADED) == [(1, None)]
    ages = [value for value, _ in values(emitted, contract.INCIDENT_OPEN)]
    assert len(ages) == 2
    assert ages[1] - ages[0] == pytest.approx(301, abs=1)


def test_recovery_reports_time_in_verify_and_the_whole_recovery(
    world: World, emitted: list[dict[str, Any]]
) -> None:
    # Given stage 1 in force, then everything green with traffic
    state = _stage_1_in_force(world)
    world.set_alarm("latency-p2", "OK")
    world.serve_requests()
    assert health(state)["status"] == "VERIFYING"
    # When the 15-minute window passes and the restore completes
    world.clock.advance(900)
    world.serve_requests()
    assert health(state)["status"] == "RECOVERED"
    deploy_until_complete(world, state, "restore")
    assert plan(state, "normal")["state"] == "NORMAL"
    # Then the time in RECOVERY_VERIFY and the recovery duration (incident -> NORMAL) are reported
    assert values(emitted, contract.RECOVERY_VERIFY_DURATION) == [(900, None)]
    [(recovery, _)] = values(emitted, contract.RECOVERY_DURATION)
    [(mitigate, _)] = values(emitted, contract.TIME_TO_MITIGATE)
    assert recovery >= 900 + 15 * 60 + mitigate - 1  # verify window + gradual restore


def test_clients_not_converged_until_every_request_serves_the_deployed_version(
    world: World, emitted: list[dict[str, Any]]
) -> None:
    # Given stage 1 in force as config version N
    state = _stage_1_in_force(world)
    record = state_record(world, SCOPE)
    assert record is not None
    deployed = record["deployed_config_version"]
    # When some requests are still served with the previous version
    serve_version(world, deployed - 1)
    serve_version(world, deployed)
    health(state)
    # Then clients are not converged and no convergence time is reported yet
    assert values(emitted, contract.CLIENTS_NOT_CONVERGED) == [(1, None)]
    assert values(emitted, contract.TIME_TO_CONVERGE) == []
    # When a minute later every request serves version N, twice
    for _ in range(2):
        world.clock.advance(61)
        serve_version(world, deployed)
        health(state)
    # Then they are converged, and the time to converge is reported once, for level 1
    assert [v for v, _ in values(emitted, contract.CLIENTS_NOT_CONVERGED)] == [1, 0, 0]
    [(converge, level)] = values(emitted, contract.TIME_TO_CONVERGE)
    assert level == "1"
    [(mitigate, _)] = values(emitted, contract.TIME_TO_MITIGATE)
    assert converge > mitigate


def test_every_document_has_the_contracts_namespace_and_dimension_sets(
    world: World, emitted: list[dict[str, Any]]
) -> None:
    # Given a whole incident's worth of controller metrics
    state = _stage_1_in_force(world)
    world.clock.advance(301)
    health(state)
    assert emitted
    # Then each document is valid EMF in Failsafe/Controller with exactly the contract's dimension sets
    for document in emitted:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        (metric,) = directive["Metrics"]
        assert directive["Namespace"] == contract.CONTROLLER_NAMESPACE
        dimension_sets = [tuple(d) for d in directive["Dimensions"]]
        assert dimension_sets == list(contract.CONTROLLER_METRICS[metric["Name"]])
        assert parse_emf_document(document)
        # And it is stamped with the controller's clock (a drill's simulated time)
        assert abs(document["_aws"]["Timestamp"] / 1000 - world.clock.time()) < 400
