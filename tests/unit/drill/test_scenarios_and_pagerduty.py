"""Drill scenarios are consistent with the catalog and plan; the PagerDuty stand-in checks the v2 schema."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from failsafe.domain.catalog import DEFAULT_CATALOG
from failsafe_tools.drill.pagerduty import ROUTING_KEY, PagerDutySink, problems
from failsafe_tools.drill.scenarios import DEFAULT_SCENARIO, SCENARIOS, UnknownScenarioError, get_scenario

RULES = {rule.name for rule in DEFAULT_CATALOG.rules}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_names_real_catalog_rules_and_a_fault_or_an_operator(name: str) -> None:
    # Given a scenario / When inspected / Then its alarms exist and it injects something
    scenario = get_scenario(name)
    assert set(scenario.expected_alarms) <= RULES
    assert scenario.chaos is not None or scenario.signals or scenario.manual_level is not None
    assert scenario.expected_levels


def test_the_issue_lists_every_scenario_and_latency_is_the_default() -> None:
    # Given the issue's list / Then the drill offers exactly those scenarios
    assert set(SCENARIOS) == {
        "latency",
        "errors",
        "coverage",
        "coverage-p2",  # issue 14: a P2 alone, in force within 10 minutes
        "cf-outage",
        "security",
        "cost",
        "flapping",
        "manual-level-3",
    }
    assert DEFAULT_SCENARIO == "latency"


def test_unknown_scenario_names_the_choices() -> None:
    # Given a typo / When looked up / Then the error lists the scenarios
    with pytest.raises(UnknownScenarioError, match="choose one of latency, errors"):
        get_scenario("latncy")


def test_pagerduty_v2_schema_problems() -> None:
    # Given events / Then valid ones pass and broken ones name the field
    trigger = {
        "routing_key": "k",
        "event_action": "trigger",
        "dedup_key": "inc-1",
        "payload": {"summary": "s", "source": "failsafe", "severity": "critical"},
    }
    assert problems(trigger) == []
    assert problems({"routing_key": "k", "event_action": "resolve", "dedup_key": "inc-1"}) == []
    assert problems({**trigger, "payload": {"summary": "s", "source": "x", "severity": "sev1"}}) == [
        "payload.severity 'sev1' is invalid"
    ]
    assert problems({"event_action": "resolve"}) == ["routing_key is missing", "resolve needs a dedup_key"]


def test_sink_records_valid_pages_and_rejects_invalid_ones() -> None:
    # Given a running sink
    sink = PagerDutySink(now=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    url = sink.start()
    try:

        def post(body: object) -> int:
            request = urllib.request.Request(
                f"{url}/v2/enqueue",
                data=json.dumps(body).encode(),
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return int(response.status)
            except urllib.error.HTTPError as exc:
                return int(exc.code)

        # When one valid trigger and one invalid event are posted
        ok = post(
            {
                "routing_key": ROUTING_KEY,
                "event_action": "trigger",
                "dedup_key": "inc-1",
                "payload": {"summary": "rollback", "source": "failsafe", "severity": "error"},
            }
        )
        bad = post({"routing_key": ROUTING_KEY, "event_action": "explode"})
    finally:
        sink.stop()

    # Then PagerDuty's answers come back and only the valid page is recorded
    assert (ok, bad) == (202, 400)
    pages = sink.received()
    assert [(p.action, p.dedup_key, p.severity) for p in pages] == [("trigger", "inc-1", "error")]
    assert sink.rejected == ["event_action 'explode' is not one of trigger, acknowledge, resolve"]
