"""Operators are AWS principals: the verified ARN of whoever calls, normalised so it compares safely.

The caller of the function URLs (`AuthType: AWS_IAM`) is the principal Lambda verified from the SigV4
signature (`requestContext.authorizer.iam.userArn`); nothing in a request body names who acts.

Normalisation (`parse_principal`): Unicode NFKC (a fullwidth letter is its ASCII letter), format
characters removed (zero-width spaces and joiners), surrounding white space stripped, and the IAM path
dropped from a user ARN (a user name is unique in the account whatever its path). Principals compare on
`key`, the ARN case folded (IAM user and role names are unique regardless of case).

An STS assumed-role ARN keeps its role and session name: two sessions of one
role are two principals, so the trust policy of an operator role must pin the session name to the person
(IAM Identity Center does; see docs/runbook.md, "Who is who").
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BREAK_GLASS = "break-glass:lambda:InvokeFunction"

_USER = re.compile(
    r"^arn:(?P<partition>[a-z-]+):iam::(?P<account>\d{12}):user/(?:.*/)?(?P<name>[^/]+)$", re.IGNORECASE
)
_ASSUMED = re.compile(
    r"^arn:(?P<partition>[a-z-]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/(?P<session>[^/]+)$",
    re.IGNORECASE,
)
_ROOT = re.compile(r"^arn:(?P<partition>[a-z-]+):iam::(?P<account>\d{12}):root$", re.IGNORECASE)


class PrincipalError(ValueError):
    """An ARN that is not an IAM user, an STS assumed-role session or an account root."""


def _clean(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf").strip()


class Principal(BaseModel):
    """A verified AWS caller. `arn` is normalised (case kept, for display and IAM look-ups); `key` is what
    two principals compare on (the ARN case-folded). `kind` says how to read its roles from IAM."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arn: str = Field(..., min_length=1)
    kind: Literal["user", "assumed_role", "root"]
    account: str
    # The IAM name whose tags carry the roles: the user name, or the role name of a session.
    iam_name: str | None = None

    @property
    def key(self) -> str:
        return self.arn.casefold()

    def same_as(self, other: str | Principal | None) -> bool:
        if other is None:
            return False
        theirs = other.key if isinstance(other, Principal) else principal_key(other)
        return theirs == self.key


def parse_principal(arn: str) -> Principal:
    """The principal of a verified caller ARN (raises `PrincipalError` naming the ARN otherwise)."""
    text = _clean(arn)
    if text.lower().startswith("arn:"):
        text = "arn:" + text[4:]
    if match := _USER.match(text):
        name = match["name"]
        canonical = f"arn:{match['partition']}:iam::{match['account']}:user/{name}"
        return Principal(arn=canonical, kind="user", account=match["account"], iam_name=name)
    if match := _ASSUMED.match(text):
        return Principal(arn=text, kind="assumed_role", account=match["account"], iam_name=match["role"])
    if match := _ROOT.match(text):
        return Principal(arn=text, kind="root", account=match["account"])
    raise PrincipalError(
        f"caller {arn!r} is not an IAM user, an assumed-role session or an account root; "
        "sign the request with the credentials of an operator user or role"
    )


def principal_key(name: str) -> str:
    """What a recorded requester compares on: the key of its principal, or for anything that is not an
    ARN (a record written before identities were verified, a break-glass marker) the cleaned, folded text."""
    try:
        return parse_principal(name).key
    except PrincipalError:
        return _clean(name).casefold()
