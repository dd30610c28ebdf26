"""Typed environment of the controller's Lambda functions (template.yaml sets these variables).

Each handler validates its own subclass at cold start, so a missing variable fails with a message naming
it instead of a KeyError deep inside a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SettingsError(RuntimeError):
    pass


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    service: str = Field("recommender", alias="FAILSAFE_SERVICE")
    environment: str = Field("prod", alias="FAILSAFE_ENVIRONMENT")
    region: str | None = Field(None, alias="AWS_REGION")
    state_table_name: str | None = Field(None, alias="STATE_TABLE_NAME")
    audit_table_name: str | None = Field(None, alias="AUDIT_TABLE_NAME")
    idempotency_table_name: str | None = Field(None, alias="IDEMPOTENCY_TABLE_NAME")
    state_machine_arn: str | None = Field(None, alias="STATE_MACHINE_ARN")
    alarm_name_prefix: str | None = Field(None, alias="ALARM_NAME_PREFIX")
    topic_arn: str | None = Field(None, alias="TOPIC_ARN")
    pagerduty_secret_arn: str | None = Field(None, alias="PAGERDUTY_SECRET_ARN")
    pagerduty_base_url: str = Field("https://events.pagerduty.com", alias="PAGERDUTY_BASE_URL")
    report_bucket: str | None = Field(None, alias="REPORT_BUCKET")
    appconfig_application_id: str | None = Field(None, alias="APPCONFIG_APPLICATION_ID")
    appconfig_environment_id: str | None = Field(None, alias="APPCONFIG_ENVIRONMENT_ID")
    appconfig_profile_id: str | None = Field(None, alias="APPCONFIG_PROFILE_ID")
    appconfig_immediate_strategy_id: str | None = Field(None, alias="APPCONFIG_IMMEDIATE_STRATEGY_ID")
    appconfig_gradual_strategy_id: str | None = Field(None, alias="APPCONFIG_GRADUAL_STRATEGY_ID")
    appconfig_monitors: str | None = Field(
        None,
        alias="APPCONFIG_MONITORS",
        description="JSON list of the environment's monitors ({AlarmArn, AlarmRoleArn}); see apply.py.",
    )
    recommender_function_name: str | None = Field(None, alias="RECOMMENDER_FUNCTION_NAME")
    recommender_alias: str = Field("live", alias="RECOMMENDER_ALIAS")
    verify_window_seconds: int = Field(900, gt=0, alias="VERIFY_WINDOW_SECONDS")
    verify_window_growth: float = Field(2.0, ge=1.0, alias="VERIFY_WINDOW_GROWTH")
    max_verify_window_seconds: int = Field(3600, gt=0, alias="MAX_VERIFY_WINDOW_SECONDS")
    health_check_interval_seconds: int = Field(30, gt=0, alias="HEALTH_CHECK_INTERVAL_SECONDS")
    traffic_window_seconds: int = Field(
        300,
        gt=0,
        alias="TRAFFIC_WINDOW_SECONDS",
        description="Recovery is judged only on traffic: the scope needs requests in this many seconds.",
    )
    deployment_poll_seconds: int = Field(5, gt=0, alias="DEPLOYMENT_POLL_SECONDS")
    approval_timeout_seconds: int = Field(1800, gt=0, alias="APPROVAL_TIMEOUT_SECONDS")
    deployment_retries: int = Field(3, ge=0, alias="DEPLOYMENT_RETRIES")
    max_event_clock_skew_seconds: int = Field(
        300,
        ge=0,
        alias="MAX_EVENT_CLOCK_SKEW_SECONDS",
        description="How far ahead of the controller's clock an alarm's state timestamp may be; later ones "
        "are dropped (one bogus future stamp would otherwise make every real event of the alarm stale).",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        try:
            return cls.model_validate(dict(os.environ if environ is None else environ))
        except ValidationError as exc:
            names = ", ".join(str(err["loc"][0]) for err in exc.errors())
            raise SettingsError(f"{cls.__name__}: missing or invalid environment variables: {names}") from exc

    def need(self, name: str) -> str:
        value = getattr(self, name)
        if not value:
            alias = type(self).model_fields[name].alias
            raise SettingsError(f"{type(self).__name__}: environment variable {alias} is not set")
        return str(value)
