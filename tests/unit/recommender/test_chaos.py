"""Chaos configuration: off by default, refused in prod unless explicitly allowed with an expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from failsafe.client.sources import Fetched, SourceUnavailable
from failsafe.domain.decision import ServingPolicy
from failsafe.recommender.chaos import (
    CHAOS_ENV_VAR,
    CHAOS_OFF,
    MAX_DOCUMENT_BYTES,
    ChaosConfig,
    ChaosControl,
    ChaosRefusedError,
    ChaosTarget,
    check_allowed,
    env_loader,
    is_production,
    parse_chaos,
    source_loader,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _control(environment: str, raw: object, warnings: list[str]) -> ChaosControl:
    return ChaosControl(environment=environment, loader=lambda: raw, warn=warnings.append, now=lambda: NOW)  # type: ignore[arg-type,return-value]


def test_off_by_default() -> None:
    # Given no chaos source at all
    control = ChaosControl(environment="dev")
    # Then nothing can fire
    assert control.config == CHAOS_OFF
    assert control.active() is None
    assert not ChaosConfig().has_faults


@pytest.mark.parametrize("raw", [None, "", "   ", b"", json.dumps({"enabled": False, "error_percent": 50})])
def test_empty_or_disabled_documents_mean_off(raw: object) -> None:
    # Given an empty or disabled document / When loaded / Then chaos is off and nothing is logged
    warnings: list[str] = []
    control = _control("dev", raw, warnings)
    assert control.active() is None
    assert warnings == []


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps({"enabled": True, "error_percent": 150}), "error_percent"),
        (json.dumps({"enabled": True, "surprise": 1}), "surprise"),
        ("x" * (MAX_DOCUMENT_BYTES + 1), "limit"),
    ],
)
def test_invalid_documents_turn_chaos_off_with_one_warning(raw: str, needle: str) -> None:
    # Given an invalid chaos document
    warnings: list[str] = []
    # When it is loaded
    control = _control("dev", raw, warnings)
    # Then chaos is off and exactly one warning names the problem
    assert control.active() is None
    assert len(warnings) == 1
    assert needle in warnings[0]


def test_dev_accepts_an_enabled_document() -> None:
    # Given an enabled document in dev without any prod guard
    warnings: list[str] = []
    control = _control("dev", json.dumps({"enabled": True, "error_percent": 5}), warnings)
    # Then it is in force
    active = control.active()
    assert active is not None
    assert active.error_percent == 5
    assert warnings == []


@pytest.mark.parametrize("environment", ["prod", "Production", " PROD ", "prod-eu-west-1", "eu_production"])
@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({}, "allow_prod=true"),
        ({"allow_prod": True, "reason": "drill"}, "expires_at"),
        ({"allow_prod": True, "expires_at": (NOW + timedelta(hours=1)).isoformat()}, "reason"),
        (
            {"allow_prod": True, "reason": "drill", "expires_at": (NOW + timedelta(days=2)).isoformat()},
            "expires_at within",
        ),
        ({"expires_at": (NOW + timedelta(hours=1)).isoformat(), "reason": "drill"}, "allow_prod=true"),
    ],
)
def test_prod_refuses_without_every_guard(environment: str, fields: dict[str, object], missing: str) -> None:
    # Given a chaos document that lacks one of the prod guards
    warnings: list[str] = []
    raw = json.dumps({"enabled": True, "latency_ms": 500, **fields})
    # When it is loaded in a production environment
    control = _control(environment, raw, warnings)
    # Then chaos stays off and the warning names what is missing
    assert control.active() is None
    assert control.refused is not None
    assert len(warnings) == 1
    assert missing in warnings[0]


@pytest.mark.parametrize(
    ("environment", "production"),
    [
        ("prod", True),
        ("prod-eu-west-1", True),
        ("eu_production", True),
        ("PROD.blue", True),
        ("dev", False),
        ("staging", False),
        ("preprod", False),
        ("product-search", False),
    ],
)
def test_production_is_recognised_as_a_token_of_the_environment_name(
    environment: str, production: bool
) -> None:
    # Given / When / Then: a region or colour suffix does not turn prod into a chaos playground
    assert is_production(environment) is production


def test_prod_accepts_with_allow_flag_expiry_and_reason() -> None:
    # Given every guard
    raw = json.dumps(
        {
            "enabled": True,
            "cf_outage": True,
            "allow_prod": True,
            "reason": "monthly kill-switch drill, on-call: ana",
            "expires_at": (NOW + timedelta(minutes=30)).isoformat(),
        }
    )
    warnings: list[str] = []
    # When loaded in prod / Then it is in force
    control = _control("prod", raw, warnings)
    active = control.active()
    assert active is not None
    assert active.cf_outage
    assert warnings == []


def test_expired_documents_are_off_everywhere_and_expire_while_running() -> None:
    # Given a dev document that expires in one minute
    now = [NOW]
    raw = json.dumps(
        {"enabled": True, "error_percent": 10, "expires_at": (NOW + timedelta(minutes=1)).isoformat()}
    )
    control = ChaosControl(environment="dev", loader=lambda: raw, now=lambda: now[0])
    assert control.active() is not None
    # When time passes the expiry
    now[0] = NOW + timedelta(minutes=2)
    # Then the next request sees no chaos, and a reload refuses it
    assert control.active() is None
    with pytest.raises(ChaosRefusedError, match="expired"):
        check_allowed(ChaosConfig.model_validate_json(raw), "dev", now[0])


def test_env_loader_reads_the_variable_on_each_refresh() -> None:
    # Given an environment mapping the test controls
    environ: dict[str, str] = {}
    control = ChaosControl(environment="dev", loader=env_loader(environ))
    assert control.active() is None
    # When the variable appears and chaos is refreshed
    environ[CHAOS_ENV_VAR] = json.dumps({"enabled": True, "coverage_percent": 40})
    control.refresh()
    # Then it is in force; and removing it turns chaos off again
    active = control.active()
    assert active is not None
    assert active.coverage_percent == 40
    del environ[CHAOS_ENV_VAR]
    control.refresh()
    assert control.active() is None


class _Source:
    def __init__(self) -> None:
        self.answers: list[Fetched | Exception] = []

    @property
    def name(self) -> str:
        return "test"

    def fetch(self) -> Fetched:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_source_loader_keeps_the_last_document_when_unchanged_or_unreachable() -> None:
    # Given a chaos profile source that answers, then "unchanged", then fails
    source = _Source()
    document = json.dumps({"enabled": True, "latency_ms": 100}).encode()
    source.answers = [Fetched(body=document), Fetched(body=None), SourceUnavailable("down")]
    load = source_loader(source)
    # When polled three times / Then each poll yields the same document
    assert [parse_chaos(load()).latency_ms for _ in range(3)] == [100, 100, 100]


def test_source_that_never_answered_means_off() -> None:
    # Given a chaos source that was never reachable
    source = _Source()
    source.answers = [SourceUnavailable("down")]
    # Then the loader yields nothing, i.e. chaos off
    assert parse_chaos(source_loader(source)()) == CHAOS_OFF


def test_rolls_and_cut() -> None:
    # Given a seeded control
    control = ChaosControl(environment="dev", config=ChaosConfig(enabled=True, error_percent=30, seed=1))
    # When rolling many times
    rolls = [control.roll(30) for _ in range(5000)]
    # Then 0 and 100 are exact and 30 % is close to 30 %
    assert not any(control.roll(0) for _ in range(100))
    assert all(control.roll(100) for _ in range(100))
    assert 0.27 < sum(rolls) / len(rolls) < 0.33
    assert ChaosControl.cut(ChaosConfig(coverage_percent=50), 10) == 5
    assert ChaosControl.cut(ChaosConfig(coverage_percent=0), 10) == 1


def test_personalised_target_spares_popularity() -> None:
    # Given the default target
    config = ChaosConfig(enabled=True, error_percent=100)
    control = ChaosControl(environment="dev", config=config)
    # Then model policies are hit and popularity is not; target "all" hits everything
    assert control.hits(config, ServingPolicy.HYBRID)
    assert not control.hits(config, ServingPolicy.POPULARITY)
    assert control.hits(
        ChaosConfig(enabled=True, error_percent=100, target=ChaosTarget.ALL), ServingPolicy.POPULARITY
    )
