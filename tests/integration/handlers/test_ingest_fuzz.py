"""Fuzzing AlarmIngest with EventBridge events, valid-shaped and garbage (issue 10).

Marked `slow`: CI runs it (the default selection), `pytest -m "not slow"` skips it locally.

Honest sizing: the 10,000 fuzzed events go through `screen`, the pure layer of ingest that decides,
before anything is read or written, whether an event is dropped (parsing, classification, ownership, the
clock-skew bound). Another 150 go through the real handler (Powertools idempotency, DynamoDB, Step
Functions on moto), which costs about a third of a second per event with the checks on moto: 500 took
about 3 minutes on a loaded 2-core machine, 10,000 would take most of an hour.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration.handlers.helpers import executions, ingest
from tests.integration.handlers.world import PREFIX, WORLD_START, World

from failsafe.controller.ingest import Refused, screen
from failsafe.domain.catalog import DEFAULT_CATALOG
from failsafe.domain.plan_defaults import DEFAULT_PLAN

pytestmark = pytest.mark.slow

NOW = datetime.fromtimestamp(WORLD_START, tz=UTC)
SKEW = 300
RULES = ("latency-p2", "latency-p1", "coverage-p1", "coverage-p2", "pii-detection-failure")
OWN_NAMES = [PREFIX + rule for rule in RULES]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
scope_values = st.from_regex(r"\A[A-Za-z0-9_.:\-]{1,64}\Z")
good_stamps = st.integers(min_value=-30 * 86400, max_value=SKEW - 1).map(
    lambda s: (NOW + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
)
bad_stamps = st.one_of(
    st.just("9999-12-31T23:59:59.000+0000"),
    st.integers(min_value=SKEW + 60, max_value=10**9).map(lambda s: (NOW + timedelta(seconds=s)).isoformat()),
    st.text(max_size=30),
    json_values,
)
naive_stamps = st.integers(min_value=-86400, max_value=0).map(
    lambda s: (NOW + timedelta(seconds=s)).replace(tzinfo=None).isoformat()
)


def _event(name: Any, state: Any, stamp: Any, dimensions: Any, event_id: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "time": "2026-01-01T00:10:00Z",
        "detail": {
            "alarmName": name,
            "state": {"value": state, "reason": "fuzz", "timestamp": stamp},
            "configuration": {
                "metrics": [{"id": "m1", "metricStat": {"metric": {"dimensions": dimensions}}}]
            },
        },
    }


@st.composite
def valid_events(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """An alarm state change this stack must act on: its alarm, its service and environment, a sane time."""
    dimensions: dict[str, str] = {"Service": "recommender", "Environment": "prod"}
    if draw(st.booleans()):
        dimensions["Region"] = draw(scope_values)
    stamp = draw(st.one_of(good_stamps, naive_stamps))
    state = draw(st.sampled_from(["OK", "ALARM", "INSUFFICIENT_DATA"]))
    return _event(draw(st.sampled_from(OWN_NAMES)), state, stamp, dimensions, draw(st.uuids()).hex), True


@st.composite
def invalid_events(draw: st.DrawFn) -> tuple[Any, bool]:
    """Valid-shaped events with one thing wrong, and garbage."""
    kind = draw(st.sampled_from(["garbage", "name", "dimensions", "foreign", "stamp", "state", "envelope"]))
    if kind == "garbage":
        return draw(json_values), False
    name = draw(st.sampled_from(OWN_NAMES))
    state, stamp = "ALARM", draw(good_stamps)
    dimensions: Any = {"Service": "recommender", "Environment": "prod"}
    if kind == "name":
        name = draw(st.one_of(st.text(max_size=40), st.just(PREFIX + "x" * 300 + "-latency-p1"), json_values))
    elif kind == "dimensions":
        dimensions = draw(
            st.one_of(
                st.dictionaries(
                    st.sampled_from(["Service", "Environment", "Region", "Cohort", "Client", "Other"]),
                    st.text(max_size=80),
                    max_size=6,
                ).filter(lambda d: any(not _grammar(v) for v in d.values()) or "Service" not in d),
                json_values,
            )
        )
    elif kind == "foreign":
        service, environment = draw(
            st.sampled_from([("payments", "prod"), ("recommender", "staging"), ("payments", "dev")])
        )
        dimensions = {"Service": service, "Environment": environment}
    elif kind == "stamp":
        stamp = draw(bad_stamps)
    elif kind == "state":
        state = draw(
            st.one_of(st.text(max_size=10), json_values).filter(
                lambda v: not (isinstance(v, str) and v in _STATES)
            )
        )
    event = _event(name, state, stamp, dimensions, draw(st.uuids()).hex)
    if kind == "envelope":
        event[draw(st.sampled_from(["source", "detail-type", "detail"]))] = draw(json_values)
    return event, False


_STATES = {"OK", "ALARM", "INSUFFICIENT_DATA"}


def _not_a_state(value: Any) -> bool:
    return not (isinstance(value, str) and value in _STATES)


def _grammar(value: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9_.:\-]{1,64}", value))


def _screen(event: Any) -> bool:
    """True when the pure layer lets the event through; False when it refuses it. Anything else raises."""
    try:
        screen(
            event,
            prefix=PREFIX,
            catalog=DEFAULT_CATALOG,
            plan=DEFAULT_PLAN,
            service="recommender",
            environment="prod",
            now=NOW,
            max_skew_seconds=SKEW,
        )
    except Refused:
        return False
    return True


@settings(max_examples=10_000, deadline=None, database=None)
@given(st.one_of(valid_events(), invalid_events()))
def test_10000_fuzzed_events_are_screened_without_an_exception(case: tuple[Any, bool]) -> None:
    # Given a fuzzed EventBridge event, valid-shaped or not
    event, valid = case
    # When the pure layer of ingest screens it
    admitted = _screen(event)
    # Then it never raises anything but a refusal, admits every valid event and refuses every invalid one
    assert admitted is valid, json.dumps(event, default=str)[:500]


def _state_items(world: World) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = world.client("dynamodb").scan(TableName="state")["Items"]
    return sorted(items, key=lambda i: i["pk"]["S"])


def test_150_fuzzed_events_through_the_real_handler_change_nothing_unless_valid(world: World) -> None:
    # Given the handler on moto
    ids = itertools.count()

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.one_of(valid_events(), invalid_events()))
    def run(case: tuple[Any, bool]) -> None:
        event, valid = case
        if isinstance(event, dict):  # a new event each time: a repeated id is answered by idempotency
            event = {**event, "id": f"fuzz-{next(ids)}"}
        before_state, before_executions = _state_items(world), len(executions(world))
        # When the handler ingests the event
        result = ingest(event)
        # Then nothing escapes; an invalid event is dropped, changes no state and starts nothing
        if not valid:
            assert result["outcome"] == "dropped", result
            assert _state_items(world) == before_state
            assert len(executions(world)) == before_executions
        else:
            assert result["outcome"] != "dropped", result

    run()
