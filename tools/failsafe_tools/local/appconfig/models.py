"""The AppConfig backend moto lacks: environments, deployment strategies, deployments, the data plane.

`FailsafeAppConfigBackend` extends moto's own `AppConfigBackend` (applications, configuration
profiles and hosted versions stay moto's) and is what `install()` makes moto instantiate for the
"appconfig" service. Deployment progression is computed from `failsafe_tools.local.clock.get_clock()`:
lazily on every read, and eagerly by `tick()`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.appconfig.models import AppConfigBackend, Application, ConfigurationProfile
from moto.moto_api._internal import mock_random

from failsafe_tools.local.clock import get_clock

from .exceptions import (
    BadRequestException,
    ConflictException,
    DataBadRequestException,
    DataResourceNotFoundException,
    ResourceNotFoundException,
)
from .rollout import EXPONENTIAL, LINEAR, Step, rollout_steps, session_bucket
from .validators import run_validators

# Deployment states (DeploymentState enum) and environment states (EnvironmentState enum).
DEPLOYING = "DEPLOYING"
BAKING = "BAKING"
COMPLETE = "COMPLETE"
ROLLED_BACK = "ROLLED_BACK"
REVERTED = "REVERTED"
READY_FOR_DEPLOYMENT = "READY_FOR_DEPLOYMENT"
IN_PROGRESS = (DEPLOYING, BAKING)

MAX_MONITORS = 5
REVERT_WINDOW_SECONDS = 72 * 3600
TOKEN_TTL_SECONDS = 24 * 3600
DEFAULT_POLL_INTERVAL_SECONDS = 60
MIN_POLL_INTERVAL_SECONDS = 15
MAX_POLL_INTERVAL_SECONDS = 86400


def _iso(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


@dataclass
class Monitor:
    alarm_arn: str
    alarm_role_arn: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"AlarmArn": self.alarm_arn}
        if self.alarm_role_arn:
            out["AlarmRoleArn"] = self.alarm_role_arn
        return out


@dataclass
class Environment:
    application_id: str
    id: str
    name: str
    description: str | None
    monitors: list[Monitor]
    arn: str

    def to_dict(self, state: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ApplicationId": self.application_id,
            "Id": self.id,
            "Name": self.name,
            "State": state,
            "Monitors": [m.to_dict() for m in self.monitors],
        }
        if self.description is not None:
            out["Description"] = self.description
        return out


@dataclass
class DeploymentStrategy:
    id: str
    name: str
    description: str | None
    deployment_duration_in_minutes: int
    growth_type: str
    growth_factor: float
    final_bake_time_in_minutes: int
    replicate_to: str
    predefined: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Id": self.id,
            "Name": self.name,
            "DeploymentDurationInMinutes": self.deployment_duration_in_minutes,
            "GrowthType": self.growth_type,
            "GrowthFactor": self.growth_factor,
            "FinalBakeTimeInMinutes": self.final_bake_time_in_minutes,
            "ReplicateTo": self.replicate_to,
        }
        if self.description is not None:
            out["Description"] = self.description
        return out


# AWS's predefined strategies (AppConfig user guide, "Predefined deployment strategies").
PREDEFINED_STRATEGIES: tuple[DeploymentStrategy, ...] = (
    DeploymentStrategy(
        "AppConfig.AllAtOnce", "AppConfig.AllAtOnce", "Quick", 0, LINEAR, 100.0, 10, "NONE", True
    ),
    DeploymentStrategy(
        "AppConfig.Linear50PercentEvery30Seconds",
        "AppConfig.Linear50PercentEvery30Seconds",
        "Test/Demo",
        1,
        LINEAR,
        50.0,
        1,
        "NONE",
        True,
    ),
    DeploymentStrategy(
        "AppConfig.Canary10Percent20Minutes",
        "AppConfig.Canary10Percent20Minutes",
        "AWS Recommended",
        20,
        EXPONENTIAL,
        10.0,
        10,
        "NONE",
        True,
    ),
    DeploymentStrategy(
        "AppConfig.Linear20PercentEvery6Minutes",
        "AppConfig.Linear20PercentEvery6Minutes",
        "AWS Recommended",
        30,
        LINEAR,
        20.0,
        30,
        "NONE",
        True,
    ),
)


@dataclass
class DeploymentEvent:
    event_type: str
    triggered_by: str
    description: str
    occurred_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "EventType": self.event_type,
            "TriggeredBy": self.triggered_by,
            "Description": self.description,
            "ActionInvocations": [],
            "OccurredAt": _iso(self.occurred_at),
        }


@dataclass
class Deployment:
    application_id: str
    environment_id: str
    deployment_number: int
    strategy: DeploymentStrategy
    profile_id: str
    configuration_name: str
    location_uri: str
    configuration_version: str
    version_label: str | None
    content: bytes
    content_type: str | None
    description: str | None
    started_at: float
    state: str = DEPLOYING
    percentage_complete: float = 0.0
    completed_at: float | None = None
    events: list[DeploymentEvent] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    @property
    def deploy_end(self) -> float:
        return self.started_at + self.strategy.deployment_duration_in_minutes * 60.0

    @property
    def bake_end(self) -> float:
        return self.deploy_end + self.strategy.final_bake_time_in_minutes * 60.0

    def _event(self, event_type: str, triggered_by: str, description: str, at: float) -> None:
        self.events.append(DeploymentEvent(event_type, triggered_by, description, at))

    def advance(self, now: float, firing_alarm: str | None) -> bool:
        """Bring the deployment to `now`. Returns True when the state changed.

        Monitors are checked first: a monitor alarm in ALARM while the deployment is still DEPLOYING
        or BAKING rolls it back at `now` (the deployment can only complete at an observation where no
        monitor is in ALARM). Otherwise the timeline advances: percentage steps, bake, completion.
        """
        if self.state not in IN_PROGRESS:
            return False
        before = self.state
        if firing_alarm is not None:
            self.rollback(now, "CLOUDWATCH_ALARM", f"Rollback initiated by CloudWatch alarm {firing_alarm}")
            return True
        for step in self.steps:
            at = self.started_at + step.offset_seconds
            if at <= now and step.percentage > self.percentage_complete:
                self.percentage_complete = step.percentage
                self._event(
                    "PERCENTAGE_UPDATED",
                    "APPCONFIG",
                    f"Deployment percentage updated to {step.percentage:.2f}",
                    at,
                )
        if self.state == DEPLOYING and now >= self.deploy_end:
            self.percentage_complete = 100.0
            if self.strategy.final_bake_time_in_minutes > 0:
                self.state = BAKING
                self._event("BAKE_TIME_STARTED", "APPCONFIG", "Deployment bake time started", self.deploy_end)
        if self.state in IN_PROGRESS and now >= self.bake_end:
            self.percentage_complete = 100.0
            self.state = COMPLETE
            self.completed_at = self.bake_end
            self._event("DEPLOYMENT_COMPLETED", "APPCONFIG", "Deployment completed", self.bake_end)
        return self.state != before

    def rollback(self, now: float, triggered_by: str, description: str) -> None:
        self._event("ROLLBACK_STARTED", triggered_by, description, now)
        self.state = ROLLED_BACK
        self._event("ROLLBACK_COMPLETED", "APPCONFIG", "Rollback completed", now)

    def revert(self, now: float) -> None:
        self.state = REVERTED
        self._event("REVERT_COMPLETED", "USER", "Revert to the previous configuration completed", now)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ApplicationId": self.application_id,
            "EnvironmentId": self.environment_id,
            "DeploymentStrategyId": self.strategy.id,
            "ConfigurationProfileId": self.profile_id,
            "DeploymentNumber": self.deployment_number,
            "ConfigurationName": self.configuration_name,
            "ConfigurationLocationUri": self.location_uri,
            "ConfigurationVersion": self.configuration_version,
            "DeploymentDurationInMinutes": self.strategy.deployment_duration_in_minutes,
            "GrowthType": self.strategy.growth_type,
            "GrowthFactor": self.strategy.growth_factor,
            "FinalBakeTimeInMinutes": self.strategy.final_bake_time_in_minutes,
            "State": self.state,
            "EventLog": [e.to_dict() for e in reversed(self.events)],  # most recent first, as AWS
            "PercentageComplete": self.percentage_complete,
            "StartedAt": _iso(self.started_at),
            "AppliedExtensions": [],
        }
        if self.completed_at is not None:
            out["CompletedAt"] = _iso(self.completed_at)
        if self.description is not None:
            out["Description"] = self.description
        if self.version_label:
            out["VersionLabel"] = self.version_label
        return out

    def summary(self) -> dict[str, Any]:
        full = self.to_dict()
        keys = (
            "DeploymentNumber",
            "ConfigurationProfileId",
            "ConfigurationName",
            "ConfigurationVersion",
            "DeploymentDurationInMinutes",
            "GrowthType",
            "GrowthFactor",
            "FinalBakeTimeInMinutes",
            "State",
            "PercentageComplete",
            "StartedAt",
            "CompletedAt",
            "VersionLabel",
        )
        return {k: full[k] for k in keys if k in full}


@dataclass
class ConfigurationSession:
    id: str
    application_id: str
    environment_id: str
    profile_id: str
    poll_interval: int
    bucket: float
    last_seen: int | None = None  # deployment number whose content this session last received


@dataclass
class ServedConfiguration:
    deployment_number: int
    content: bytes
    content_type: str | None
    version_label: str | None
    configuration_version: str


@dataclass
class LatestConfiguration:
    configuration: bytes
    content_type: str | None
    version_label: str | None
    next_token: str
    next_poll_interval: int
    configuration_version: str | None = None  # the deployed version (the agent's Configuration-Version)


AlarmLookup = Callable[[str], str | None]


class FailsafeAppConfigBackend(AppConfigBackend):
    """moto's AppConfigBackend plus environments, strategies, deployments and AppConfig Data sessions."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self._init_failsafe_state()

    def _init_failsafe_state(self) -> None:
        self.lock = threading.RLock()
        self.environments: dict[str, dict[str, Environment]] = {}  # app id -> env id -> env
        self.strategies: dict[str, DeploymentStrategy] = {s.id: s for s in PREDEFINED_STRATEGIES}
        self.deployments: dict[tuple[str, str], list[Deployment]] = {}  # (app, env) -> by number
        self.sessions: dict[str, ConfigurationSession] = {}
        # token -> (session id, issued at, usable from): a NextPollConfigurationToken is usable once the poll
        # interval has passed (AWS answers BadRequestException, PollIntervalNotSatisfied, before that)
        self.tokens: dict[str, tuple[str, float, float]] = {}
        self.used_tokens: set[str] = set()
        self.session_counts: dict[tuple[str, str, str], int] = {}

    @property
    def _url_module(self) -> Any:
        """moto derives `urls` and `flask_paths` from this module: moto's AppConfig routes + ours."""
        from . import urls

        return urls

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _now() -> float:
        return get_clock().time()

    def _new_id(self) -> str:
        return str(mock_random.get_random_hex(7))

    def _arn(self, resource: str) -> str:
        return f"arn:{self.partition}:appconfig:{self.region_name}:{self.account_id}:{resource}"

    def _application(self, app_id: str) -> Application:
        app = self.applications.get(app_id)
        if app is None:
            raise ResourceNotFoundException(f"Application {app_id} not found", "Application")
        return app

    def _environment(self, app_id: str, env_id: str) -> Environment:
        self._application(app_id)
        env = self.environments.get(app_id, {}).get(env_id)
        if env is None:
            raise ResourceNotFoundException(
                f"Environment {env_id} not found in application {app_id}", "Environment"
            )
        return env

    def _profile(self, app: Application, profile_id: str) -> ConfigurationProfile:
        profile = app.config_profiles.get(profile_id)
        if profile is None:
            raise ResourceNotFoundException(
                f"Configuration profile {profile_id} not found in application {app.id}",
                "ConfigurationProfile",
            )
        return profile

    def _strategy(self, strategy_id: str) -> DeploymentStrategy:
        strategy = self.strategies.get(strategy_id)
        if strategy is None:
            raise ResourceNotFoundException(
                f"Deployment strategy {strategy_id} not found", "DeploymentStrategy"
            )
        return strategy

    def _firing_alarm(self, env: Environment) -> str | None:
        """The ARN of the first monitor alarm whose state is ALARM in moto's CloudWatch backend."""
        from moto.cloudwatch.models import cloudwatch_backends

        for monitor in env.monitors:
            parts = monitor.alarm_arn.split(":", 6)
            if len(parts) != 7 or parts[2] != "cloudwatch" or parts[5] != "alarm":
                continue
            region, account, name = parts[3], parts[4], parts[6]
            alarm = cloudwatch_backends[account][region].alarms.get(name)
            if alarm is not None and alarm.state_value == "ALARM":
                return monitor.alarm_arn
        return None

    def _advance_environment(self, app_id: str, env_id: str, now: float) -> list[Deployment]:
        changed: list[Deployment] = []
        env = self.environments.get(app_id, {}).get(env_id)
        if env is None:
            return changed
        for dep in self.deployments.get((app_id, env_id), []):
            if dep.state in IN_PROGRESS and dep.advance(now, self._firing_alarm(env)):
                changed.append(dep)
        return changed

    def tick(self) -> list[Deployment]:
        """Advance every in-progress deployment of this account/region to the clock's now."""
        now = self._now()
        changed: list[Deployment] = []
        with self.lock:
            for app_id, envs in list(self.environments.items()):
                for env_id in list(envs):
                    changed.extend(self._advance_environment(app_id, env_id, now))
        return changed

    def _environment_state(self, app_id: str, env_id: str) -> str:
        deployments = self.deployments.get((app_id, env_id), [])
        if not deployments:
            return READY_FOR_DEPLOYMENT
        latest = deployments[-1]
        if latest.state in IN_PROGRESS:
            return DEPLOYING
        if latest.state in (ROLLED_BACK, REVERTED):
            return latest.state
        return READY_FOR_DEPLOYMENT

    @staticmethod
    def _page(
        items: list[Any], max_results: int | None, next_token: str | None
    ) -> tuple[list[Any], str | None]:
        start = 0
        if next_token:
            try:
                start = int(next_token)
            except ValueError as exc:
                raise BadRequestException(f"Invalid NextToken {next_token!r}") from exc
        size = max_results or 50
        if not 1 <= size <= 50:
            raise BadRequestException(f"MaxResults {size}: must be between 1 and 50")
        page = items[start : start + size]
        more = start + size < len(items)
        return page, (str(start + size) if more else None)

    @staticmethod
    def _monitors(raw: list[dict[str, str]] | None) -> list[Monitor]:
        monitors = [Monitor(m["AlarmArn"], m.get("AlarmRoleArn")) for m in (raw or [])]
        if len(monitors) > MAX_MONITORS:
            raise BadRequestException(f"An environment supports at most {MAX_MONITORS} monitors")
        for m in monitors:
            if not m.alarm_arn.startswith("arn:") or ":cloudwatch:" not in m.alarm_arn:
                raise BadRequestException(f"AlarmArn {m.alarm_arn!r} is not a CloudWatch alarm ARN")
        return monitors

    # ---------------------------------------------------------------- environments

    def create_environment(
        self,
        application_id: str,
        name: str,
        description: str | None,
        monitors: list[dict[str, str]] | None,
        tags: dict[str, str] | None,
    ) -> dict[str, Any]:
        with self.lock:
            self._application(application_id)
            if not name:
                raise BadRequestException("Name is required")
            env_id = self._new_id()
            env = Environment(
                application_id=application_id,
                id=env_id,
                name=name,
                description=description,
                monitors=self._monitors(monitors),
                arn=self._arn(f"application/{application_id}/environment/{env_id}"),
            )
            self.environments.setdefault(application_id, {})[env_id] = env
            self.tag_resource(env.arn, tags or {})
            return env.to_dict(READY_FOR_DEPLOYMENT)

    def get_environment(self, application_id: str, environment_id: str) -> dict[str, Any]:
        with self.lock:
            env = self._environment(application_id, environment_id)
            self._advance_environment(application_id, environment_id, self._now())
            return env.to_dict(self._environment_state(application_id, environment_id))

    def list_environments(
        self, application_id: str, max_results: int | None, next_token: str | None
    ) -> dict[str, Any]:
        with self.lock:
            self._application(application_id)
            now = self._now()
            envs = list(self.environments.get(application_id, {}).values())
            for env in envs:
                self._advance_environment(application_id, env.id, now)
            page, token = self._page(envs, max_results, next_token)
            out: dict[str, Any] = {
                "Items": [e.to_dict(self._environment_state(application_id, e.id)) for e in page]
            }
            if token:
                out["NextToken"] = token
            return out

    def update_environment(
        self,
        application_id: str,
        environment_id: str,
        name: str | None,
        description: str | None,
        monitors: list[dict[str, str]] | None,
    ) -> dict[str, Any]:
        with self.lock:
            env = self._environment(application_id, environment_id)
            if name is not None:
                env.name = name
            if description is not None:
                env.description = description
            if monitors is not None:
                env.monitors = self._monitors(monitors)
            return self.get_environment(application_id, environment_id)

    def delete_environment(self, application_id: str, environment_id: str) -> None:
        with self.lock:
            self._environment(application_id, environment_id)
            self._advance_environment(application_id, environment_id, self._now())
            if self._environment_state(application_id, environment_id) == DEPLOYING:
                raise BadRequestException(
                    f"Environment {environment_id} has a deployment in progress; stop it before deleting"
                )
            del self.environments[application_id][environment_id]
            self.deployments.pop((application_id, environment_id), None)

    # ---------------------------------------------------------------- deployment strategies

    @staticmethod
    def _check_strategy_numbers(duration: int, bake: int, growth_factor: float, growth_type: str) -> None:
        if not 0 <= duration <= 1440:
            raise BadRequestException(f"DeploymentDurationInMinutes {duration}: must be between 0 and 1440")
        if not 0 <= bake <= 1440:
            raise BadRequestException(f"FinalBakeTimeInMinutes {bake}: must be between 0 and 1440")
        if not 1.0 <= growth_factor <= 100.0:
            raise BadRequestException(f"GrowthFactor {growth_factor}: must be between 1.0 and 100.0")
        if growth_type not in (LINEAR, EXPONENTIAL):
            raise BadRequestException(f"GrowthType {growth_type!r}: must be LINEAR or EXPONENTIAL")

    def create_deployment_strategy(
        self,
        *,
        name: str,
        description: str | None,
        deployment_duration_in_minutes: int,
        final_bake_time_in_minutes: int | None,
        growth_factor: float,
        growth_type: str | None,
        replicate_to: str | None,
        tags: dict[str, str] | None,
    ) -> dict[str, Any]:
        growth_type = growth_type or LINEAR
        bake = final_bake_time_in_minutes or 0
        self._check_strategy_numbers(deployment_duration_in_minutes, bake, growth_factor, growth_type)
        if replicate_to not in (None, "NONE", "SSM_DOCUMENT"):
            raise BadRequestException(f"ReplicateTo {replicate_to!r}: must be NONE or SSM_DOCUMENT")
        with self.lock:
            strategy = DeploymentStrategy(
                id=self._new_id(),
                name=name,
                description=description,
                deployment_duration_in_minutes=deployment_duration_in_minutes,
                growth_type=growth_type,
                growth_factor=float(growth_factor),
                final_bake_time_in_minutes=bake,
                replicate_to=replicate_to or "NONE",
            )
            self.strategies[strategy.id] = strategy
            self.tag_resource(self._arn(f"deploymentstrategy/{strategy.id}"), tags or {})
            return strategy.to_dict()

    def get_deployment_strategy(self, strategy_id: str) -> dict[str, Any]:
        with self.lock:
            return self._strategy(strategy_id).to_dict()

    def list_deployment_strategies(self, max_results: int | None, next_token: str | None) -> dict[str, Any]:
        with self.lock:
            page, token = self._page(list(self.strategies.values()), max_results, next_token)
            out: dict[str, Any] = {"Items": [s.to_dict() for s in page]}
            if token:
                out["NextToken"] = token
            return out

    def update_deployment_strategy(
        self,
        *,
        strategy_id: str,
        description: str | None,
        deployment_duration_in_minutes: int | None,
        final_bake_time_in_minutes: int | None,
        growth_factor: float | None,
        growth_type: str | None,
    ) -> dict[str, Any]:
        with self.lock:
            strategy = self._strategy(strategy_id)
            if strategy.predefined:
                raise BadRequestException(f"Predefined deployment strategy {strategy_id} cannot be updated")
            duration = (
                strategy.deployment_duration_in_minutes
                if deployment_duration_in_minutes is None
                else deployment_duration_in_minutes
            )
            bake = (
                strategy.final_bake_time_in_minutes
                if final_bake_time_in_minutes is None
                else final_bake_time_in_minutes
            )
            factor = strategy.growth_factor if growth_factor is None else float(growth_factor)
            gtype = growth_type or strategy.growth_type
            self._check_strategy_numbers(duration, bake, factor, gtype)
            strategy.deployment_duration_in_minutes = duration
            strategy.final_bake_time_in_minutes = bake
            strategy.growth_factor = factor
            strategy.growth_type = gtype
            if description is not None:
                strategy.description = description
            return strategy.to_dict()

    def delete_deployment_strategy(self, strategy_id: str) -> None:
        with self.lock:
            strategy = self._strategy(strategy_id)
            if strategy.predefined:
                raise BadRequestException(f"Predefined deployment strategy {strategy_id} cannot be deleted")
            del self.strategies[strategy_id]

    # ---------------------------------------------------------------- deployments

    def _hosted_content(
        self, app: Application, profile: ConfigurationProfile, version: str
    ) -> tuple[bytes, str | None, str | None]:
        if profile.location_uri != "hosted":
            raise BadRequestException(
                f"Configuration profile {profile.id} has LocationUri {profile.location_uri!r}; the local "
                "AppConfig deploys hosted configurations only"
            )
        number = self._hosted_number(profile, version)
        hosted = profile.config_versions.get(number)
        if hosted is None:
            raise ResourceNotFoundException(
                f"Hosted configuration version {version} not found for configuration profile {profile.id}",
                "HostedConfigurationVersion",
            )
        content = hosted.content
        raw = content.encode("utf-8") if isinstance(content, str) else bytes(content or b"")
        return raw, hosted.content_type, hosted.version_label

    @staticmethod
    def _hosted_number(profile: ConfigurationProfile, version: str) -> int:
        """A hosted version is named by its number or, as on AWS, by its VersionLabel (the newest version
        carrying that label)."""
        if version.isdigit():
            return int(version)
        labelled = [n for n, hosted in profile.config_versions.items() if hosted.version_label == version]
        if not labelled:
            raise ResourceNotFoundException(
                f"Hosted configuration version {version!r} not found for configuration profile {profile.id}: "
                "no version has this number or VersionLabel",
                "HostedConfigurationVersion",
            )
        return max(labelled)

    def create_hosted_version(
        self,
        *,
        application_id: str,
        profile_id: str,
        content: Any,
        content_type: str | None,
        description: str | None,
        version_label: str | None,
        latest_version_number: int | None,
    ) -> Any:
        """CreateHostedConfigurationVersion with AWS's optimistic lock: `latest_version_number`, when given,
        must be the profile's latest version number (0 when it has none), else ConflictException."""
        with self.lock:
            profile = self._profile(self._application(application_id), profile_id)
            latest = max(profile.config_versions, default=0)
            if latest_version_number is not None and latest_version_number != latest:
                raise ConflictException(
                    f"LatestVersionNumber {latest_version_number} does not match the latest hosted "
                    f"configuration version {latest} of configuration profile {profile_id}; read the "
                    "latest version and retry"
                )
            if version_label is not None and (version_label.isdigit() or not version_label):
                raise BadRequestException(
                    f"VersionLabel {version_label!r} must contain at least one non-numeric character"
                )
            return profile.create_version(
                app_id=application_id,
                config_id=profile_id,
                description=description,  # type: ignore[arg-type]
                content=content,
                content_type=content_type,  # type: ignore[arg-type]
                version_label=version_label,  # type: ignore[arg-type]
            )

    def validate_configuration(self, application_id: str, profile_id: str, version: str) -> None:
        app = self._application(application_id)
        profile = self._profile(app, profile_id)
        content, _, _ = self._hosted_content(app, profile, version)
        run_validators(
            validators=profile.validators or [],
            content=content,
            application_id=application_id,
            profile_id=profile_id,
            version=version,
            account_id=self.account_id,
            region=self.region_name,
        )

    def start_deployment(
        self,
        *,
        application_id: str,
        environment_id: str,
        deployment_strategy_id: str,
        configuration_profile_id: str,
        configuration_version: str,
        description: str | None,
        tags: dict[str, str] | None,
        latest_deployment_number: int | None,
    ) -> dict[str, Any]:
        with self.lock:
            app = self._application(application_id)
            env = self._environment(application_id, environment_id)
            profile = self._profile(app, configuration_profile_id)
            strategy = self._strategy(deployment_strategy_id)
            now = self._now()
            self._advance_environment(application_id, environment_id, now)
            history = self.deployments.setdefault((application_id, environment_id), [])
            for dep in history:
                if dep.state in IN_PROGRESS:
                    raise ConflictException(
                        f"Deployment number {dep.deployment_number} is in progress ({dep.state}) in "
                        f"environment {environment_id}; only one deployment at a time is allowed "
                        "per environment"
                    )
            latest = history[-1].deployment_number if history else 0
            if latest_deployment_number is not None and latest_deployment_number != latest:
                raise ConflictException(
                    f"LatestDeploymentNumber {latest_deployment_number} does not match the latest deployment "
                    f"number {latest} of environment {environment_id}"
                )
            content, content_type, version_label = self._hosted_content(app, profile, configuration_version)
            # a label names its version: the deployment reports the number (and the label in VersionLabel)
            configuration_version = str(self._hosted_number(profile, configuration_version))
            run_validators(
                validators=profile.validators or [],
                content=content,
                application_id=application_id,
                profile_id=profile.id,
                version=configuration_version,
                account_id=self.account_id,
                region=self.region_name,
            )
            snapshot = dataclasses.replace(strategy)
            dep = Deployment(
                application_id=application_id,
                environment_id=environment_id,
                deployment_number=latest + 1,
                strategy=snapshot,
                profile_id=profile.id,
                configuration_name=profile.name,
                location_uri=profile.location_uri,
                configuration_version=configuration_version,
                version_label=version_label,
                content=content,
                content_type=content_type,
                description=description,
                started_at=now,
                steps=rollout_steps(
                    snapshot.growth_type, snapshot.growth_factor, snapshot.deployment_duration_in_minutes
                ),
            )
            dep.events.append(DeploymentEvent("DEPLOYMENT_STARTED", "USER", "Deployment started", now))
            history.append(dep)
            self.tag_resource(
                self._arn(
                    f"application/{application_id}/environment/{environment_id}/deployment/{dep.deployment_number}"
                ),
                tags or {},
            )
            dep.advance(now, self._firing_alarm(env))
            return dep.to_dict()

    def _deployment(self, application_id: str, environment_id: str, number: int) -> Deployment:
        self._environment(application_id, environment_id)
        for dep in self.deployments.get((application_id, environment_id), []):
            if dep.deployment_number == number:
                return dep
        raise ResourceNotFoundException(
            f"Deployment {number} not found in environment {environment_id}", "Deployment"
        )

    def get_deployment(self, application_id: str, environment_id: str, number: int) -> dict[str, Any]:
        with self.lock:
            dep = self._deployment(application_id, environment_id, number)
            self._advance_environment(application_id, environment_id, self._now())
            return dep.to_dict()

    def list_deployments(
        self, application_id: str, environment_id: str, max_results: int | None, next_token: str | None
    ) -> dict[str, Any]:
        with self.lock:
            self._environment(application_id, environment_id)
            self._advance_environment(application_id, environment_id, self._now())
            newest_first = list(reversed(self.deployments.get((application_id, environment_id), [])))
            page, token = self._page(newest_first, max_results, next_token)
            out: dict[str, Any] = {"Items": [d.summary() for d in page]}
            if token:
                out["NextToken"] = token
            return out

    def stop_deployment(
        self, application_id: str, environment_id: str, number: int, allow_revert: bool
    ) -> dict[str, Any]:
        """DEPLOYING/BAKING -> ROLLED_BACK; COMPLETE with AllowRevert (within 72 h) -> REVERTED."""
        with self.lock:
            dep = self._deployment(application_id, environment_id, number)
            now = self._now()
            self._advance_environment(application_id, environment_id, now)
            if dep.state in IN_PROGRESS:
                dep.rollback(now, "USER", "Rollback initiated by user")
                return dep.to_dict()
            if dep.state == COMPLETE and allow_revert:
                assert dep.completed_at is not None
                if now - dep.completed_at > REVERT_WINDOW_SECONDS:
                    raise BadRequestException(
                        f"Deployment {number} completed more than 72 hours ago and can no longer be reverted"
                    )
                history = self.deployments[(application_id, environment_id)]
                if history[-1] is not dep:
                    raise BadRequestException(
                        f"Deployment {number} is not the latest deployment of environment {environment_id}; "
                        "only the latest deployment can be reverted"
                    )
                dep.revert(now)
                return dep.to_dict()
            raise BadRequestException(
                f"Deployment {number} is {dep.state}; only a deployment in progress can be stopped "
                "(or a COMPLETE one reverted with AllowRevert)"
            )

    # ---------------------------------------------------------------- AppConfig Data

    def _resolve(self, app_ident: str, env_ident: str, profile_ident: str) -> tuple[str, str, str]:
        referenced = {
            "ApplicationIdentifier": app_ident,
            "EnvironmentIdentifier": env_ident,
            "ConfigurationProfileIdentifier": profile_ident,
        }
        app = self.applications.get(app_ident) or next(
            (a for a in self.applications.values() if a.name == app_ident), None
        )
        if app is None:
            raise DataResourceNotFoundException(
                f"Application {app_ident} not found", "Application", {"ApplicationIdentifier": app_ident}
            )
        envs = self.environments.get(app.id, {})
        env = envs.get(env_ident) or next((e for e in envs.values() if e.name == env_ident), None)
        if env is None:
            raise DataResourceNotFoundException(
                f"Environment {env_ident} not found in application {app_ident}", "Environment", referenced
            )
        profile = app.config_profiles.get(profile_ident) or next(
            (p for p in app.config_profiles.values() if p.name == profile_ident), None
        )
        if profile is None:
            raise DataResourceNotFoundException(
                f"Configuration profile {profile_ident} not found in application {app_ident}",
                "ConfigurationProfile",
                referenced,
            )
        return app.id, env.id, profile.id

    def _issue_token(self, session_id: str, wait: float = 0.0) -> str:
        token = base64.urlsafe_b64encode(
            hashlib.sha256(f"{session_id}:{mock_random.uuid4()}".encode()).digest() + session_id.encode()
        ).decode()
        now = self._now()
        self.tokens[token] = (session_id, now, now + wait)
        return token

    def start_configuration_session(
        self,
        application_identifier: str,
        environment_identifier: str,
        configuration_profile_identifier: str,
        required_minimum_poll_interval: int | None,
    ) -> str:
        with self.lock:
            app_id, env_id, profile_id = self._resolve(
                application_identifier, environment_identifier, configuration_profile_identifier
            )
            poll = DEFAULT_POLL_INTERVAL_SECONDS
            if required_minimum_poll_interval is not None:
                if (
                    not MIN_POLL_INTERVAL_SECONDS
                    <= required_minimum_poll_interval
                    <= MAX_POLL_INTERVAL_SECONDS
                ):
                    raise DataBadRequestException(
                        f"RequiredMinimumPollIntervalInSeconds {required_minimum_poll_interval}: must be "
                        f"between {MIN_POLL_INTERVAL_SECONDS} and {MAX_POLL_INTERVAL_SECONDS}"
                    )
                poll = required_minimum_poll_interval
            key = (app_id, env_id, profile_id)
            ordinal = self.session_counts.get(key, 0)
            self.session_counts[key] = ordinal + 1
            session = ConfigurationSession(
                id=str(mock_random.uuid4()),
                application_id=app_id,
                environment_id=env_id,
                profile_id=profile_id,
                poll_interval=poll,
                bucket=session_bucket(ordinal),
            )
            self.sessions[session.id] = session
            return self._issue_token(session.id)

    def served_configuration(
        self, application_id: str, environment_id: str, profile_id: str, bucket: float
    ) -> ServedConfiguration | None:
        """What a client in `bucket` receives now (see rollout.session_bucket for the rule)."""
        self._advance_environment(application_id, environment_id, self._now())
        current: Deployment | None = None
        for dep in self.deployments.get((application_id, environment_id), []):
            if dep.profile_id != profile_id:
                continue
            rolled_out = dep.state in (COMPLETE, BAKING)
            if rolled_out or (dep.state == DEPLOYING and bucket < dep.percentage_complete):
                current = dep
        if current is None:
            return None
        return ServedConfiguration(
            deployment_number=current.deployment_number,
            content=current.content,
            content_type=current.content_type,
            version_label=current.version_label,
            configuration_version=current.configuration_version,
        )

    def get_latest_configuration(self, token: str) -> LatestConfiguration:
        with self.lock:
            if token in self.used_tokens:
                raise DataBadRequestException(
                    "The configuration token has already been used; use the NextPollConfigurationToken "
                    "of the previous response",
                    "ConfigurationToken",
                    "Expired",
                )
            entry = self.tokens.get(token)
            if entry is None:
                raise DataBadRequestException(
                    "The configuration token is invalid", "ConfigurationToken", "Corrupted"
                )
            session_id, issued_at, usable_from = entry
            now = self._now()
            if now < usable_from:
                # the token stays valid: the client retries it once the interval has passed
                raise DataBadRequestException(
                    f"Request too early: poll again after {usable_from - now:.0f} s "
                    f"(NextPollIntervalInSeconds is {self.sessions[session_id].poll_interval})",
                    "ConfigurationToken",
                    "PollIntervalNotSatisfied",
                )
            del self.tokens[token]
            self.used_tokens.add(token)
            if now - issued_at > TOKEN_TTL_SECONDS:
                raise DataBadRequestException(
                    "The configuration token has expired (tokens are valid for 24 hours)",
                    "ConfigurationToken",
                    "Expired",
                )
            session = self.sessions[session_id]
            served = self.served_configuration(
                session.application_id, session.environment_id, session.profile_id, session.bucket
            )
            next_token = self._issue_token(session.id, wait=session.poll_interval)
            if served is None or served.deployment_number == session.last_seen:
                return LatestConfiguration(b"", None, None, next_token, session.poll_interval)
            session.last_seen = served.deployment_number
            return LatestConfiguration(
                served.content,
                served.content_type,
                served.version_label,
                next_token,
                session.poll_interval,
                served.configuration_version,
            )


def iter_backends() -> Iterator[FailsafeAppConfigBackend]:
    """Every AppConfig backend moto has instantiated (all accounts and regions)."""
    from moto.appconfig.models import appconfig_backends

    for _account, _region, backend in appconfig_backends.iter_backends():
        if isinstance(backend, FailsafeAppConfigBackend):
            yield backend


def tick() -> list[Deployment]:
    """Advance every in-progress deployment in every account/region to `get_clock().time()`.

    Returns the deployments whose state changed (rolled back by a monitor, started baking, completed).
    """
    changed: list[Deployment] = []
    for backend in list(iter_backends()):
        changed.extend(backend.tick())
    return changed
