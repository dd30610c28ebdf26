"""A controller step that fails for good pages on-call and leaves the scope as it was: real ASL, real
handlers, on the local stack."""

from __future__ import annotations

from tests.integration.controller.controller_stack import Controller, sample_event

from failsafe.controller.runtime import cold_start
from failsafe_tools.local.stepfunctions import wait_for_execution

SCOPE = "recommender/prod"


def _break_health_checks(controller: Controller) -> dict[str, str]:
    """Point HealthCheck at a table that does not exist (as a bad deploy would); returns its variables."""
    lam = controller.client("lambda")
    name = controller.outputs["HealthCheckFunctionName"]
    variables: dict[str, str] = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**variables, "STATE_TABLE_NAME": "no-such-table"}}
    )
    cold_start()
    return variables


def _restore_health_checks(controller: Controller, variables: dict[str, str]) -> None:
    controller.client("lambda").update_function_configuration(
        FunctionName=controller.outputs["HealthCheckFunctionName"], Environment={"Variables": variables}
    )
    cold_start()


def test_a_step_failing_for_good_pages_with_the_error_and_leaves_the_rollback_in_force(
    controller: Controller,
) -> None:
    # Given health checks that cannot read the state table
    variables = _break_health_checks(controller)
    try:
        # When the kill switch is pulled and the controller reaches its first health check
        started, failed = controller.invoke("ManualRollbackFunctionName", sample_event("kill-switch.json"))
        assert not failed, started
        incident_id = started["incident_id"]
        arn = controller.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:")
        execution = wait_for_execution(
            controller.client("stepfunctions"), f"{arn}:{incident_id}", timeout_s=300
        )
    finally:
        _restore_health_checks(controller, variables)

    # Then the execution failed as ControllerFailed rather than hanging or pretending
    assert (execution["status"], execution.get("error")) == ("FAILED", "ControllerFailed")
    # And on-call was paged with the step's error, and SNS said what is still in force
    [page] = [
        p
        for p in controller.pd.received
        if p["dedup_key"] == incident_id and "controller failed" in p["payload"]["summary"]
    ]
    assert page["event_action"] == "trigger"
    error = page["payload"]["custom_details"]["error"]
    assert error["error"] == "ResourceNotFoundException"
    assert error["message"].startswith(
        "An error occurred (ResourceNotFoundException) when calling the GetItem"
    )
    [message] = [m for m in controller.sns_events() if m["event"] == "controller_failed"]
    assert (message["incident_id"], message["state_after"]) == (incident_id, "ROLLED_BACK")
    # And the emergency stage stays in force: nothing was undone half-way
    record = controller.record(SCOPE)
    assert (record["lifecycle"]["state"], record["lifecycle"]["applied_stage"]) == (
        "ROLLED_BACK",
        "emergency",
    )
