"""A drill's orchestration: set the stage, drive the scenario, act as the operators.

`DrillSession` deploys the pre-incident toggles, starts the reference-recommender traffic, waits through a
healthy warm-up, injects the scenario's fault (or runs the operator's manual level), arms its AWS-side
faults (`failsafe_tools.local.faults`) and PagerDuty outage, approves what waits for a second operator,
sends a second operator's request when the scenario has one, repairs the fault while failsafe verifies
recovery, and waits until every scope it touched is NORMAL again. It notes what it did as drill events of
the timeline; what the stack recorded is read afterwards by `failsafe_tools.drill.measurement`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from failsafe.aws.state_store import StateStore
from failsafe.client import AgentHttpSource, ToggleClient
from failsafe.domain.baselines import BASELINES, BaselineName
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.plans import Level
from failsafe.domain.records import ScopeRecord
from failsafe.domain.scope import Scope
from failsafe.domain.toggles import Metadata, ToggleDocument
from failsafe.recommender.dataset import get_catalog
from failsafe.recommender.settings import RecommenderSettings
from failsafe.recommender.traffic import TrafficGenerator, catalog_users
from failsafe.reporting.timeline import TimelineEvent
from failsafe_tools.drill.options import (
    APPROVER,
    OPERATOR,
    RELEASE_ALIAS,
    DrillError,
    DrillOptions,
    DrillProgress,
)
from failsafe_tools.drill.pagerduty import ROUTING_KEY, PagerDutySink
from failsafe_tools.evidence.parquet import ParquetEventSink
from failsafe_tools.local import faults
from failsafe_tools.target import FunctionFailed, Target, from_local_stack

SETTLE_SECONDS = 600.0
"""How long a fault drill lets executions end after NORMAL (simulated): the report step takes seconds."""


class DrillSession:
    def __init__(
        self,
        options: DrillOptions,
        stack: Any,
        progress: Callable[[DrillProgress], None] | None,
        *,
        pager: PagerDutySink | None = None,
    ) -> None:
        self.options = options
        self.scenario = options.scenario
        self.stack = stack
        self.clock = stack.clock
        self.target: Target = from_local_stack(stack)
        self.outputs = stack.outputs
        self.scope = Scope(service=self.outputs["ServiceName"], environment=self.outputs["EnvironmentName"])
        self.prefix = self.outputs["AlarmNamePrefix"]
        self.state = StateStore(stack.client("dynamodb"), self.outputs["StateTableName"], DEFAULT_PLAN)
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
        self.pager = pager
        self.bad_release: tuple[str, str] | None = None
        self.injector = faults.get_injector()
        self.fault_rules: list[int] = []
        self.armed: set[str] = set()
        second = self.scenario.second_request
        self.second_scope: str | None = (
            None
            if second is None
            else "/".join(part for part in (self.scope.key, second.scope_suffix) if part)
        )
        self.second_incident: str | None = None
        # where this stack's share of the process-wide alarm history and alarm action log begins
        self.action_log_start = 0

    # -- events ---------------------------------------------------------------------------------------------
    def note(
        self, kind: str, title: str, who: str | None = None, at: datetime | None = None, **data: Any
    ) -> None:
        """A drill event of the timeline, at `at` (default: now)."""
        self.events.append(
            TimelineEvent(
                at=at or self.clock.now(), source="drill", kind=kind, title=title, who=who, data=data
            )
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
        from failsafe_tools.local import emf_logs as local_emf

        account, region = self.stack.account_id, self.stack.region

        def publish(document: dict[str, Any]) -> None:
            local_emf.put_emf_metrics(local_emf.parse_emf_document(document), account, region)

        users = catalog_users(get_catalog(), 400)
        self.traffic = TrafficGenerator(
            client=self.client,
            publish=publish,
            clock_time=self.clock.time,
            service=self.scope.service,
            environment=self.scope.environment,
            users=users,
            rate=self.options.rate,
            refresh_seconds=self.options.refresh_seconds,
            # as the recommender Lambda starts: cache prewarmed with its default number of users
            prewarm_users=RecommenderSettings.from_env().prewarm_users,
            hold=getattr(self.clock, "working", nullcontext),
            event_sink=ParquetEventSink(self.options.events_dir) if self.options.events_dir else None,
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

    def wait(self, simulated_seconds: float, stop: threading.Event) -> None:
        until = self.clock.time() + simulated_seconds
        while self.clock.time() < until and not stop.is_set():
            self.observe()
            time.sleep(0.2)

    def inject(self) -> None:
        assert self.traffic is not None
        s = self.scenario
        if s.manual_level is not None:
            if s.manual_level is Level.THREE:
                self.ship_bad_release()
            self.phase = f"operator runs level {s.manual_level.value}"
            asked = self.clock.now()
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
            # noted at the instant the operator asked, with the incident the request opened or joined
            self.note(
                "drill:manual",
                f"{OPERATOR} runs level {s.manual_level.value} on {self.scope.key}",
                who=OPERATOR,
                at=asked,
                scope=self.scope.key,
                level=s.manual_level.value,
                incident_id=self.incident_seen,
            )
            return
        self.phase = "fault injected"
        self.traffic.inject(s.chaos, s.affected_policies, s.signals, s.healthy_signals)
        self.fault_on = True
        self.note("drill:fault", f"fault injected: {s.title}", who=OPERATOR, scenario=s.name)
        if s.pagerduty != "up" and self.pager is not None:
            self.pager.set_mode(s.pagerduty)
            self.note(
                "drill:pagerduty", f"PagerDuty is down ({s.pagerduty}) until the drill ends", who=OPERATOR
            )
        self.arm("fault")

    def arm(self, when: str) -> None:
        """Activate the scenario's AWS-side faults armed `when` ("fault" or "incident"), once."""
        if when in self.armed:
            return
        self.armed.add(when)
        for aws in self.scenario.aws_faults:
            if aws.arm != when:
                continue
            f = aws.fault
            rule = self.injector.add(f)
            self.fault_rules.append(rule)
            span = " and ".join(
                text
                for text in (
                    f"the next {f.count} calls" if f.count else "",
                    f"{f.window_seconds:g} simulated s" if f.window_seconds else "",
                )
                if text
            )
            self.note(
                "drill:aws-fault",
                f"AWS fault armed: {f.service} {f.operation} answers {f.status} {f.code} for {span}",
                who=OPERATOR,
                rule=rule,
                service=f.service,
                operation=f.operation,
                code=f.code,
            )

    def send_second_request(self, record: ScopeRecord | None) -> None:
        """The scenario's second operator request, once its moment has come."""
        second = self.scenario.second_request
        if second is None or self.second_scope is None or self.second_incident is not None or record is None:
            return
        if second.when == "rolled_back" and record.state != "ROLLED_BACK":
            return
        if second.when == "restoring" and not (record.has_open_incident and record.lifecycle.restoring):
            return
        asked = self.clock.now()
        title = (
            f"{OPERATOR} runs level {second.level.value} on {self.second_scope} (first incident "
            f"{record.incident_id}: {'restoring' if second.when == 'restoring' else record.state})"
        )
        try:
            result = self.target.invoke(
                "ManualRollbackFunctionName",
                {
                    "action": "rollback",
                    "level": second.level.value,
                    "scope": self.second_scope,
                    "reason": f"failsafe drill {self.scenario.name}: second operator",
                    "requested_by": OPERATOR,
                    "auto_restore": second.auto_restore,
                },
            )
        except FunctionFailed as exc:
            self.notes.append(f"the second operator's request failed: {exc.message}")
            self.second_incident = ""
            return
        self.second_incident = str(result.get("incident_id") or "")
        self.note(
            "drill:second-request",
            title,
            who=OPERATOR,
            at=asked,
            scope=self.second_scope,
            level=second.level.value,
            incident_id=self.second_incident,
        )

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

    def running_executions(self) -> list[str]:
        sfn = self.stack.client("stepfunctions")
        page = sfn.list_executions(stateMachineArn=self.outputs["StateMachineArn"], statusFilter="RUNNING")
        return [e["name"] for e in page["executions"]]

    def settle(self, stop: threading.Event, limit_seconds: float = SETTLE_SECONDS) -> None:
        """After NORMAL, let the executions finish their last steps (the incident report), for at most
        `limit_seconds` of simulated time; one still RUNNING after that is stuck (the scorecard says so)."""
        self.phase = "waiting for the executions to end"
        until = self.clock.time() + limit_seconds
        while self.clock.time() < until and not stop.is_set() and self.running_executions():
            self.observe()
            time.sleep(0.2)

    def second_done(self) -> bool:
        """No second request in this scenario, or it was sent and its scope is closed again."""
        if self.scenario.second_request is None or self.second_scope is None:
            return True
        if self.second_incident is None:
            return False
        if self.second_scope == self.scope.key:
            return True
        record = self.state.get(self.second_scope)
        return record is None or (record.incident_id is None and record.state == "NORMAL")

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
                if record.execution_arn:
                    self.arm("incident")
            self.send_second_request(record)
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
            if (
                self.incident_seen
                and record is not None
                and record.incident_id is None
                and state == "NORMAL"
                and self.second_done()
            ):
                self.phase = "back to NORMAL"
                self.observe()
                return True
            if (
                self.incident_seen
                and record is not None
                and record.incident_id is None
                and self.scenario.second_request is not None
                and self.second_incident is None
            ):
                self.notes.append(
                    f"the first incident closed before the second request's moment "
                    f"({self.scenario.second_request.when}) came"
                )
                return False
            if self.incident_seen:
                self.phase = f"incident {state}"
            time.sleep(0.2)
        return False


def fresh_lambda_containers() -> None:
    """A new stack gets new Lambda containers: the in-process handlers cache one `Runtime` per process
    (table names, AppConfig ids from their environment), which must not outlive the stack it was built for."""
    from failsafe.controller.runtime import cold_start

    cold_start()
