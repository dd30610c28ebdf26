"""`run_drill`: the whole loop on the embedded local AWS, measured from what the stack recorded.

1. Start the local stack from template.yaml on a `SpeedClock` (`speed` simulated seconds per wall second)
   and deploy the normal toggles through AppConfig (the pre-incident release, version 1).
2. Start reference-recommender traffic (`TrafficGenerator`): the real client polls the local AppConfig
   agent, every request's EMF goes into the local CloudWatch.
3. After a healthy warm-up, inject the scenario's fault (or, for a manual scenario, invoke the
   ManualRollback function as an operator and approve from a second identity through ApprovalCallback).
4. Let the alarms fire and the controller act; repair the fault while the controller verifies recovery;
   wait until the scope is back to NORMAL (or the simulated deadline passes).
5. Merge the timeline from the alarm state changes, the execution history, the AppConfig deployments,
   the audit log and the client's version changes; compute the scorecard; write the incident report.

All waiting goes through the stack's clock. Nothing is measured from assumptions: each milestone is an
event one of those sources recorded.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from failsafe.aws.audit_log import AuditLog
from failsafe.aws.reports import EfficacyReader
from failsafe.aws.state_store import ScopeRecord, StateStore
from failsafe.client import AgentHttpSource, ToggleClient
from failsafe.domain import metrics as contract
from failsafe.domain.baselines import BASELINES, BaselineName
from failsafe.domain.plans import Level
from failsafe.domain.scope import Scope
from failsafe.domain.toggles import Metadata, ToggleDocument
from failsafe.recommender.catalog import get_catalog
from failsafe.recommender.settings import RecommenderSettings
from failsafe.reporting.report import Efficacy, IncidentReport, render
from failsafe.reporting.timeline import (
    Timeline,
    TimelineEvent,
    alarm_history,
    audit_events,
    deployment_events,
    execution_events,
)
from failsafe_tools.cli.target import FunctionFailed, Target, from_local_stack, use_local_stack
from failsafe_tools.drill.pagerduty import ROUTING_KEY, PagerDutySink
from failsafe_tools.drill.scenarios import Scenario
from failsafe_tools.drill.scorecard import (
    Milestones,
    Ratio,
    Scorecard,
    milestones,
    requests_per_minute,
    score,
)
from failsafe_tools.drill.traffic import TrafficGenerator
from failsafe_tools.local.clock import SpeedClock

DEFAULT_SPEED = 1000.0
"""At most this many simulated seconds per wall second. The drill clock is a discrete-event simulation
(`failsafe_tools.local.clock.SpeedClock`): time stands still while anything computes and every actor wakes
at its exact instant, so the speed only bounds how fast quiet stretches go by; it changes how long a drill
takes, never its scorecard. A whole incident (trigger, 15-minute verify window, gradual restore) is about
40 simulated minutes: 2.4 s of waiting at 1000x, the rest is what the stack computes."""

DRILL_USERS = 400
"""Distinct users of the drill's traffic (the most active of the catalog)."""
DRILL_WARM_USERS = 300
"""Of those, the ones the recommender's cache holds when the drill starts (`Recommender.warm`)."""

OPERATOR_POLL_SECONDS = 5.0
"""Simulated seconds between two looks of the drill's operator (state, approvals, repairs)."""

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


class _Drill:
    def __init__(
        self, options: DrillOptions, stack: Any, progress: Callable[[DrillProgress], None] | None
    ) -> None:
        self.options = options
        self.scenario = options.scenario
        self.stack = stack
        self.clock = stack.clock
        self.target: Target = from_local_stack(stack)
        self.outputs = stack.outputs
        self.scope = Scope(service=self.outputs["ServiceName"], environment=self.outputs["EnvironmentName"])
        self.prefix = self.outputs["AlarmNamePrefix"]
        self.state = StateStore(stack.client("dynamodb"), self.outputs["StateTableName"])
        self.events: list[TimelineEvent] = []
        self.progress_cb = progress
        self.phase = "starting"
        self.began = self.clock.time()
        self.incident_seen: str | None = None
        self.notes: list[str] = []
        self.traffic: TrafficGenerator | None = None
        self.client: ToggleClient | None = None
        self.fault_on = False
        self.record: ScopeRecord | None = None
        self.pager: PagerDutySink | None = None
        self.bad_release: tuple[str, str] | None = None

    # -- events ---------------------------------------------------------------------------------------------
    def note(self, kind: str, title: str, who: str | None = None, **data: Any) -> None:
        self.events.append(
            TimelineEvent(at=self.clock.now(), source="drill", kind=kind, title=title, who=who, data=data)
        )

    # -- setup ----------------------------------------------------------------------------------------------
    def configure_pagerduty(self) -> None:
        """The routing key NotifyFunction reads (the stack points PagerDutyBaseUrl at the drill's sink)."""
        self.stack.client("secretsmanager").put_secret_value(
            SecretId=self.outputs["PagerDutySecretArn"], SecretString=ROUTING_KEY
        )

    def deploy_baseline(self) -> int:
        """The pre-incident release: the normal toggles the stack deployed when it was provisioned, or,
        for a template without that initial deployment, the normal baseline deployed now."""
        appconfig = self.stack.client("appconfig")
        o = self.outputs
        deployments = appconfig.list_deployments(
            ApplicationId=o["AppConfigApplicationId"], EnvironmentId=o["AppConfigEnvironmentId"]
        ).get("Items", [])
        complete = [d for d in deployments if d.get("State") == "COMPLETE"]
        if complete:
            version = int(max(complete, key=lambda d: int(d["DeploymentNumber"]))["ConfigurationVersion"])
            self.note(
                "drill:baseline", f"pre-incident toggles: config version {version}, deployed with the stack"
            )
            return version
        document = ToggleDocument(
            metadata=Metadata(
                version=1,
                environment=self.scope.environment,
                author=OPERATOR,
                reason="drill: the pre-incident release (normal baseline)",
                updated_at=self.clock.now(),
            ),
            toggles=BASELINES[BaselineName.NORMAL],
        )
        version = appconfig.create_hosted_configuration_version(
            ApplicationId=o["AppConfigApplicationId"],
            ConfigurationProfileId=o["AppConfigProfileId"],
            Content=document.model_dump_json().encode(),
            ContentType="application/json",
            Description="failsafe drill baseline",
        )["VersionNumber"]
        deployment = appconfig.start_deployment(
            ApplicationId=o["AppConfigApplicationId"],
            EnvironmentId=o["AppConfigEnvironmentId"],
            DeploymentStrategyId=o["AppConfigImmediateStrategyId"],
            ConfigurationProfileId=o["AppConfigProfileId"],
            ConfigurationVersion=str(version),
            Description="failsafe drill baseline (normal toggles)",
        )["DeploymentNumber"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = appconfig.get_deployment(
                ApplicationId=o["AppConfigApplicationId"],
                EnvironmentId=o["AppConfigEnvironmentId"],
                DeploymentNumber=deployment,
            )["State"]
            if state == "COMPLETE":
                self.note(
                    "drill:baseline", f"normal toggles deployed (config version {version})", who=OPERATOR
                )
                return int(version)
            if state in ("ROLLED_BACK", "REVERTED"):
                raise DrillError(
                    f"the baseline deployment #{deployment} was {state.lower()}; the drill cannot start"
                )
            if isinstance(self.clock, SpeedClock):
                self.clock.sleep(1.0)  # the ticker progresses the deployment meanwhile
            else:
                time.sleep(0.05)
        raise DrillError(f"the baseline deployment #{deployment} did not complete within 30 s wall time")

    def start_traffic(self) -> None:
        o = self.outputs
        source = AgentHttpSource(
            o["AppConfigApplicationId"],
            o["AppConfigEnvironmentId"],
            o["AppConfigProfileId"],
            base_url=self.stack.agent_url,
        )
        self.client = ToggleClient(
            source,
            refresh_interval=self.options.refresh_seconds,
            service=self.scope.service,
            environment=self.scope.environment,
            clock=self.clock.time,
            wall_clock=self.clock.time,
        )
        self.client.refresh()
        if not self.client.ready:
            raise DrillError(f"the recommender's client could not load the toggles: {self.client.last_error}")
        from failsafe_tools.local import emf as local_emf

        account, region = self.stack.account_id, self.stack.region

        def publish(document: dict[str, Any]) -> None:
            local_emf.put_emf_metrics(local_emf.parse_emf_document(document), account, region)

        users = [
            {"user_id": u.user_id, "region": u.region, "cohort": u.cohort, "client": u.client}
            # the 400 most active users, the ones a running service's cache holds (`Recommender.warm`)
            for u in sorted(get_catalog().users, key=lambda u: (-len(u.history), u.index))[:DRILL_USERS]
        ]
        self.traffic = TrafficGenerator(
            client=self.client,
            publish=publish,
            clock_time=self.clock.time,
            service=self.scope.service,
            environment=self.scope.environment,
            users=users,
            rate=self.options.rate,
            refresh_seconds=self.options.refresh_seconds,
            # The incident strikes a service that has been running: its cache holds three in four of the
            # drill's users. A healthy hit rate above the 70 % guardrail (a cold start's warm-up would read
            # as a cache-hit-rate breach before any fault), and misses that still reach the models (with
            # every user cached, a model fault would never show).
            prewarm_users=max(RecommenderSettings.from_env().prewarm_users, DRILL_WARM_USERS),
            clock=self.clock if isinstance(self.clock, SpeedClock) else None,
        )
        self.traffic.start()
        self.note("drill:traffic", f"reference-recommender traffic started ({self.options.rate:g} req/s)")

    # -- the loop -------------------------------------------------------------------------------------------
    def observe(self) -> ScopeRecord | None:
        record = self.state.get(self.scope.key)
        self.record = record
        if record is not None and record.incident_id and self.incident_seen is None:
            self.incident_seen = record.incident_id
        self.report_progress()
        return record

    def report_progress(self) -> None:
        if self.progress_cb is None:
            return
        record = self.record
        traffic = self.traffic
        fill = None
        requests = 0
        if traffic is not None:
            minutes = traffic.snapshot()
            requests = traffic.sent
            recent = [minutes[m] for m in sorted(minutes)[-2:]]
            total = sum(s.requests for s in recent)
            fill = 100.0 * sum(s.full for s in recent) / total if total else None
        self.progress_cb(
            DrillProgress(
                phase=self.phase,
                simulated=self.clock.now(),
                elapsed_simulated=self.clock.time() - self.began,
                state=record.state if record else "NORMAL",
                stage=record.lifecycle.stage if record else None,
                incident_id=record.incident_id if record else None,
                alarms=tuple(a.alarm_name.removeprefix(self.prefix) for a in record.firing_alarms())
                if record
                else (),
                deployed_version=record.deployed_config_version if record else None,
                client_version=self.client.config_version if self.client else 0,
                fill_rate=fill,
                requests=requests,
            )
        )

    def pause(self, stop: threading.Event) -> None:
        """Until the operator's next look: `OPERATOR_POLL_SECONDS` of simulated time on a drill clock."""
        if isinstance(self.clock, SpeedClock):
            self.clock.sleep(OPERATOR_POLL_SECONDS, cancel=stop)
        else:
            time.sleep(0.2)

    def wait(self, simulated_seconds: float, stop: threading.Event) -> None:
        until = self.clock.time() + simulated_seconds
        while self.clock.time() < until and not stop.is_set():
            self.observe()
            self.pause(stop)

    def inject(self) -> None:
        assert self.traffic is not None
        s = self.scenario
        if s.manual_level is not None:
            if s.manual_level is Level.THREE:
                self.ship_bad_release()
            self.phase = f"operator runs level {s.manual_level.value}"
            self.note(
                "drill:manual",
                f"{OPERATOR} runs level {s.manual_level.value} on {self.scope.key}",
                who=OPERATOR,
            )
            result = self.target.invoke(
                "ManualRollbackFunctionName",
                {
                    "action": "rollback",
                    "level": s.manual_level.value,
                    "scope": self.scope.key,
                    "reason": f"failsafe drill {s.name}",
                    "requested_by": OPERATOR,
                    # The drill rehearses the whole loop, restore included: the operator asks for it (a
                    # manual level otherwise holds until someone runs `failsafe recover`).
                    "auto_restore": True,
                },
            )
            self.incident_seen = str(result.get("incident_id"))
            return
        self.phase = "fault injected"
        self.traffic.inject(s.chaos, s.affected_policies, s.signals, s.healthy_signals)
        self.fault_on = True
        self.note("drill:fault", f"fault injected: {s.title}", who=OPERATOR, scenario=s.name)

    def ship_bad_release(self) -> None:
        """Level 3 reverts the recommender to its previous release: publish a new version of the recommender
        function and move its `live` alias there, as a release pipeline would, so there is one to revert."""
        lam = self.stack.client("lambda")
        name = self.outputs["RecommenderFunctionName"]
        before = lam.get_alias(FunctionName=name, Name=RELEASE_ALIAS)["FunctionVersion"]
        lam.update_function_configuration(
            FunctionName=name, Description="failsafe drill: the release under suspicion"
        )
        version = lam.publish_version(FunctionName=name, Description="failsafe drill: bad release")["Version"]
        lam.update_alias(FunctionName=name, Name=RELEASE_ALIAS, FunctionVersion=version)
        self.bad_release = (str(before), str(version))
        self.note(
            "drill:release",
            f"release {version} of {name} shipped (alias {RELEASE_ALIAS}: {before} -> {version})",
            who=OPERATOR,
        )

    def release_now(self) -> str | None:
        if self.bad_release is None:
            return None
        lam = self.stack.client("lambda")
        return str(
            lam.get_alias(FunctionName=self.outputs["RecommenderFunctionName"], Name=RELEASE_ALIAS)[
                "FunctionVersion"
            ]
        )

    def repair(self, why: str) -> None:
        assert self.traffic is not None
        if self.fault_on:
            self.traffic.repair()
            self.fault_on = False
            self.note("drill:repair", f"fault repaired ({why})", who=OPERATOR)

    def approve_if_waiting(self, record: ScopeRecord) -> None:
        pending = record.pending_approval
        if pending is None or not self.scenario.approve:
            return
        if any(
            e.kind == "drill:approve" and e.data.get("token") == pending.task_token[-12:] for e in self.events
        ):
            return
        try:
            self.target.invoke(
                "ApprovalCallbackFunctionName",
                {
                    "incident_id": record.incident_id,
                    "decision": "approve",
                    "approver": APPROVER,
                    "reason": f"failsafe drill {self.scenario.name}: approved by a second operator",
                },
            )
        except FunctionFailed as exc:
            self.notes.append(f"approval failed: {exc.message}")
            return
        self.note(
            "drill:approve",
            f"{APPROVER} approved {pending.stage} of {record.incident_id}",
            who=APPROVER,
            token=pending.task_token[-12:],
        )

    def run(self, stop: threading.Event) -> bool:
        """Drive the scenario; True when the scope returned to NORMAL after an incident."""
        s = self.scenario
        self.phase = "warm-up (healthy traffic)"
        self.wait(s.warmup_seconds, stop)
        if stop.is_set():
            return False
        self.inject()
        deadline = self.clock.time() + self.options.max_simulated_seconds
        flap_stage = 0
        flap_since = self.clock.time()
        while not stop.is_set():
            record = self.observe()
            now = self.clock.time()
            if now > deadline:
                self.notes.append(
                    f"stopped after {self.options.max_simulated_seconds / 60:.0f} simulated minutes "
                    "without NORMAL"
                )
                return False
            state = record.state if record else "NORMAL"
            if record is not None:
                self.approve_if_waiting(record)
            if s.flapping is not None:
                # on until rolled back; off; back on during verification (a re-fire); off for good
                if flap_stage == 0 and state == "ROLLED_BACK":
                    assert self.traffic is not None
                    self.traffic.repair()
                    self.fault_on = False
                    self.note("drill:flap", "fault stops (first burst over)", who=OPERATOR)
                    flap_stage, flap_since = 1, now
                elif (
                    flap_stage == 1
                    and state == "RECOVERY_VERIFY"
                    and now - flap_since >= s.flapping.off_seconds
                ):
                    assert self.traffic is not None
                    self.traffic.inject(s.chaos, s.affected_policies, s.signals, s.healthy_signals)
                    self.fault_on = True
                    self.note("drill:flap", "fault is back during verification", who=OPERATOR)
                    flap_stage, flap_since = 2, now
                elif flap_stage == 2 and state == "ROLLED_BACK":
                    self.repair("second burst over; repaired")
                    flap_stage = 3
            elif s.repair == "verify" and state == "RECOVERY_VERIFY":
                self.repair("the fix shipped while failsafe verified recovery")
            if self.incident_seen and record is not None and record.incident_id is None and state == "NORMAL":
                self.phase = "back to NORMAL"
                self.observe()
                return True
            if self.incident_seen:
                self.phase = f"incident {state}"
            self.pause(stop)
        return False

    # -- afterwards -----------------------------------------------------------------------------------------
    def timeline(self) -> Timeline:
        timeline = Timeline(events=list(self.events))
        # CloudWatch's own history, through DescribeAlarmHistory (a new stack's backend: all of it is ours)
        timeline.extend(alarm_history(self.stack.client("cloudwatch"), self.prefix))
        sfn = self.stack.client("stepfunctions")
        for execution in sfn.list_executions(stateMachineArn=self.outputs["StateMachineArn"])["executions"]:
            for event in execution_events(sfn, execution["executionArn"]):
                timeline.add(
                    event.model_copy(update={"data": {**event.data, "incident_id": execution["name"]}})
                )
        timeline.extend(
            deployment_events(
                self.stack.client("appconfig"),
                self.outputs["AppConfigApplicationId"],
                self.outputs["AppConfigEnvironmentId"],
                None,
            )
        )
        audit = AuditLog(self.stack.client("dynamodb"), self.outputs["AuditTableName"])
        timeline.extend(audit_events(audit.entries()))
        if self.pager is not None:
            for page in self.pager.received():
                timeline.add(
                    TimelineEvent(
                        at=page.at,
                        source="notification",
                        kind=f"pagerduty:{page.action}",
                        title=f"PagerDuty {page.action} ({page.severity or '-'}): {page.summary[:120]}",
                        data={"dedup_key": page.dedup_key},
                    )
                )
            for rejected in self.pager.rejected:
                self.notes.append(f"PagerDuty rejected a page: {rejected}")
        if self.traffic is not None:
            for change in self.traffic.changes():
                timeline.add(
                    TimelineEvent(
                        at=change.at,
                        source="client",
                        kind="client:version",
                        title=f"recommender client applied config version {change.version} "
                        f"(was {change.previous})",
                        data={"version": change.version, "previous": change.previous},
                    )
                )
        return timeline

    def stat(self, metric: str, stat: str, start: datetime | None, stop: datetime | None) -> float | None:
        """One statistic of the recommender's metric over [start, stop), by the local CloudWatch's own
        aggregation (the code its alarms use: exact dimension sets, percentiles included; moto's
        GetMetricStatistics computes no percentiles and matches dimension supersets)."""
        if start is None or stop is None or stop <= start:
            return None
        points = self._series(metric, stat, [start.timestamp()], int(stop.timestamp() - start.timestamp()))
        return points[0].value if points else None

    def _series(self, metric: str, stat: str, starts: list[float], period: int) -> list[Any]:
        from moto.cloudwatch.models import cloudwatch_backends

        from failsafe_tools.local.alarms import MetricSpec, series

        spec = MetricSpec(
            namespace=contract.NAMESPACE,
            name=metric,
            dimensions=frozenset((d["Name"], d["Value"]) for d in EfficacyReader.dimensions(self.scope)),
            stat=stat,
            period=max(1, period),
        )
        backend = cloudwatch_backends[self.stack.account_id][self.stack.region]
        return series(backend, spec, starts)

    def metrics(self, m: Milestones, end: datetime) -> tuple[float | None, float | None, list[int]]:
        # While the mitigation is in force: from the clients' convergence on the stage that mitigated to the
        # restore (after which the pre-incident toggles serve again).
        after = self.stat(contract.FILL_RATE, "Average", m.mitigated, m.restore_started or m.normal or end)
        during = self.stat(contract.FILL_RATE, "Average", m.incident, m.normal or end)
        start = m.incident or m.fault
        stop = m.normal or end
        if start is None:
            return after, during, []
        # Answered requests per minute: Availability is 100 per answered request.
        first, last = int(start.timestamp() // 60), int(stop.timestamp() // 60)
        starts = [float(minute * 60) for minute in range(first, last + 1)]
        points = self._series(contract.AVAILABILITY, "Sum", starts, 60)
        counts = {int(p.start // 60): round((p.value or 0.0) / 100) for p in points}
        return after, during, requests_per_minute(counts, first, last)

    def efficacy(self, m: Milestones, end: datetime) -> dict[str, Efficacy]:
        """Seed 000's rollback efficacy: coverage, p95 latency, fill rate and requests before and after."""
        if m.deployed is None:
            return {}
        before_start = m.fault or (m.deployed - timedelta(minutes=10))

        def window(start: datetime, stop: datetime) -> Efficacy:
            return Efficacy(
                coverage=self.stat(contract.COVERAGE, "Average", start, stop),
                p95_latency_ms=self.stat(contract.LATENCY_MS, "p95", start, stop),
                fill_rate=self.stat(contract.FILL_RATE, "Average", start, stop),
                requests=self.stat(contract.REQUESTS, "Sum", start, stop),
            )

        return {
            "pre_rollback": window(before_start, m.deployed),
            "post_rollback": window(m.deployed, m.normal or end),
        }


def fresh_lambda_containers() -> None:
    """A new stack gets new Lambda containers: the in-process handlers cache one `Runtime` per process
    (table names, AppConfig ids from their environment), which must not outlive the stack it was built for."""
    from failsafe.handlers._common import reset_runtimes

    reset_runtimes()


def run_drill(
    options: DrillOptions,
    *,
    progress: Callable[[DrillProgress], None] | None = None,
    stop: threading.Event | None = None,
) -> DrillResult:
    from failsafe_tools.local.stack import LocalStack

    stop = stop or threading.Event()
    wall_start = time.monotonic()
    # A whole minute, so the fault lands at the same phase of CloudWatch's one-minute periods in every run.
    clock = SpeedClock(options.speed, start=math.floor(time.time() / 60.0) * 60.0)
    # The operator is an actor from the first instant: provisioning, the baseline and the traffic's start
    # take no simulated time, so the ticker's, the traffic's and the operator's schedules keep the same
    # phase whatever the host's speed (the hold is given up in the operator's sleeps, and in this thread's
    # own: a Lambda invoked during provisioning sleeps its modelled duration here).
    setup = contextlib.ExitStack()
    setup.enter_context(clock.working())
    pager = PagerDutySink(now=clock.now)
    pager.start()
    parameters = {**options.parameters, "PagerDutyBaseUrl": pager.url}
    if progress is not None:
        progress(
            DrillProgress(phase="starting the local stack", simulated=datetime.now(UTC), elapsed_simulated=0)
        )
    fresh_lambda_containers()
    try:
        stack = LocalStack.start(
            options.template, parameters, clock=clock, lambda_python=options.lambda_python
        )
    except BaseException:
        setup.close()
        pager.stop()
        raise
    drill = _Drill(options, stack, progress)
    drill.pager = pager
    interrupted = False
    try:
        with use_local_stack(stack), clock.working():
            setup.close()
            drill.phase = "deploying the normal toggles"
            drill.report_progress()
            drill.configure_pagerduty()
            drill.deploy_baseline()
            drill.start_traffic()
            try:
                returned = drill.run(stop)
            except KeyboardInterrupt:
                interrupted = True
                returned = False
            interrupted = interrupted or stop.is_set()
            return _finish(drill, options, returned=returned, interrupted=interrupted, wall_start=wall_start)
    finally:
        setup.close()
        if drill.traffic is not None:
            drill.traffic.stop()
        with contextlib.suppress(Exception):
            stack.stop()
        pager.stop()


def _finish(
    drill: _Drill, options: DrillOptions, *, returned: bool, interrupted: bool, wall_start: float
) -> DrillResult:
    """Stop the traffic, merge the timeline, score it and write the report."""
    end = drill.clock.now()
    if drill.traffic is not None:
        drill.traffic.stop()
        drill.notes.extend(drill.traffic.errors[:5])
    timeline = drill.timeline().dedupe()
    m = milestones(timeline, drill.prefix)
    fill_after, fill_during, per_minute = drill.metrics(m, end)
    checks = _scenario_checks(drill.scenario, m, returned, timeline)
    if drill.bad_release is not None:
        previous, bad = drill.bad_release
        reverted = any(e.kind == "audit:release:revert" for e in timeline.events)
        checks.append(
            Ratio(
                name="release reverted (level 3)",
                value=None,
                target=f"alias left {bad} for {previous}",
                met=reverted,
                note="" if reverted else f"no release:revert in the audit (alias now {drill.release_now()})",
            )
        )
    card = score(
        m,
        alarm_prefix=drill.prefix,
        fill_rate_after_mitigation=fill_after,
        fill_rate_during_incident=fill_during,
        requests_per_minute=per_minute,
        expect_alarm=bool(drill.scenario.expected_alarms),
        checks=checks,
    )
    record = drill.state.get(drill.scope.key)
    final_state = record.state if record else "NORMAL"
    incident_id = m.incident_id or drill.incident_seen
    wall = time.monotonic() - wall_start
    report = IncidentReport(
        incident_id=incident_id or f"drill-{drill.scenario.name}-no-incident",
        scope=drill.scope.key,
        final_state=final_state,
        source="drill",
        requested_by=OPERATOR,
        reason=f"failsafe drill {drill.scenario.name}: {drill.scenario.title}",
        started_at=m.fault,
        ended_at=m.normal or end,
        efficacy=drill.efficacy(m, end),
        timeline=timeline,
        scorecard=card.model_dump(mode="json"),
        drill={
            "scenario": drill.scenario.name,
            "title": drill.scenario.title,
            "speed": options.speed,
            "wall_seconds": round(wall, 1),
            "requests": drill.traffic.sent if drill.traffic else 0,
            "passed": card.passed and not interrupted,
            "answered_requests_per_minute": per_minute,
            "notes": drill.notes,
        },
        commands=[
            f"failsafe report {incident_id} --format html",
            "failsafe audit verify",
            f"failsafe status --scope {drill.scope.key}",
        ],
    )
    paths = write_report(report, options.report_dir)
    return DrillResult(
        scenario=drill.scenario.name,
        incident_id=incident_id,
        final_state=final_state,
        scorecard=card,
        report=report,
        report_paths=paths,
        wall_seconds=wall,
        requests=drill.traffic.sent if drill.traffic else 0,
        interrupted=interrupted,
        notes=drill.notes,
    )


def _scenario_checks(scenario: Scenario, m: Milestones, returned: bool, timeline: Timeline) -> list[Ratio]:
    from failsafe.domain.plans import DEFAULT_PLAN

    checks = [
        Ratio(
            name="back to NORMAL",
            value=None,
            target="NORMAL",
            met=returned,
            note="" if returned else "the scope did not return to NORMAL",
        )
    ]
    level = DEFAULT_PLAN.stage(m.final_stage).level if m.final_stage in DEFAULT_PLAN.stage_names else None
    checks.append(
        Ratio(
            name="level applied",
            value=None,
            target=" or ".join(level.value for level in scenario.expected_levels),
            met=level in scenario.expected_levels,
            note="" if level in scenario.expected_levels else f"ended at {m.final_stage or 'nothing'}",
        )
    )
    if scenario.expected_alarms:
        fired = (m.alarm_name or "").split("-", 3)[-1] if m.alarm_name else None
        names = {str(e.data.get("alarm", "")) for e in timeline.events if e.kind == "alarm:ALARM"}
        hit = any(any(n.endswith(rule) for n in names) for rule in scenario.expected_alarms)
        checks.append(
            Ratio(
                name="expected alarm fired",
                value=None,
                target=" or ".join(scenario.expected_alarms),
                met=hit,
                note="" if hit else f"first alarm was {fired or 'none'}",
            )
        )
    if scenario.flapping is not None:
        checks.append(
            Ratio(
                name="re-fire during verification",
                value=float(m.refires),
                target=">= 1",
                met=m.refires >= 1,
                note="" if m.refires >= 1 else "the fault never re-fired during verification",
            )
        )
        checks.append(
            Ratio(
                name="no ping-pong (restores)",
                value=float(m.restores),
                target="<= 1",
                met=m.restores <= 1,
                note="" if m.restores <= 1 else "the service was restored more than once",
            )
        )
    return checks


def write_report(report: IncidentReport, directory: Path) -> dict[str, Path]:
    folder = directory / report.incident_id
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fmt, name in (("json", "report.json"), ("md", "report.md"), ("html", "report.html")):
        path = folder / name
        path.write_text(render(report, fmt), encoding="utf-8")
        paths[fmt] = path
    return paths
