"""Who may do what (seed 004), as data in the plan, checked on every path.

Roles are IAM principal tags: the tag `failsafe-roles` on the operator's IAM user, or on the role of an
assumed-role session, lists the failsafe roles of that principal separated by spaces (`on_call`,
`engineering_manager`, `cto`). The template's `OperatorRoleTagKey` names the tag; the local stack's demo
operators carry it.

The default matrix (`DEFAULT_PLAN_DATA`):
- a stage's `authorized_roles` may run it by hand: on-call Level 1 and the kill switch (with a reason, as
  every request), an engineering manager or the CTO Level 2 and above;
- a stage that `requires_approval` is approved only by a principal holding one of its `approver_roles`
  (Level 3's release revert: the CTO role), and never by a principal who asked for it (compared on the
  normalised principal ARN, `Principal.same_as`);
- `break_glass_levels`: a direct `lambda:InvokeFunction` (`sam remote invoke`), whose caller the function
  cannot see, may run these levels (the kill switch) and dry runs, and nothing else: no other level, no
  recover, never an approval.

Alarm-driven escalation runs as the controller: it applies overlay stages by itself (mitigation first) and a
stage that requires approval waits for an approver checked here, exactly as for a manual request.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from failsafe.domain.principal import BREAK_GLASS, Principal

ROLE_TAG_KEY = "failsafe-roles"


class AuthorizationError(PermissionError):
    """Refused: the message names the principal, what it asked for and the role it lacks."""


class Caller(BaseModel):
    """Who sent a request: a verified principal with its roles, or the break-glass direct invoke."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    principal: Principal | None
    roles: frozenset[str] = frozenset()
    via: str = "function_url"

    @classmethod
    def break_glass(cls) -> Caller:
        return cls(principal=None, via="lambda:InvokeFunction")

    @property
    def is_break_glass(self) -> bool:
        return self.principal is None

    @property
    def name(self) -> str:
        """What the audit log and the state record name as the actor."""
        return self.principal.arn if self.principal is not None else BREAK_GLASS

    def describe(self) -> str:
        if self.principal is None:
            return "a direct lambda:InvokeFunction (break-glass; the caller is only in CloudTrail)"
        held = ", ".join(sorted(self.roles)) or "no failsafe role"
        return f"{self.principal.arn} (roles: {held})"


def parse_roles(tag_value: str | None) -> frozenset[str]:
    """The roles a `failsafe-roles` tag value lists (space or comma separated, case folded)."""
    if not tag_value:
        return frozenset()
    return frozenset(part.strip().casefold() for part in tag_value.replace(",", " ").split() if part.strip())


def _roles(names: Iterable[str]) -> str:
    return " or ".join(sorted(names))


def check_request(
    caller: Caller,
    *,
    action: str,
    level: str | None,
    stage_name: str | None,
    authorized_roles: Iterable[str],
    break_glass_levels: Iterable[str],
    dry_run: bool,
) -> None:
    """Raise `AuthorizationError` unless `caller` may make this manual request."""
    what = f"{action} level {level}" if action == "rollback" else action
    if caller.is_break_glass:
        if dry_run or (action == "rollback" and level in set(break_glass_levels)):
            return
        allowed = ", ".join(f"level {lvl}" for lvl in break_glass_levels) or "nothing"
        raise AuthorizationError(
            f"{what} refused for {caller.describe()}: a direct invoke may run only {allowed} and dry runs; "
            "use `failsafe` (it signs with your AWS credentials) or the function URL"
        )
    if dry_run:
        return
    allowed_roles = set(authorized_roles)
    if not allowed_roles & caller.roles:
        target = f" (stage {stage_name})" if stage_name else ""
        raise AuthorizationError(
            f"{what}{target} refused: {caller.describe()} lacks the role {_roles(allowed_roles)}; "
            f"ask someone holding it, or have IAM tag your principal with {ROLE_TAG_KEY}"
        )


def check_approval(
    caller: Caller,
    *,
    incident_id: str,
    stage: str,
    decision: str,
    approver_roles: Iterable[str],
    requesters: Iterable[str | None],
) -> None:
    """Raise `AuthorizationError` unless `caller` may approve (or reject) `stage` of `incident_id`.

    A break-glass invoke never approves nor rejects. A principal who asked for the stage may reject it (a
    requester may withdraw) but never approve it. Approving or rejecting takes one of `approver_roles`."""
    if caller.principal is None:
        raise AuthorizationError(
            f"incident {incident_id}: {decision} of {stage} refused for {caller.describe()}: an approval "
            "must come from a verified principal; use `failsafe approve` with your AWS credentials"
        )
    asked = any(requester and caller.principal.same_as(requester) for requester in requesters)
    if asked and decision == "approve":
        raise AuthorizationError(
            f"incident {incident_id}: {caller.principal.arn} requested {stage} and cannot approve it; ask "
            "another approver"
        )
    if asked:
        return
    roles = set(approver_roles)
    if not roles & caller.roles:
        raise AuthorizationError(
            f"incident {incident_id}: {decision} of {stage} refused: {caller.describe()} lacks the role "
            f"{_roles(roles)}; ask someone holding it"
        )
