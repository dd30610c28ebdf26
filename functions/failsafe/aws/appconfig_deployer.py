"""Deploy toggle documents through AWS AppConfig: hosted versions, deployments, waiting and rollbacks.

The controller never writes toggles anywhere else. A rollback creates a new hosted version (the current
document plus a stage overlay) and deploys it with the immediate strategy; a restore deploys the
pre-incident version again with the gradual strategy, monitored by the guardrail alarms on the environment.

Waiting uses a clock (`time()` + `sleep()`), by default `failsafe.clock.get_clock()`, which in AWS
runs at real time and on the local stack is the drill's clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from failsafe.clock import get_clock
from failsafe.reporting.timeline import TimelineEvent, deployment_events

if TYPE_CHECKING:
    from mypy_boto3_appconfig import AppConfigClient

DeploymentStateValue = Literal[
    "BAKING", "VALIDATING", "DEPLOYING", "COMPLETE", "ROLLING_BACK", "ROLLED_BACK", "REVERTED"
]
FAILED_STATES = frozenset({"ROLLED_BACK", "REVERTED"})
FINISHED_STATES = FAILED_STATES | {"COMPLETE"}


class Clock(Protocol):
    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class AppConfigTarget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    application_id: str
    environment_id: str
    profile_id: str
    immediate_strategy_id: str
    gradual_strategy_id: str


class DeploymentStatus(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    deployment_number: int
    state: str
    config_version: int
    strategy_id: str
    percentage_complete: float = 0.0
    last_event: str = ""

    @property
    def complete(self) -> bool:
        return self.state == "COMPLETE"

    @property
    def rolled_back(self) -> bool:
        return self.state in FAILED_STATES


class DeploymentError(Exception):
    pass


class DeploymentConflictError(DeploymentError):
    """Another deployment to the environment is in progress (AppConfig ConflictException)."""


class DeploymentRolledBackError(DeploymentError):
    def __init__(self, status: DeploymentStatus) -> None:
        self.status = status
        super().__init__(
            f"deployment {status.deployment_number} of config version {status.config_version} ended "
            f"{status.state}: {status.last_event or 'rolled back by AppConfig (a monitor alarm fired?)'}"
        )


class DeploymentTimeoutError(DeploymentError):
    pass


class ConfigValidationError(DeploymentError):
    """AppConfig's validators rejected the document (BadRequestException on create)."""


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return code if isinstance(code, str) else None
    return None


class AppConfigDeployer:
    def __init__(self, client: AppConfigClient, target: AppConfigTarget, clock: Clock | None = None) -> None:
        self._client = client
        self.target = target
        self._clock: Clock = clock or get_clock()

    # -- versions -------------------------------------------------------------------------------------

    def latest_complete_version(self) -> int | None:
        """The configuration version most recently deployed to COMPLETE in the environment, if any."""
        deployments = self._client.list_deployments(
            ApplicationId=self.target.application_id, EnvironmentId=self.target.environment_id
        ).get("Items", [])
        for item in sorted(deployments, key=lambda d: d.get("DeploymentNumber", 0), reverse=True):
            if item.get("State") == "COMPLETE":
                status = self.status(int(item["DeploymentNumber"]))
                return status.config_version
        return None

    def settled_head(self) -> int:
        """The newest deployment number of the environment (0 when there is none), once it has finished.

        A change computed from the current document is started with `start(..., expect_head=head)`: a
        deployment that begins in between would otherwise be overwritten by a document that lacks it.
        Raises `DeploymentConflictError` while the newest deployment is still running.
        """
        newest = self._newest_deployment()
        if newest is None:
            return 0
        number, state = int(newest["DeploymentNumber"]), str(newest.get("State", ""))
        if state not in FINISHED_STATES:
            raise DeploymentConflictError(
                f"environment {self.target.environment_id}: deployment {number} is {state}; "
                "the change is computed again once it has finished"
            )
        return number

    def _newest_deployment(self) -> dict[str, Any] | None:
        items = self._client.list_deployments(
            ApplicationId=self.target.application_id, EnvironmentId=self.target.environment_id
        ).get("Items", [])
        if not items:
            return None
        newest = max(items, key=lambda d: d.get("DeploymentNumber", 0))
        return {"DeploymentNumber": newest.get("DeploymentNumber", 0), "State": newest.get("State", "")}

    def stop_running(self, should_stop: Callable[[str], bool]) -> DeploymentStatus | None:
        """Stop the environment's deployment in progress when `should_stop(its description)`; AppConfig rolls
        it back. Returns its status after the stop, or None when nothing was stopped."""
        newest = self._newest_deployment()
        if newest is None or newest["State"] in FINISHED_STATES:
            return None
        number = int(newest["DeploymentNumber"])
        described = self._client.get_deployment(
            ApplicationId=self.target.application_id,
            EnvironmentId=self.target.environment_id,
            DeploymentNumber=number,
        )
        if not should_stop(str(described.get("Description", ""))):
            return None
        self._client.stop_deployment(
            ApplicationId=self.target.application_id,
            EnvironmentId=self.target.environment_id,
            DeploymentNumber=number,
        )
        return self.status(number)

    def _require_head(self, expected: int) -> None:
        newest = self._newest_deployment()
        head = int(newest["DeploymentNumber"]) if newest is not None else 0
        if head != expected:
            raise DeploymentConflictError(
                f"environment {self.target.environment_id}: deployment {head} started after this change "
                f"was computed from deployment {expected}; the change is computed again from its result"
            )

    def read_version(self, version: int) -> dict[str, Any]:
        response = self._client.get_hosted_configuration_version(
            ApplicationId=self.target.application_id,
            ConfigurationProfileId=self.target.profile_id,
            VersionNumber=version,
        )
        content: Any = response["Content"]
        raw = content.read() if hasattr(content, "read") else content
        document = json.loads(raw)
        if not isinstance(document, dict):
            raise DeploymentError(f"config version {version} is not a JSON object")
        return document

    def latest_hosted_version(self) -> int:
        """The newest hosted version number of the toggles profile (0 when it has none): the
        `LatestVersionNumber` lock to pass to `create_version` for a change computed now."""
        items = self._client.list_hosted_configuration_versions(
            ApplicationId=self.target.application_id, ConfigurationProfileId=self.target.profile_id
        ).get("Items", [])
        return max((int(item["VersionNumber"]) for item in items), default=0)

    def create_version(
        self, document: dict[str, Any], description: str, *, expect_latest: int | None = None
    ) -> int:
        """Create a hosted version of `document`.

        `expect_latest`: the `latest_hosted_version()` read before the document was computed. AppConfig
        then creates the version only if no other version was created since (its `LatestVersionNumber`
        optimistic lock, a real compare-and-set); otherwise `DeploymentConflictError`, so the caller computes
        the change again."""
        lock: dict[str, Any] = {"LatestVersionNumber": expect_latest} if expect_latest else {}
        try:
            response = self._client.create_hosted_configuration_version(
                ApplicationId=self.target.application_id,
                ConfigurationProfileId=self.target.profile_id,
                Content=json.dumps(document, sort_keys=True).encode("utf-8"),
                ContentType="application/json",
                Description=description[:1024],
                **lock,
            )
        except Exception as exc:
            if _error_code(exc) == "BadRequestException":
                raise ConfigValidationError(f"AppConfig rejected the toggle document: {exc}") from exc
            if expect_latest and _error_code(exc) == "ConflictException":
                raise DeploymentConflictError(
                    f"profile {self.target.profile_id}: a hosted version was created after this change was "
                    f"computed from version {expect_latest}; the change is computed again"
                ) from exc
            raise
        return int(response["VersionNumber"])

    # -- monitors -------------------------------------------------------------------------------------

    def monitors(self) -> list[dict[str, str]]:
        env = self._client.get_environment(
            ApplicationId=self.target.application_id, EnvironmentId=self.target.environment_id
        )
        return [
            {"AlarmArn": str(m["AlarmArn"]), "AlarmRoleArn": str(m.get("AlarmRoleArn", ""))}
            for m in env.get("Monitors", [])
        ]

    def set_monitors(self, monitors: list[dict[str, str]]) -> None:
        wanted: list[Any] = []
        for m in monitors:
            entry = {"AlarmArn": m["AlarmArn"]}
            if m.get("AlarmRoleArn"):
                entry["AlarmRoleArn"] = m["AlarmRoleArn"]
            wanted.append(entry)
        self._client.update_environment(
            ApplicationId=self.target.application_id,
            EnvironmentId=self.target.environment_id,
            Monitors=wanted,
        )

    # -- deployments ----------------------------------------------------------------------------------

    def start(
        self,
        version: int,
        strategy_id: str,
        description: str,
        *,
        attempts: int = 1,
        base_delay: float = 2.0,
        max_delay: float = 30.0,
        expect_head: int | None = None,
    ) -> int:
        """Start a deployment; on ConflictException back off exponentially, then raise the conflict.

        `expect_head`: the `settled_head()` the document was computed at; each attempt first checks that
        no deployment started since (else `DeploymentConflictError`, so the caller recomputes).
        """
        delay = base_delay
        for attempt in range(1, attempts + 1):
            if expect_head is not None:
                self._require_head(expect_head)
            try:
                response = self._client.start_deployment(
                    ApplicationId=self.target.application_id,
                    EnvironmentId=self.target.environment_id,
                    DeploymentStrategyId=strategy_id,
                    ConfigurationProfileId=self.target.profile_id,
                    ConfigurationVersion=str(version),
                    Description=description[:1024],
                )
            except Exception as exc:
                if _error_code(exc) != "ConflictException":
                    raise
                if attempt == attempts:
                    raise DeploymentConflictError(
                        f"environment {self.target.environment_id}: another deployment is in progress "
                        f"(gave up after {attempts} attempts)"
                    ) from exc
                self._clock.sleep(delay)
                delay = min(delay * 2, max_delay)
                continue
            return int(response["DeploymentNumber"])
        raise AssertionError("unreachable")

    def status(self, deployment_number: int) -> DeploymentStatus:
        d = self._client.get_deployment(
            ApplicationId=self.target.application_id,
            EnvironmentId=self.target.environment_id,
            DeploymentNumber=deployment_number,
        )
        events = d.get("EventLog") or []
        last = events[0].get("Description", "") if events else ""
        return DeploymentStatus(
            deployment_number=int(d["DeploymentNumber"]),
            state=str(d["State"]),
            config_version=int(d["ConfigurationVersion"]),
            strategy_id=str(d.get("DeploymentStrategyId", "")),
            percentage_complete=float(d.get("PercentageComplete", 0.0)),
            last_event=str(last),
        )

    def incident_deployments(self, incident_id: str) -> list[TimelineEvent]:
        """The timeline events (started, complete, rolled back) of every deployment of the environment whose
        description names `incident_id`."""
        return deployment_events(
            self._client, self.target.application_id, self.target.environment_id, incident_id
        )

    def wait(self, deployment_number: int, *, timeout: float = 900.0, poll: float = 5.0) -> DeploymentStatus:
        """Poll until COMPLETE; raise on ROLLED_BACK/REVERTED or when `timeout` clock-seconds pass."""
        deadline = self._clock.time() + timeout
        while True:
            status = self.status(deployment_number)
            if status.complete:
                return status
            if status.rolled_back:
                raise DeploymentRolledBackError(status)
            if self._clock.time() >= deadline:
                raise DeploymentTimeoutError(
                    f"deployment {deployment_number} still {status.state} "
                    f"({status.percentage_complete:.0f}%) after {timeout:.0f}s"
                )
            self._clock.sleep(poll)

    def deploy(
        self, document: dict[str, Any], *, strategy_id: str, description: str, timeout: float = 900.0
    ) -> DeploymentStatus:
        """Create a hosted version of `document`, deploy it and wait for COMPLETE."""
        version = self.create_version(document, description)
        number = self.start(version, strategy_id, description, attempts=5)
        return self.wait(number, timeout=timeout)
