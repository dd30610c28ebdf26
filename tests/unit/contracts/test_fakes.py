"""The contract suites against the in-memory fakes (tests/fakes.py)."""

from __future__ import annotations

import pytest
from tests.contracts.ports import (
    AuditLogContract,
    ExecutionsContract,
    ReportStoreContract,
    StateStoreContract,
)
from tests.fakes import FakeAuditLog, FakeExecutions, FakeReportStore, FakeStateStore

from failsafe.domain.plan_defaults import DEFAULT_PLAN


class TestFakeStateStore(StateStoreContract):
    @pytest.fixture
    def state(self) -> FakeStateStore:
        return FakeStateStore(DEFAULT_PLAN)


class TestFakeAuditLog(AuditLogContract):
    @pytest.fixture
    def audit(self) -> FakeAuditLog:
        return FakeAuditLog()


class TestFakeReportStore(ReportStoreContract):
    @pytest.fixture
    def reports(self) -> FakeReportStore:
        return FakeReportStore()


class TestFakeExecutions(ExecutionsContract):
    @pytest.fixture
    def executions(self) -> FakeExecutions:
        return FakeExecutions()
