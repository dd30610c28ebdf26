"""The incident report: merged timeline, rollback efficacy before/after, who did what, where to dig.

`IncidentReport` is built from real sources only (see `failsafe.reporting.timeline`); `render_markdown`,
`render_json` and `render_html` turn it into text. The HTML page is self-contained: the timeline chart is
inline SVG (no script, no CDN), so it opens from a mail attachment or an S3 link alike.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from failsafe.reporting.efficacy import Efficacy
from failsafe.reporting.timeline import Timeline, TimelineEvent

SCHEMA = "failsafe.incident-report/1"

__all__ = ["SCHEMA", "Efficacy", "IncidentReport", "render", "render_html", "render_json", "render_markdown"]


class IncidentReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_: str = Field(SCHEMA, alias="schema")
    incident_id: str
    scope: str | None = None
    final_state: str | None = None
    source: str | None = None
    requested_by: str | None = None
    reason: str | None = None
    trigger: dict[str, Any] | None = None
    started_at: datetime | None = None
    rollback_at: datetime | None = None
    ended_at: datetime | None = None
    pre_incident_config_version: int | None = None
    last_known_good_version: int | None = None
    audit_chain_ok: bool | None = None
    efficacy: dict[str, Efficacy] = Field(default_factory=dict)
    timeline: Timeline = Field(default_factory=Timeline)
    scorecard: dict[str, Any] | None = None
    drill: dict[str, Any] | None = None
    links: dict[str, str] = Field(default_factory=dict)
    commands: list[str] = Field(default_factory=list)

    def actors(self) -> list[tuple[str, list[str]]]:
        """Who did what: each actor with the actions attributed to them, in order."""
        by_actor: dict[str, list[str]] = {}
        for event in self.timeline.sorted():
            if event.who:
                by_actor.setdefault(event.who, []).append(event.title)
        return sorted(by_actor.items())


def _fmt(value: object, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.2f}{unit}"
    return f"{value}{unit}"


def _trigger(trigger: dict[str, Any] | None) -> str | None:
    if not trigger:
        return None
    return ", ".join(f"{k}={v}" for k, v in trigger.items() if v is not None) or None


def _seconds(value: object) -> str:
    if not isinstance(value, int | float):
        return "missing"
    return f"{value:.0f} s ({value / 60:.1f} min)"


def _cell(text: object) -> str:
    return str(text if text is not None else "").replace("|", "/").replace("\n", " ")


def render_json(report: IncidentReport) -> str:
    data = report.model_dump(mode="json", by_alias=True)
    data["timeline"]["events"] = [e.model_dump(mode="json") for e in report.timeline.sorted()]
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def render_markdown(report: IncidentReport) -> str:
    lines = [f"# Incident {report.incident_id}", ""]
    facts = [
        ("Scope", f"`{report.scope}`" if report.scope else None),
        ("Final state", f"**{report.final_state}**" if report.final_state else None),
        ("Source", report.source),
        ("Requested by", report.requested_by),
        ("Reason", report.reason),
        ("Trigger", _trigger(report.trigger)),
        ("Started", report.started_at.isoformat() if report.started_at else None),
        ("Rollback deployed", report.rollback_at.isoformat() if report.rollback_at else None),
        ("Ended", report.ended_at.isoformat() if report.ended_at else None),
        ("Config version before the incident", report.pre_incident_config_version),
        ("Last known good config version", report.last_known_good_version),
        ("Audit chain verified", None if report.audit_chain_ok is None else str(report.audit_chain_ok)),
    ]
    lines += [f"- {name}: {value}" for name, value in facts if value]
    if report.drill:
        lines += [
            "",
            "## Drill",
            "",
            f"- Scenario: `{report.drill.get('scenario')}` ({report.drill.get('title', '')})",
            f"- Clock speed: {report.drill.get('speed')}x; "
            f"wall time: {_fmt(report.drill.get('wall_seconds'), ' s')}",
            f"- Requests served: {report.drill.get('requests')}",
            f"- Result: **{'PASS' if report.drill.get('passed') else 'FAIL'}**",
        ]
    if report.scorecard:
        lines += [
            "",
            "## Scorecard",
            "",
            "| measure | from | to | time | target | met |",
            "|---|---|---|---|---|---|",
        ]
        for m in report.scorecard.get("measures", []):
            target = _seconds(m["target_seconds"]) if m.get("target_seconds") is not None else "-"
            met = {True: "yes", False: "**NO**", None: "-"}[m.get("met")]
            lines.append(
                f"| {m['name']} | {m['frm']} | {m['to']} | {_seconds(m.get('seconds'))} | {target} | {met} |"
            )
        for r in [*report.scorecard.get("ratios", []), *report.scorecard.get("checks", [])]:
            value = _fmt(r.get("value"), " %") if r.get("value") is not None else "n/a"
            lines.append(f"| {r['name']} | | | {value} | {r['target']} | {'yes' if r['met'] else '**NO**'} |")
    lines += [
        "",
        "## Rollback efficacy",
        "",
        "| period | coverage % | p95 latency ms | fill rate % | requests |",
    ]
    lines.append("|---|---|---|---|---|")
    for period, window in report.efficacy.items():
        lines.append(
            f"| {period} | {_fmt(window.coverage)} | {_fmt(window.p95_latency_ms)} "
            f"| {_fmt(window.fill_rate)} "
            f"| {_fmt(window.requests)} |"
        )
    lines += ["", "## Timeline", "", "| at (UTC) | source | what | who | why |", "|---|---|---|---|---|"]
    for event in report.timeline.sorted():
        lines.append(
            f"| {event.at.strftime('%H:%M:%S')} | {event.source} | {_cell(event.title)} | {_cell(event.who)} "
            f"| {_cell((event.why or '')[:160])} |"
        )
    if report.timeline.gaps:
        lines += ["", "Sources that could not be read:", ""] + [f"- {gap}" for gap in report.timeline.gaps]
    lines += ["", "## Who did what", ""]
    for actor, actions in report.actors():
        shown = ", ".join(dict.fromkeys(actions))
        lines.append(f"- **{actor}**: {_cell(shown[:400])}")
    if report.links or report.commands:
        lines += ["", "## Dig further", ""]
        lines += [f"- {name}: {url}" for name, url in report.links.items()]
        lines += [f"- `{command}`" for command in report.commands]
    return "\n".join(lines) + "\n"


# --- HTML with an inline SVG timeline chart ---------------------------------------------------------------

_LANES = ("drill", "alarm", "execution", "audit", "appconfig", "client", "notification")
_COLOURS = {
    "drill": "#6f42c1",
    "alarm": "#d73a49",
    "execution": "#0366d6",
    "audit": "#586069",
    "appconfig": "#e36209",
    "client": "#28a745",
    "notification": "#b08800",
}


def timeline_svg(events: list[TimelineEvent], width: int = 960) -> str:
    """One lane per source, one dot per event, x = time; each dot's <title> is the event (hover text)."""
    lanes = [lane for lane in _LANES if any(e.source == lane for e in events)]
    if not events or not lanes:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    left, right, lane_height, top = 110, 20, 34, 30
    start = min(e.at for e in events)
    end = max(e.at for e in events)
    span = max((end - start).total_seconds(), 1.0)
    height = top + lane_height * len(lanes) + 30

    def x(at: datetime) -> float:
        return left + (width - left - right) * (at - start).total_seconds() / span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="incident timeline" font-family="sans-serif" font-size="12">'
    ]
    for index, lane in enumerate(lanes):
        y = top + index * lane_height + lane_height / 2
        parts.append(
            f'<text x="8" y="{y + 4:.0f}" fill="{_COLOURS[lane]}">{lane}</text>'
            f'<line x1="{left}" y1="{y:.0f}" x2="{width - right}" y2="{y:.0f}" stroke="#e1e4e8"/>'
        )
        for event in (e for e in events if e.source == lane):
            label = html.escape(f"{event.at.strftime('%H:%M:%S')} {event.title}")
            parts.append(
                f'<circle cx="{x(event.at):.1f}" cy="{y:.0f}" r="5" fill="{_COLOURS[lane]}" '
                f'class="event"><title>{label}</title></circle>'
            )
    ticks = 6
    axis_y = top + lane_height * len(lanes) + 14
    for i in range(ticks + 1):
        seconds = span * i / ticks
        tx = left + (width - left - right) * i / ticks
        parts.append(
            f'<text x="{tx:.0f}" y="{axis_y}" text-anchor="middle" fill="#586069">'
            f"+{seconds / 60:.1f} min</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: IncidentReport) -> str:
    body = render_markdown(report)
    events = report.timeline.sorted()
    rows = "".join(
        f"<tr><td>{html.escape(e.at.strftime('%H:%M:%S'))}</td><td>{e.source}</td>"
        f"<td>{html.escape(e.title)}</td><td>{html.escape(e.who or '')}</td>"
        f"<td>{html.escape((e.why or '')[:200])}</td></tr>"
        for e in events
    )
    summary = html.escape(body.split("## Timeline")[0])
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>failsafe incident {html.escape(report.incident_id)}</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse}"
        "td,th{border:1px solid #e1e4e8;padding:2px 6px;font-size:13px}pre{white-space:pre-wrap}</style>"
        "</head><body>"
        f"<h1>Incident {html.escape(report.incident_id)}</h1>"
        f"<h2>Timeline chart</h2>{timeline_svg(events)}"
        f"<h2>Summary</h2><pre>{summary}</pre>"
        "<h2>Timeline</h2><table><tr><th>at (UTC)</th><th>source</th><th>what</th>"
        "<th>who</th><th>why</th></tr>"
        f"{rows}</table></body></html>\n"
    )


RENDERERS = {"md": render_markdown, "json": render_json, "html": render_html}


def render(report: IncidentReport, fmt: str) -> str:
    try:
        return RENDERERS[fmt](report)
    except KeyError:
        raise ValueError(f"format {fmt!r}: choose one of {', '.join(RENDERERS)}") from None
