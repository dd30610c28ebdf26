"""The local stack pages a PagerDuty stand-in on 127.0.0.1, never the real PagerDuty host."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from failsafe_tools.local.clock import ManualClock
from failsafe_tools.local.stack import LocalStack

REPO = Path(__file__).resolve().parents[3]


def _pagerduty_urls(stack: LocalStack) -> set[str]:
    lam = stack.client("lambda")
    urls = set()
    for logical in ("NotifyFunction", "ManualRollbackFunction"):
        env = lam.get_function_configuration(FunctionName=stack.physical_id(logical))["Environment"]
        urls.add(env["Variables"]["PAGERDUTY_BASE_URL"])
    return urls


def test_the_local_stack_points_pagerduty_at_its_own_stand_in() -> None:
    # Given template.yaml, whose PagerDutyBaseUrl defaults to the real host
    # When the local stack starts it without naming a PagerDuty URL
    stack = LocalStack.start(REPO / "template.yaml", clock=ManualClock(), ticker=False, agent=False)
    try:
        # Then every function that pages is pointed at the stack's stand-in on 127.0.0.1
        assert stack.pagerduty is not None
        [url] = _pagerduty_urls(stack)
        assert url == stack.pagerduty.url
        assert urlparse(url).hostname == "127.0.0.1"
    finally:
        stack.stop()
    # And the stand-in stops with the stack
    assert stack.pagerduty is not None
    with pytest.raises(RuntimeError, match="not running"):
        _ = stack.pagerduty.url


def test_a_pagerduty_url_given_as_a_parameter_is_used_as_is() -> None:
    # Given a drill's own PagerDuty sink URL / When the stack starts with it / Then no stand-in is started
    given = "http://127.0.0.1:9/"
    stack = LocalStack.start(
        REPO / "template.yaml",
        {"PagerDutyBaseUrl": given},
        clock=ManualClock(),
        ticker=False,
        agent=False,
    )
    try:
        assert stack.pagerduty is None
        assert _pagerduty_urls(stack) == {given}
    finally:
        stack.stop()
