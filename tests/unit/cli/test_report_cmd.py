"""`failsafe report` renders a drill's saved report without any stack, in each format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from failsafe.reporting.report import IncidentReport
from failsafe.reporting.timeline import Timeline, TimelineEvent
from failsafe_tools.cli.app import build_app
from failsafe_tools.drill.runner import write_report

T0 = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)


def saved_report(directory: Path) -> IncidentReport:
    report = IncidentReport(
        incident_id="inc-20260101T030000Z-abc",
        scope="recommender/prod",
        final_state="NORMAL",
        timeline=Timeline(
            events=[
                TimelineEvent(at=T0, source="drill", kind="drill:fault", title="fault injected"),
                TimelineEvent(
                    at=T0 + timedelta(minutes=10),
                    source="alarm",
                    kind="alarm:ALARM",
                    title="latency-p1 OK -> ALARM",
                ),
            ]
        ),
        drill={"scenario": "latency", "title": "slow CF", "speed": 90, "wall_seconds": 41.0, "passed": True},
    )
    write_report(report, directory)
    return report


def test_a_drill_report_is_rendered_in_each_format(tmp_path: Path) -> None:
    # Given a drill wrote its report
    report = saved_report(tmp_path)
    app = build_app()

    # When it is asked for as Markdown, JSON and HTML
    md = CliRunner().invoke(app, ["report", report.incident_id, "--drill-reports", str(tmp_path)])
    js = CliRunner().invoke(
        app, ["report", report.incident_id, "--drill-reports", str(tmp_path), "-f", "json"]
    )
    out = tmp_path / "page.html"
    page = CliRunner().invoke(
        app, ["report", report.incident_id, "--drill-reports", str(tmp_path), "-f", "html", "-o", str(out)]
    )

    # Then each has the timeline
    assert md.exit_code == 0, md.output
    assert "latency-p1 OK -> ALARM" in md.output
    assert "Scenario: `latency`" in md.output
    assert [e["kind"] for e in json.loads(js.output)["timeline"]["events"]] == ["drill:fault", "alarm:ALARM"]
    assert page.exit_code == 0
    assert out.read_text().count('class="event"') == 2


def test_a_malformed_incident_id_is_one_line(tmp_path: Path) -> None:
    # Given an id with a path in it / When asked for / Then one line, exit 2
    result = CliRunner().invoke(build_app(), ["report", "../etc/passwd", "--drill-reports", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.startswith("error: INCIDENT ../etc/passwd: give an incident id")
