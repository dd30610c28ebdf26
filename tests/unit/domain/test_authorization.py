"""Seed 004's authorization matrix (domain/authorization.py) and principal normalisation."""

from __future__ import annotations

import pytest

from failsafe.domain.authorization import (
    AuthorizationError,
    Caller,
    check_approval,
    check_request,
    parse_roles,
)
from failsafe.domain.plans import DEFAULT_PLAN, Level
from failsafe.domain.principal import PrincipalError, parse_principal

ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"

LOOK_ALIKES = [
    "arn:aws:iam::123456789012:user/Alice",
    "arn:aws:iam::123456789012:user/alice ",
    " arn:aws:iam::123456789012:user/alice",
    "arn:aws:iam::123456789012:user/ali\u200bce",
    "arn:aws:iam::123456789012:user/\uff41lice",
    "arn:aws:iam::123456789012:user/ops/alice",
    "ARN:AWS:IAM::123456789012:USER/ALICE",
]


def caller(arn: str, *roles: str) -> Caller:
    return Caller(principal=parse_principal(arn), roles=frozenset(roles))


def request(c: Caller, level: str, *, dry_run: bool = False) -> None:
    stage = DEFAULT_PLAN.final_stage_of(Level(level))
    check_request(
        c,
        action="rollback",
        level=level,
        stage_name=stage.name,
        authorized_roles=stage.authorized_roles,
        break_glass_levels=[lvl.value for lvl in DEFAULT_PLAN.break_glass_levels],
        dry_run=dry_run,
    )


def approve(c: Caller, requester: str, decision: str = "approve") -> None:
    revert = DEFAULT_PLAN.stage("revert")
    check_approval(
        c,
        incident_id="inc-1",
        stage="revert",
        decision=decision,
        approver_roles=revert.approver_roles,
        requesters=[requester],
    )


@pytest.mark.parametrize("spelling", LOOK_ALIKES)
def test_every_look_alike_spelling_is_the_same_principal(spelling: str) -> None:
    # Given alice's ARN spelt with case, spaces, a zero-width space, a fullwidth letter or an IAM path
    # When both are parsed, Then they are the same principal
    assert parse_principal(spelling).same_as(ALICE)


@pytest.mark.parametrize("spelling", LOOK_ALIKES)
def test_a_cto_never_approves_their_own_request_in_any_spelling(spelling: str) -> None:
    # Given a CTO requested Level 3 (recorded under some spelling of the ARN)
    cto = caller(ALICE, "cto")
    # When the same principal approves, Then it is refused as the requester
    with pytest.raises(AuthorizationError, match="requested revert and cannot approve it"):
        approve(cto, spelling)


def test_the_matrix_of_seed_004() -> None:
    on_call = caller(ALICE, "on_call")
    manager = caller(BOB, "engineering_manager")
    # on-call: Level 1 and the kill switch, not Level 2 (the refusal names who lacks which role)
    request(on_call, "1")
    request(on_call, "emergency")
    with pytest.raises(AuthorizationError, match=r"alice \(roles: on_call\) lacks the role cto or"):
        request(on_call, "2")
    # ... but a dry run of anything
    request(on_call, "3", dry_run=True)
    # an engineering manager: Level 2 and 3
    request(manager, "2")
    request(manager, "3")
    # Level 3's revert is approved only by the CTO role, never by a manager
    with pytest.raises(AuthorizationError, match="lacks the role cto"):
        approve(manager, ALICE)
    approve(caller(BOB, "cto"), ALICE)


def test_break_glass_runs_the_kill_switch_and_dry_runs_only_and_never_approves() -> None:
    glass = Caller.break_glass()
    request(glass, "emergency")
    request(glass, "2", dry_run=True)
    with pytest.raises(AuthorizationError, match="direct invoke may run only level emergency"):
        request(glass, "1")
    with pytest.raises(AuthorizationError, match="must come from a verified principal"):
        approve(glass, ALICE)


def test_a_requester_may_withdraw_by_rejecting() -> None:
    approve(caller(ALICE, "engineering_manager"), ALICE, decision="reject")


def test_roles_and_principals_parse_strictly() -> None:
    assert parse_roles(" On_Call, cto ") == frozenset({"on_call", "cto"})
    session = parse_principal("arn:aws:sts::123456789012:assumed-role/Operators/carol@example.com")
    assert (session.kind, session.iam_name) == ("assumed_role", "Operators")
    assert not session.same_as("arn:aws:sts::123456789012:assumed-role/Operators/dave@example.com")
    with pytest.raises(PrincipalError, match="not an IAM user"):
        parse_principal("alice@example.com")
