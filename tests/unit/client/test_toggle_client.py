"""ToggleClient: last known good, cold-start baseline, backup, version/age, lock-free snapshot swaps."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from failsafe.client import (
    COLD_START_BASELINE,
    Fetched,
    FileSource,
    RefreshOutcome,
    SourceUnavailable,
    ToggleClient,
)
from failsafe.client import toggle_client as toggle_client_module
from failsafe.client.toggle_client import (
    METRIC_CONFIG_APPLIED,
    METRIC_CONFIG_FETCH_FAILED,
    METRIC_CONFIG_REJECTED,
    parse_document,
    write_atomically,
)
from failsafe.domain.acceptance import DocumentRejected
from failsafe.domain.decision import DecisionReason, RequestContext, ServingPolicy
from failsafe.domain.toggles import FallbackLevel


def doc(version: int, environment: str = "prod", **toggles: Any) -> dict[str, Any]:
    return {
        "metadata": {"version": version, "environment": environment, "author": "test", "reason": "unit"},
        "toggles": toggles,
    }


def body(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


class ScriptedSource:
    """A source that answers from a script: bytes, None (unchanged) or an exception to raise."""

    name = "scripted"

    def __init__(
        self, *answers: bytes | Exception | None, content_type: str | None = "application/json"
    ) -> None:
        self.answers = list(answers)
        self.content_type = content_type
        self.calls = 0
        self.last: bytes | Exception | None = None

    def push(self, *answers: bytes | Exception | None) -> None:
        self.answers.extend(answers)

    def fetch(self) -> Fetched:
        """Answers in order; once the script runs out, the last answer repeats."""
        self.calls += 1
        if self.answers:
            self.last = self.answers.pop(0)
        answer = self.last
        if isinstance(answer, Exception):
            raise answer
        return Fetched(body=answer, content_type=self.content_type, version_label="label-1")


class FakeClock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def metrics() -> list[tuple[str, float]]:
    return []


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(
    source: Any, metrics: list[tuple[str, float]], clock: FakeClock, **kwargs: Any
) -> ToggleClient:
    return ToggleClient(
        source,
        environment="prod",
        metric_sink=lambda name, value: metrics.append((name, value)),
        clock=clock,
        wall_clock=clock,
        **kwargs,
    )


def test_cold_start_serves_the_emergency_baseline_and_says_it_is_not_ready(
    metrics: list[tuple[str, float]], clock: FakeClock
) -> None:
    # Given a client that has never reached its source
    client = make_client(ScriptedSource(SourceUnavailable("down")), metrics, clock)
    # When it refreshes (and fails) and a request is decided
    outcome = client.refresh()
    decision = client.decide(RequestContext("user-1", "eu-west-1"))
    # Then it serves the documented baseline: global popularity, reason no_config, version 0
    assert outcome is RefreshOutcome.UNAVAILABLE
    assert not client.ready
    assert client.stale
    assert client.config_version == 0
    assert client.origin == "baseline"
    assert COLD_START_BASELINE.kill_switch
    assert (decision.reason, decision.policy, decision.fallback_level, decision.serve_full) == (
        DecisionReason.NO_CONFIG,
        ServingPolicy.POPULARITY,
        FallbackLevel.D,
        False,
    )
    assert metrics == [(METRIC_CONFIG_FETCH_FAILED, 1.0)]


def test_a_valid_document_is_applied_and_the_client_is_ready_and_fresh(
    metrics: list[tuple[str, float]], clock: FakeClock
) -> None:
    # Given a source with a valid document
    client = make_client(ScriptedSource(body(doc(5, alpha_override=0.3))), metrics, clock)
    # When the client refreshes
    outcome = client.refresh()
    # Then the document is applied and decisions use it
    assert outcome is RefreshOutcome.APPLIED
    assert client.ready
    assert not client.stale
    assert client.config_version == 5
    assert client.origin == "scripted"
    assert client.decide(RequestContext("user-1")).alpha == 0.3
    assert client.wait_until_ready(0)
    assert metrics == [(METRIC_CONFIG_APPLIED, 1.0)]


INVALID_DOCUMENTS = {
    "malformed JSON": b'{"metadata": ',
    "not UTF-8": b"\xff\xfe\x00",
    "wrong JSON type": b"[1, 2, 3]",
    "missing fields": body({"toggles": {}}),
    "unknown toggle": body({**doc(9), "toggles": {"kill_switch": False, "turbo_mode": True}}),
    "out of range": body(doc(9, exposure_percent=150)),
    "conflicting toggles": body(doc(9, disable_cf=True, policy_mode="collab_only")),
    "wrong environment": body(doc(9, environment="staging")),
    "oversized": body({**doc(9), "padding": "x" * 5_000}),
    # Wrong JSON types: pydantic's lax mode would read these as exposure 50 / 1 % and a kill switch on.
    "exposure as a string": body(doc(9, exposure_percent="50")),
    "exposure as a boolean": body(doc(9, exposure_percent=True)),
    "kill switch as a string": body(doc(9, kill_switch="true", candidate_fallback_level="D")),
    "kill switch as a number": body(doc(9, kill_switch=1, candidate_fallback_level="D")),
    "alpha as a boolean": body(doc(9, alpha_override=True)),
    "version as a string": body({**doc(9), "metadata": {**doc(9)["metadata"], "version": "9"}}),
    "nested too deeply": b"[" * 100_000,
}


@pytest.mark.parametrize("name", list(INVALID_DOCUMENTS))
def test_an_invalid_document_is_rejected_and_the_last_known_good_stays(
    name: str, metrics: list[tuple[str, float]], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a client serving version 3
    source = ScriptedSource(body(doc(3, exposure_percent=100)))
    client = make_client(source, metrics, clock, max_document_bytes=2_048)
    client.refresh()
    before = client.decide(RequestContext("user-1"))
    # When the source starts returning a bad document, twice
    source.push(INVALID_DOCUMENTS[name])
    with caplog.at_level(logging.WARNING, logger="failsafe.client"):
        first = client.refresh()
        second = client.refresh()
    # Then both refreshes reject it, version 3 keeps serving, and there is one log line and one metric
    assert (first, second) == (RefreshOutcome.REJECTED, RefreshOutcome.REJECTED)
    assert client.config_version == 3
    assert client.decide(RequestContext("user-1")) == before
    rejections = [r for r in caplog.records if "rejected config" in r.getMessage()]
    assert len(rejections) == 1
    assert "keeping version 3" in rejections[0].getMessage()
    assert metrics.count((METRIC_CONFIG_REJECTED, 1.0)) == 1
    assert client.stats.rejected == 1
    assert client.last_error


def test_a_wrong_content_type_is_rejected(metrics: list[tuple[str, float]], clock: FakeClock) -> None:
    # Given a source that serves YAML
    client = make_client(
        ScriptedSource(b"kill_switch: true", content_type="application/x-yaml"), metrics, clock
    )
    # When the client refreshes
    outcome = client.refresh()
    # Then the document is rejected naming the content type, and the client stays on its baseline
    assert outcome is RefreshOutcome.REJECTED
    assert client.last_error is not None
    assert "content type" in client.last_error
    assert not client.ready


def test_an_unreachable_source_keeps_the_last_known_good_and_turns_stale(
    metrics: list[tuple[str, float]], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a client serving version 4, polled every 15 s (stale after 45 s)
    source = ScriptedSource(body(doc(4, exposure_percent=100)))
    client = make_client(source, metrics, clock)
    client.refresh()
    # When AppConfig becomes unreachable for a minute of polls
    source.push(SourceUnavailable("connection refused"), TimeoutError("read timed out"))
    outcomes = []
    with caplog.at_level(logging.WARNING, logger="failsafe.client"):
        for _ in range(4):
            clock.now += 15
            outcomes.append(client.refresh())
    # Then it keeps version 4 (never the hard-coded baseline), logs once, counts each failure, turns stale
    assert outcomes == [RefreshOutcome.UNAVAILABLE] * 4
    assert client.config_version == 4
    assert client.ready
    assert client.stale
    assert client.decide(RequestContext("user-1")).reason is DecisionReason.PRIMARY
    assert len([r for r in caplog.records if "cannot fetch config" in r.getMessage()]) == 1
    assert metrics.count((METRIC_CONFIG_FETCH_FAILED, 1.0)) == 4
    # And when the source comes back, the client is fresh again
    source.answers = [None]
    clock.now += 15
    assert client.refresh() is RefreshOutcome.UNCHANGED
    assert not client.stale


def test_a_served_document_the_client_rejects_makes_it_stale_until_a_good_one_is_served(
    metrics: list[tuple[str, float]], clock: FakeClock
) -> None:
    # Given a client serving version 4
    source = ScriptedSource(body(doc(4)))
    client = make_client(source, metrics, clock)
    client.refresh()
    assert not client.stale
    # When AppConfig serves a document for another environment, polled for 10 minutes (the body once,
    # then "nothing new" on every later poll, as appconfigdata answers)
    source.push(body(doc(5, environment="staging")), None)
    for _ in range(40):
        clock.now += 15
        client.refresh()
    # Then the client keeps version 4 but says it is stale, counts the rejected document and flags it
    assert client.config_version == 4
    assert client.stale
    assert client.serving_rejected
    assert client.rejected_documents == 1
    assert metrics.count((METRIC_CONFIG_REJECTED, 1.0)) == 1
    # And when an acceptable document is served again, it is applied and the client is fresh
    source.push(body(doc(6)))
    clock.now += 15
    assert client.refresh() is RefreshOutcome.APPLIED
    assert not client.stale
    assert not client.serving_rejected


def test_a_source_back_on_the_applied_document_clears_stale(
    metrics: list[tuple[str, float]], clock: FakeClock
) -> None:
    # Given a client on version 4 that rejected a bad document the source served
    good = body(doc(4))
    source = ScriptedSource(good, b"{not json")
    client = make_client(source, metrics, clock)
    client.refresh()
    client.refresh()
    assert client.stale
    # When the source serves version 4 again (the bad version was rolled back)
    source.push(good)
    clock.now += 15
    # Then nothing is re-applied and the client is fresh
    assert client.refresh() is RefreshOutcome.UNCHANGED
    assert not client.stale


def test_a_source_bug_never_escapes_refresh(metrics: list[tuple[str, float]], clock: FakeClock) -> None:
    # Given a source that raises an unexpected error
    client = make_client(ScriptedSource(RuntimeError("bug")), metrics, clock)
    # When the client refreshes
    # Then the error is contained and counted
    assert client.refresh() is RefreshOutcome.UNAVAILABLE
    assert client.stats.fetch_failed == 1


def test_an_unchanged_body_is_not_reapplied(metrics: list[tuple[str, float]], clock: FakeClock) -> None:
    # Given a client that applied a document
    payload = body(doc(2))
    source = ScriptedSource(payload)
    client = make_client(source, metrics, clock)
    client.refresh()
    snapshot = client.snapshot
    # When the source returns the same bytes, then "unchanged"
    source.push(payload, None)
    outcomes = [client.refresh(), client.refresh()]
    # Then nothing is recompiled
    assert outcomes == [RefreshOutcome.UNCHANGED, RefreshOutcome.UNCHANGED]
    assert client.snapshot is snapshot
    assert client.stats.applied == 1


def test_config_age_counts_from_when_the_version_was_fetched(
    metrics: list[tuple[str, float]], clock: FakeClock
) -> None:
    # Given a client that applied version 8 at t0
    source = ScriptedSource(body(doc(8)))
    client = make_client(source, metrics, clock)
    client.refresh()
    # When 40 s pass with unchanged polls
    source.push(None)
    clock.now += 40
    client.refresh()
    # Then the version is 8 and its age is 40 s
    assert client.config_version == 8
    assert client.config_age_seconds == pytest.approx(40)
    assert client.seconds_since_success == pytest.approx(0)


def test_a_backup_is_written_on_apply_and_read_first_on_restart(
    tmp_path: Path, metrics: list[tuple[str, float]], clock: FakeClock
) -> None:
    # Given a client with a backup file that applied version 6
    backup = tmp_path / "state" / "toggles.backup.json"
    first = make_client(
        ScriptedSource(body(doc(6, exposure_percent=100))), metrics, clock, backup_path=backup
    )
    first.refresh()
    # When the service restarts while AppConfig is unreachable
    restarted = make_client(ScriptedSource(SourceUnavailable("down")), metrics, clock, backup_path=backup)
    restarted.refresh()
    # Then the restarted client serves version 6 from the backup: ready, but stale until a poll succeeds
    assert json.loads(backup.read_bytes())["metadata"]["version"] == 6
    assert restarted.config_version == 6
    assert restarted.ready
    assert restarted.stale
    assert restarted.origin == f"backup:{backup}"
    assert restarted.decide(RequestContext("u1")).reason is DecisionReason.PRIMARY
    assert list(backup.parent.iterdir()) == [backup]  # no temporary files left behind


def test_a_corrupt_backup_is_ignored(
    tmp_path: Path, metrics: list[tuple[str, float]], clock: FakeClock
) -> None:
    # Given a truncated backup file
    backup = tmp_path / "toggles.backup.json"
    backup.write_bytes(body(doc(6))[:20])
    # When a client starts with it
    client = make_client(ScriptedSource(SourceUnavailable("down")), metrics, clock, backup_path=backup)
    # Then it falls back to the cold-start baseline and counts the rejection
    assert not client.ready
    assert client.config_version == 0
    assert metrics == [(METRIC_CONFIG_REJECTED, 1.0)]


def test_a_backup_nested_too_deeply_is_ignored_not_fatal(
    tmp_path: Path, metrics: list[tuple[str, float]], clock: FakeClock
) -> None:
    # Given a backup file of deeply nested brackets (json.loads raises RecursionError, not ValueError)
    backup = tmp_path / "toggles.backup.json"
    backup.write_bytes(b"[" * 100_000)
    # When a client starts with it
    client = make_client(ScriptedSource(SourceUnavailable("down")), metrics, clock, backup_path=backup)
    # Then the constructor does not raise: cold-start baseline, one rejection counted
    assert not client.ready
    assert metrics == [(METRIC_CONFIG_REJECTED, 1.0)]


@pytest.mark.parametrize("depth", [40, 600, 980])
def test_a_document_nested_too_deeply_for_validation_is_rejected_with_one_line(depth: int) -> None:
    # Given a body json.loads accepts but whose value nests far beyond any toggles document
    nested = b'{"toggles": ' + b"[" * depth + b"]" * depth + b"}"
    # When / Then parsing refuses it with a DocumentRejected naming the limit, never a RecursionError
    with pytest.raises(DocumentRejected, match=r"nested .*more than (the )?32"):
        parse_document(nested)


def test_a_backup_nested_too_deeply_for_validation_is_ignored_not_fatal(
    tmp_path: Path, metrics: list[tuple[str, float]], clock: FakeClock
) -> None:
    # Given a backup that parses as JSON but nests 600 levels (recursive validation used to overflow)
    backup = tmp_path / "toggles.backup.json"
    backup.write_bytes(b'{"toggles": ' + b"[" * 600 + b"]" * 600 + b"}")
    # When a client starts with it
    client = make_client(ScriptedSource(SourceUnavailable("down")), metrics, clock, backup_path=backup)
    # Then the constructor does not raise: cold-start baseline, one rejection counted
    assert not client.ready
    assert metrics == [(METRIC_CONFIG_REJECTED, 1.0)]


def test_a_backup_the_parser_fails_on_unexpectedly_is_ignored_not_fatal(
    tmp_path: Path, metrics: list[tuple[str, float]], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a backup file and a parser bug that raises something other than DocumentRejected
    backup = tmp_path / "toggles.backup.json"
    backup.write_bytes(body(doc(6)))

    def broken(*_: object, **__: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(toggle_client_module, "parse_document", broken)
    # When a client starts with it
    client = make_client(ScriptedSource(SourceUnavailable("down")), metrics, clock, backup_path=backup)
    # Then the constructor does not raise: cold-start baseline, one rejection counted
    assert not client.ready
    assert client.stats.rejected == 1
    assert metrics == [(METRIC_CONFIG_REJECTED, 1.0)]


def test_integral_floats_count_as_integers_as_in_json_schema(
    metrics: list[tuple[str, float]], clock: FakeClock
) -> None:
    # Given a document written by a tool that emits 10.0 for 10 (valid "integer" in JSON Schema)
    client = make_client(
        ScriptedSource(body(doc(4, exposure_percent=10.0, alpha_override=1))), metrics, clock
    )
    # When the client refreshes
    outcome = client.refresh()
    # Then the document is applied with exposure 10 and alpha 1.0
    assert outcome is RefreshOutcome.APPLIED
    document = client.document
    assert document is not None
    assert document.toggles.exposure_percent == 10
    assert document.toggles.alpha_override == 1.0


def test_atomic_write_replaces_the_file_in_one_step(tmp_path: Path) -> None:
    # Given an existing file
    target = tmp_path / "f.json"
    target.write_bytes(b"old")
    # When it is rewritten atomically
    write_atomically(target, b"new")
    # Then it holds the new content and nothing else is left in the directory
    assert target.read_bytes() == b"new"
    assert list(tmp_path.iterdir()) == [target]


def test_a_failing_metric_sink_does_not_break_refresh(clock: FakeClock) -> None:
    # Given a metric sink that raises
    def sink(name: str, value: float) -> None:
        raise RuntimeError("metrics backend down")

    client = ToggleClient(ScriptedSource(body(doc(1))), metric_sink=sink, clock=clock, wall_clock=clock)
    # When the client applies a document
    # Then the document is applied anyway
    assert client.refresh() is RefreshOutcome.APPLIED
    assert client.config_version == 1


def test_invalid_constructor_arguments_are_rejected() -> None:
    # Given / When / Then nonsensical settings fail fast, naming the argument
    with pytest.raises(ValueError, match="refresh_interval"):
        ToggleClient(ScriptedSource(None), refresh_interval=0)
    with pytest.raises(ValueError, match="default_alpha"):
        ToggleClient(ScriptedSource(None), default_alpha=-0.1)


def test_experiment_freeze_pins_buckets_across_versions_through_the_client(
    metrics: list[tuple[str, float]], clock: FakeClock
) -> None:
    # Given a client that applied v1 and then a frozen v2
    source = ScriptedSource(body(doc(1)))
    client = make_client(source, metrics, clock, salt="exp-1")
    client.refresh()
    before = [client.decide(RequestContext(f"u{i}")).bucket for i in range(50)]
    source.push(body(doc(2, experiment_freeze=True, exposure_percent=60)))
    client.refresh()
    # When the client's salt is changed for later snapshots (a new experiment) during the freeze
    client.salt = "exp-2"
    source.push(body(doc(3, experiment_freeze=True, exposure_percent=70)))
    client.refresh()
    # Then users keep the buckets they had when the freeze began
    assert client.config_version == 3
    assert [client.decide(RequestContext(f"u{i}")).bucket for i in range(50)] == before


@pytest.fixture
def background_file(tmp_path: Path) -> Iterator[tuple[Path, ToggleClient]]:
    path = tmp_path / "toggles.json"
    path.write_bytes(body(doc(1, exposure_percent=100)))
    client = ToggleClient(FileSource(path), refresh_interval=0.02, environment="prod")
    yield path, client
    client.stop()


def test_the_background_thread_picks_up_a_kill_switch_within_one_interval(
    background_file: tuple[Path, ToggleClient],
) -> None:
    # Given a client refreshing every 20 ms in the background
    path, client = background_file
    with client:
        assert client.wait_until_ready(2)
        assert client.decide(RequestContext("u1")).serve_full
        # When a kill switch is deployed
        write_atomically(path, body(doc(2, kill_switch=True, candidate_fallback_level="D")))
        deadline = time.monotonic() + 30
        while client.config_version != 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        # Then the next requests get the kill-switch fallback
        assert client.decide(RequestContext("u1")).reason is DecisionReason.KILL_SWITCH
    assert client._thread is None  # stopped on exit


class GatedSource:
    """A source whose fetch blocks until the gate opens, recording which threads fetched."""

    name = "gated"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.fetched = threading.Event()
        self.callers: set[int | None] = set()

    def fetch(self) -> Fetched:
        self.callers.add(threading.get_ident())
        self.fetched.set()
        self.gate.wait(5)
        return Fetched(body=body(doc(1)), content_type="application/json")


def test_a_refresh_loop_stuck_past_stop_exits_once_a_new_loop_starts() -> None:
    # Given a background loop stuck in fetch longer than stop() waits for it
    source = GatedSource()
    client = ToggleClient(source, refresh_interval=0.02, environment="prod")
    client.start()
    assert source.fetched.wait(2)
    stuck = client._thread
    client.stop(timeout=0.05)
    assert stuck is not None
    assert stuck.is_alive()
    # When the client is started again and the stuck fetch then returns
    client.start()
    source.gate.set()
    stuck.join(2)
    # Then the old loop has exited and only the new one refreshes
    try:
        assert not stuck.is_alive()
        assert client._thread is not None
        assert client._thread.is_alive()
    finally:
        client.stop()


def test_concurrent_readers_never_see_a_torn_snapshot() -> None:
    # Given two documents whose decisions differ in every field, keyed by version parity
    killed = {"kill_switch": True, "candidate_fallback_level": "C", "cache_mode": "warm_only"}
    full = {"alpha_override": 0.25, "exposure_percent": 100, "cache_mode": "cold"}

    class Alternating:
        name = "alternating"

        def __init__(self) -> None:
            self.version = 0

        def fetch(self) -> Fetched:
            self.version += 1
            toggles = killed if self.version % 2 else full
            return Fetched(body=body(doc(self.version, **toggles)), content_type="application/json")

    client = ToggleClient(Alternating())
    client.refresh()
    expected = {
        1: (False, ServingPolicy.POPULARITY, 0.0, FallbackLevel.C, "warm_only", DecisionReason.KILL_SWITCH),
        0: (True, ServingPolicy.HYBRID, 0.25, FallbackLevel.A, "cold", DecisionReason.PRIMARY),
    }
    errors: list[str] = []
    stop = threading.Event()

    def reader(index: int) -> None:
        ctxs = [RequestContext(f"user-{index}-{i}", "eu-west-1") for i in range(64)]
        while not stop.is_set():
            for ctx in ctxs:
                d = client.decide(ctx)
                got = (d.serve_full, d.policy, d.alpha, d.fallback_level, d.cache_mode.value, d.reason)
                if got != expected[d.config_version % 2]:
                    errors.append(f"v{d.config_version}: {got}")
                    return

    # When four readers decide while the writer swaps snapshots 200 times
    readers = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for thread in readers:
        thread.start()
    for _ in range(200):
        assert client.refresh() is RefreshOutcome.APPLIED
    stop.set()
    for thread in readers:
        thread.join(5)
    # Then every decision any reader saw belongs wholly to one version
    assert errors == []
    assert client.config_version == 201


def test_the_background_loop_waits_for_a_longer_next_poll_interval_from_the_source() -> None:
    # Given a source that asks for 10 s between polls and a client configured for 10 ms
    class Slow:
        name = "slow"
        calls = 0

        def fetch(self) -> Fetched:
            Slow.calls += 1
            return Fetched(body=body(doc(1)), content_type="application/json", next_poll_seconds=10.0)

    client = ToggleClient(Slow(), refresh_interval=0.01)
    # When the background loop runs for 200 ms
    with client:
        assert client.wait_until_ready(2)
        time.sleep(0.2)
    # Then it polled once: the source's interval wins over the shorter configured one
    assert Slow.calls == 1


def test_a_longer_poll_interval_from_the_source_does_not_read_as_stale(clock: FakeClock) -> None:
    # Given a client polled every 15 s whose source asks for 60 s between polls
    class Paced:
        name = "paced"

        def fetch(self) -> Fetched:
            return Fetched(body=body(doc(1)), content_type="application/json", next_poll_seconds=60.0)

    client = ToggleClient(Paced(), clock=clock, wall_clock=clock)
    client.refresh()
    # When 60 s pass (longer than the default 45 s stale limit) and then 200 s
    clock.now += 60
    fresh_at_one_interval = not client.stale
    clock.now += 140
    # Then it is fresh after one of the source's intervals and stale after more than three
    assert fresh_at_one_interval
    assert client.stale
