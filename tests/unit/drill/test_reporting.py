"""Incident reports: the merged timeline rendered as Markdown, JSON and self-contained HTML."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from failsafe.domain.audit import AuditEntry
from failsafe.reporting.efficacy import Efficacy
from failsafe.reporting.report import IncidentReport, render, timeline_svg
from failsafe.reporting.timeline import (
    Timeline,
    TimelineEvent,
    alarm_events_from_state_changes,
    audit_events,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def sample_report() -> IncidentReport:
    events = [
        TimelineEvent(
            at=T0, source="drill", kind="drill:fault", title="fault injected", who="drill-operator"
        ),
        TimelineEvent(
            at=T0 + timedelta(minutes=10), source="alarm", kind="alarm:ALARM", title="latency-p1 OK -> ALARM"
        ),
        TimelineEvent(
            at=T0 + timedelta(minutes=11),
            source="audit",
            kind="lifecycle:transition",
            title="NORMAL -> ROLLBACK_PENDING (stage_2)",
            who="failsafe:alarm-ingest",
            why="latency | p95",
        ),
        TimelineEvent(
            at=T0 + timedelta(minutes=12), source="client", kind="client:version", title="applied v2"
        ),
    ]
    return IncidentReport(
        incident_id="inc-1",
        scope="recommender/prod",
        final_state="NORMAL",
        efficacy={
            "pre_rollback": Efficacy(coverage=99.0, p95_latency_ms=450.2, fill_rate=100.0, requests=1200),
            "post_rollback": Efficacy(coverage=100.0, p95_latency_ms=0.4, fill_rate=100.0, requests=2400),
        },
        timeline=Timeline(events=list(reversed(events)), gaps=["CloudWatch alarm history: not available"]),
        commands=["failsafe audit verify"],
    )


def test_markdown_has_timeline_in_order_efficacy_and_who_did_what() -> None:
    # Given a report whose events are stored out of order
    report = sample_report()

    # When it is rendered as Markdown
    text = render(report, "md")

    # Then the timeline is chronological, pipes in reasons cannot break the table, and actors are listed
    lines = [line for line in text.splitlines() if line.startswith("| 12:")]
    assert [line.split("|")[2].strip() for line in lines] == ["drill", "alarm", "audit", "client"]
    assert "latency / p95" in text
    assert "| pre_rollback | 99.00 | 450.20 | 100.00 | 1200.00 |" in text
    assert "**failsafe:alarm-ingest**" in text
    assert "CloudWatch alarm history: not available" in text
    assert "`failsafe audit verify`" in text


def test_json_round_trips_into_the_model() -> None:
    # Given a report / When rendered as JSON and parsed back
    report = sample_report()
    data = json.loads(render(report, "json"))
    again = IncidentReport.model_validate(data)

    # Then nothing is lost and events are sorted
    assert data["schema"] == "failsafe.incident-report/1"
    assert next(e["kind"] for e in data["timeline"]["events"]) == "drill:fault"
    assert len(again.timeline.events) == 4


def test_html_is_self_contained_with_an_svg_timeline_chart() -> None:
    # Given a report / When rendered as HTML
    page = render(sample_report(), "html")

    # Then it embeds an SVG chart with one dot per event and loads no script
    assert "<svg" in page
    assert page.count('class="event"') == 4
    assert "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_svg_places_events_left_to_right_in_time() -> None:
    # Given two events ten minutes apart on one lane
    events = [
        TimelineEvent(at=T0, source="alarm", kind="alarm:ALARM", title="a"),
        TimelineEvent(at=T0 + timedelta(minutes=10), source="alarm", kind="alarm:OK", title="b"),
    ]

    # When charted
    svg = timeline_svg(events, width=500)

    # Then the later event is further right
    xs = [float(part.split('"')[0]) for part in svg.split('cx="')[1:]]
    assert xs[0] < xs[1]


def test_unknown_format_is_refused() -> None:
    # Given a report / When asked for PDF / Then the error names the formats
    with pytest.raises(ValueError, match="choose one of md, json, html"):
        render(sample_report(), "pdf")


def test_alarm_state_change_events_become_alarm_timeline_events() -> None:
    # Given EventBridge "CloudWatch Alarm State Change" events for our alarm and a foreign one
    def change(name: str, value: str, previous: str) -> dict[str, Any]:
        return {
            "time": "2026-01-01T12:10:00Z",
            "detail": {
                "alarmName": name,
                "state": {"value": value, "timestamp": "2026-01-01T12:10:00.000+0000", "reason": "why"},
                "previousState": {"value": previous},
            },
        }

    changes = [change("failsafe-x-latency-p1", "ALARM", "OK"), change("other-alarm", "ALARM", "OK")]

    # When converted
    events = alarm_events_from_state_changes(changes, "failsafe-x-")

    # Then only ours is kept, with its state and instant
    assert len(events) == 1
    assert events[0].kind == "alarm:ALARM"
    assert events[0].title == "latency-p1 OK -> ALARM"
    assert events[0].at == datetime(2026, 1, 1, 12, 10, tzinfo=UTC)


def test_audit_transitions_become_lifecycle_events() -> None:
    # Given an audit entry of a transition and one of an approval
    base: dict[str, Any] = {
        "chain": "failsafe",
        "prev_hash": "0" * 64,
        "hash": "1" * 64,
        "at": T0,
        "reason": "r",
    }
    entries = [
        AuditEntry(
            action="transition:P1_FIRED",
            actor="ingest",
            seq=1,
            before={"state": "NORMAL"},
            after={"state": "ROLLBACK_PENDING", "stage": "stage_2"},
            **base,
        ),
        AuditEntry(action="approval:approve", actor="bob", seq=2, details={"stage": "revert"}, **base),
    ]

    # When converted
    events = audit_events(entries)

    # Then the transition carries its states, the approval its actor
    assert events[0].kind == "lifecycle:transition"
    assert events[0].data["state"] == "ROLLBACK_PENDING"
    assert events[0].title == "NORMAL -> ROLLBACK_PENDING (stage_2)"
    assert (events[1].kind, events[1].who) == ("audit:approval:approve", "bob")
