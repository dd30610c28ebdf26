"""install() is idempotent and fails loudly when a hooked moto internal is gone; the background ticker."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from alarm_support import LocalAws
from moto.cloudwatch import models as cloudwatch_models
from moto.events import models as events_models

from failsafe_tools.local import alarms, eventbridge
from failsafe_tools.local.eventbridge import MotoInternalsChanged


@pytest.fixture
def uninstalled() -> Iterator[None]:
    """Run with the hooks removed; put them back as they were."""
    was_installed = alarms.installed()
    alarms.uninstall()
    yield
    alarms.uninstall()
    if was_installed:
        alarms.install()


def test_install_is_idempotent(uninstalled: None) -> None:
    # Given a clean moto
    original_send = events_models.Rule.send_to_targets
    original_set_state = cloudwatch_models.CloudWatchBackend.set_alarm_state

    # When install() runs twice
    alarms.install()
    hooked = (events_models.Rule.send_to_targets, cloudwatch_models.CloudWatchBackend.set_alarm_state)
    alarms.install()

    # Then the hooks are in place once, and uninstall() restores moto's own methods
    assert hooked == (events_models.Rule.send_to_targets, cloudwatch_models.CloudWatchBackend.set_alarm_state)
    assert hooked[0] is not original_send
    assert hooked[1] is not original_set_state
    alarms.uninstall()
    assert events_models.Rule.send_to_targets is original_send
    assert cloudwatch_models.CloudWatchBackend.set_alarm_state is original_set_state
    assert not eventbridge.installed()


@pytest.mark.parametrize(
    ("owner", "attribute", "expected"),
    [
        (cloudwatch_models.CloudWatchBackend, "set_alarm_state", "set_alarm_state is missing"),
        (cloudwatch_models.CloudWatchBackend, "put_metric_data", "put_metric_data is missing"),
        (cloudwatch_models.Alarm, "update_state", "update_state is missing"),
        (events_models.Rule, "send_to_targets", "send_to_targets is missing"),
        (events_models.EventPattern, "matches_event", "matches_event is missing"),
    ],
)
def test_install_fails_loudly_when_a_hooked_internal_is_missing(
    uninstalled: None, monkeypatch: pytest.MonkeyPatch, owner: type, attribute: str, expected: str
) -> None:
    # Given a moto whose internal has gone away
    monkeypatch.delattr(owner, attribute)

    # When install() runs
    with pytest.raises(MotoInternalsChanged, match=expected) as caught:
        alarms.install()

    # Then the error names moto's version and the supported range, and nothing stays half-installed
    assert "moto 5." in str(caught.value)
    assert ">=5.2.5,<5.3" in str(caught.value)
    assert not alarms.installed()


def test_install_fails_loudly_when_a_signature_changes(
    uninstalled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a moto whose set_alarm_state takes different arguments
    def changed(self: object, alarm_name: str, state: str) -> None:
        raise AssertionError("never called")

    monkeypatch.setattr(cloudwatch_models.CloudWatchBackend, "set_alarm_state", changed)

    # When / Then install() refuses
    with pytest.raises(MotoInternalsChanged, match="set_alarm_state signature changed"):
        alarms.install()


def test_ticker_evaluates_on_the_local_clock(aws: LocalAws) -> None:
    # Given a 1-of-1 alarm with breaching data and a ticker every 60 simulated seconds
    aws.alarm("ticked", EvaluationPeriods=1, DatapointsToAlarm=1)
    aws.put(500.0)
    ticker = alarms.AlarmTicker(aws.evaluator, interval=60.0)
    ticker.start()
    try:
        # When the clock moves a minute and the ticker gets a few wall-clock polls
        aws.clock.advance(60)
        deadline = time.monotonic() + 60.0
        while aws.state("ticked") != "ALARM" and time.monotonic() < deadline:
            time.sleep(0.02)
        running = ticker.running
    finally:
        ticker.stop()

    # Then the ticker evaluated the alarm without a test calling evaluate_all(), and it stops cleanly
    assert ticker.errors == []
    assert aws.state("ticked") == "ALARM"
    assert running
    assert not ticker.running
    assert ticker.errors == []
    assert [c.alarm_name for c in aws.evaluator.changes] == ["ticked"]


def test_ticker_rejects_a_non_positive_interval() -> None:
    # Given / When / Then
    with pytest.raises(ValueError, match="must be > 0"):
        alarms.AlarmTicker(alarms.AlarmEvaluator(), interval=0)
