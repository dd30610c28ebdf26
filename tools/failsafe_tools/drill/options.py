"""What a drill is asked to do (`DrillOptions`), what it reports as it runs (`DrillProgress`) and what it
found (`DrillResult`): the types shared by the orchestration (`session`) and the measurement
(`measurement`) of a drill."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from failsafe.reporting.report import IncidentReport
from failsafe_tools.drill.scenarios import Scenario
from failsafe_tools.drill.scorecard import Scorecard

DEFAULT_SPEED = 75.0
"""Simulated seconds per wall second. A whole incident (10-minute trigger, 15-minute verify window, gradual
restore) is about 45 simulated minutes, so the default drill ends within a minute of wall time. Faster is
riskier on a small machine: the local Lambda runtime times handlers out on the simulated clock, so at 90x
a 30 s Timeout is a third of a wall second of a busy CPU."""

OPERATOR = "drill-operator"
RELEASE_ALIAS = "live"
APPROVER = "drill-approver"


class DrillError(RuntimeError):
    """The drill could not run (the stack did not start, setup failed)."""


@dataclass
class DrillOptions:
    scenario: Scenario
    speed: float = DEFAULT_SPEED
    rate: float = 2.0
    template: Path = Path("template.yaml")
    report_dir: Path = Path(".failsafe/reports")
    events_dir: Path | None = Path(".failsafe/events")
    """Where the recommender's evidence events land as Parquet (`failsafe query --events-dir`); None: off."""
    max_simulated_seconds: float = 3 * 3600.0
    refresh_seconds: float = 15.0
    parameters: dict[str, str] = field(default_factory=lambda: {"LogLevel": "WARNING"})
    lambda_python: Path | None = None
    """With a `sam build` output's template: run each function's built package in a sandbox process."""


@dataclass
class DrillProgress:
    phase: str
    simulated: datetime
    elapsed_simulated: float
    state: str = "NORMAL"
    stage: str | None = None
    incident_id: str | None = None
    alarms: tuple[str, ...] = ()
    deployed_version: int | None = None
    client_version: int = 0
    fill_rate: float | None = None
    requests: int = 0


@dataclass
class DrillResult:
    scenario: str
    incident_id: str | None
    final_state: str
    scorecard: Scorecard
    report: IncidentReport
    report_paths: dict[str, Path]
    wall_seconds: float
    requests: int
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.scorecard.passed and not self.interrupted
