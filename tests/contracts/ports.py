"""The contracts of the state store, the audit log, the report store and the executions.

A subclass named `Test...` provides the `state`, `audit`, `reports` or `executions` fixture (a fake or
an adapter); every test here then runs against it. Given/When/Then in each test's comments.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from failsafe.aws.executions import ExecutionNameTakenError
from failsafe.controller.ports import AuditLogPort, ExecutionsPort, ReportStorePort, StateStorePort
from failsafe.domain.audit import GENESIS, AuditEvent, AuditWitness, entry_hash
from failsafe.domain.plan_defaults import DEFAULT_PLAN
from failsafe.domain.records import ConcurrentUpdateError, ScopeRecord
from failsafe.domain.scope import Scope

SCOPE = Scope.parse("recommender/prod")
OTHER = Scope.parse("recommender/prod/region=eu-west-1")
AT = datetime(2026, 1, 1, tzinfo=UTC)


class StateStoreContract:
    def test_a_scope_without_a_record_reads_as_none_or_fresh(self, state: StateStorePort) -> None:
        # Given an empty store / When a scope is read / Then it has no record, and a fresh one at version 0
        assert state.get(SCOPE.key) is None
        fresh = state.get_or_fresh(SCOPE)
        assert fresh.version == 0
        assert fresh.state == "NORMAL"
        assert state.plan == DEFAULT_PLAN

    def test_create_only_if_absent_then_replace_only_at_the_read_version(self, state: StateStorePort) -> None:
        # Given a created record
        first = state.put(ScopeRecord.fresh(SCOPE, DEFAULT_PLAN), expected_version=None)
        assert first.version == 1
        # When someone creates it again, or replaces it at a stale version / Then both lose the race
        with pytest.raises(ConcurrentUpdateError):
            state.put(ScopeRecord.fresh(SCOPE, DEFAULT_PLAN), expected_version=None)
        second = state.save(first, first.model_copy(update={"reason": "winner"}))
        with pytest.raises(ConcurrentUpdateError):
            state.save(first, first.model_copy(update={"reason": "loser"}))
        # And the winner's write is what the store holds
        stored = state.get(SCOPE.key)
        assert stored is not None
        assert (stored.version, stored.reason) == (second.version, "winner") == (2, "winner")

    def test_mutate_applies_the_change_or_leaves_the_record(self, state: StateStorePort) -> None:
        # Given a change that sets a reason, and one that declines
        changed = state.mutate(SCOPE, lambda r: r.model_copy(update={"reason": "first"}))
        kept = state.mutate(SCOPE, lambda r: None)
        # Then the first is written on a fresh record and the second returns the record as it is
        assert changed.version == 1
        assert kept == changed
        assert state.get(SCOPE.key) == changed

    def test_mutate_retries_on_top_of_a_concurrent_write(self, state: StateStorePort) -> None:
        # Given a record and a change that loses one race to another writer
        state.mutate(SCOPE, lambda r: r.model_copy(update={"reason": "base"}))
        raced: list[int] = []

        def change(record: ScopeRecord) -> ScopeRecord:
            if not raced:
                raced.append(record.version)
                current = state.get(SCOPE.key)
                assert current is not None
                state.save(current, current.model_copy(update={"requested_by": "other"}))
            return record.model_copy(update={"reason": "mine"})

        # When the change is applied / Then it is re-applied on the other writer's record
        result = state.mutate(SCOPE, change)
        assert (result.version, result.reason, result.requested_by) == (3, "mine", "other")

    def test_list_scopes_is_sorted_by_scope_key(self, state: StateStorePort) -> None:
        # Given records of two scopes written out of order / Then they list in scope-key order
        state.mutate(OTHER, lambda r: r.model_copy(update={"reason": "b"}))
        state.mutate(SCOPE, lambda r: r.model_copy(update={"reason": "a"}))
        assert [r.scope_key for r in state.list_scopes()] == sorted([SCOPE.key, OTHER.key])

    def test_an_incident_points_to_one_scope_only(self, state: StateStorePort) -> None:
        # Given an incident registered for a scope
        pointer = state.register_incident("inc-1", SCOPE.key, AT)
        # When it is registered again for the same scope / Then that is the same pointer
        assert state.register_incident("inc-1", SCOPE.key, AT + timedelta(seconds=5)) == pointer
        # And for another scope it is refused; an unknown incident has no pointer
        with pytest.raises(ConcurrentUpdateError):
            state.register_incident("inc-1", OTHER.key, AT)
        assert state.find_incident("inc-1") == pointer
        assert state.find_incident("inc-unknown") is None


def _event(action: str, incident_id: str | None = None, scope_key: str | None = None) -> AuditEvent:
    return AuditEvent(
        action=action, actor="tester", reason="contract", incident_id=incident_id, scope_key=scope_key
    )


class AuditLogContract:
    def test_entries_chain_from_genesis_in_sequence(self, audit: AuditLogPort) -> None:
        # Given three appended events
        entries = [audit.append(_event(f"a{i}"), at=AT + timedelta(seconds=i)) for i in range(3)]
        # Then they are numbered 1..3, each linked to the previous hash, and read back as appended
        assert [e.seq for e in entries] == [1, 2, 3]
        assert entries[0].prev_hash == GENESIS
        assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
        assert all(e.hash == entry_hash(e.body()) for e in entries)
        assert audit.entries() == entries
        assert audit.last() == entries[-1]
        assert audit.verify().ok
        assert audit.verify().entries == 3

    def test_entries_filter_by_incident_and_scope(self, audit: AuditLogPort) -> None:
        # Given events of two incidents and two scopes
        audit.append(_event("x", "inc-1", SCOPE.key), at=AT)
        audit.append(_event("y", "inc-2", OTHER.key), at=AT)
        audit.append(_event("z", "inc-1", OTHER.key), at=AT)
        # Then each filter keeps only its own
        assert [e.action for e in audit.entries(incident_id="inc-1")] == ["x", "z"]
        assert [e.action for e in audit.entries(scope_key=OTHER.key)] == ["y", "z"]
        assert [e.action for e in audit.entries(incident_id="inc-1", scope_key=OTHER.key)] == ["z"]

    def test_witnesses_match_what_was_written(self, audit: AuditLogPort) -> None:
        # Given two appended entries
        first = audit.append(_event("a"), at=AT)
        audit.append(_event("b"), at=AT)
        # When verified against witnesses of them, and against one of an entry that is not there
        good = [AuditWitness(chain=audit.chain, seq=first.seq, hash=first.hash)]
        missing = [AuditWitness(chain=audit.chain, seq=7, hash="0" * 64)]
        # Then the first passes and the second names the missing entry
        assert audit.verify(good).ok
        assert audit.verify(good).witnessed == 1
        problems = audit.verify(missing).problems
        assert [p.seq for p in problems] == [7]
        assert "missing" in problems[0].problem


class ReportStoreContract:
    def test_a_written_report_reads_back_under_the_incident_keys(self, reports: ReportStorePort) -> None:
        # Given a rendered report / When it is written for an incident
        location = reports.write("inc-1", json.dumps({"incident_id": "inc-1"}), "# Incident inc-1\n")
        # Then it lands under the incident's JSON and Markdown keys and reads back as the JSON object
        assert (location.json_key, location.markdown_key) == reports.keys("inc-1")
        assert location.json_key == "incidents/inc-1/report.json"
        assert reports.read("inc-1") == {"incident_id": "inc-1"}


INCIDENT = {"incident_id": "inc-1", "scope": SCOPE.key, "source": "manual", "requested_by": "alice"}


class ExecutionsContract:
    def test_an_incident_starts_once_and_a_restart_joins_it(self, executions: ExecutionsPort) -> None:
        # Given an incident's execution started
        arn, started = executions.start("inc-1", {**INCIDENT, "entry_stage": "stage_1"})
        # When the same incident is started again, its stage having moved on
        again, started_again = executions.start("inc-1", {**INCIDENT, "entry_stage": "stage_2"})
        # Then the first start started it, the second joins it, and both name the incident's execution
        assert (started, started_again) == (True, False)
        assert arn == again == executions.execution_arn("inc-1")
        assert executions.status(arn) == "RUNNING"

    def test_another_incident_with_the_same_name_is_refused(self, executions: ExecutionsPort) -> None:
        # Given an incident's execution / When another scope's incident gets the same name / Then refused
        executions.start("inc-1", INCIDENT)
        with pytest.raises(ExecutionNameTakenError):
            executions.start("inc-1", {**INCIDENT, "scope": OTHER.key})

    def test_a_stopped_execution_is_aborted(self, executions: ExecutionsPort) -> None:
        # Given a running execution / When it is stopped / Then it reads as aborted
        arn, _ = executions.start("inc-1", INCIDENT)
        executions.stop(arn, "recovered by hand")
        assert executions.status(arn) == "ABORTED"
