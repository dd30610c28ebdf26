"""The failsafe roles of a verified principal, read from its IAM tags (`failsafe-roles`).

An IAM user carries the tag itself; an assumed-role session takes the tags of its role. The account root
holds no failsafe role. A principal IAM does not know (deleted since it signed) holds none either.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from failsafe.domain.authorization import ROLE_TAG_KEY, parse_roles
from failsafe.domain.principal import Principal


class RoleLookupError(RuntimeError):
    """IAM could not be asked (permissions, throttling): the request is refused, never guessed."""


class RoleReader:
    def __init__(self, iam: Any, tag_key: str = ROLE_TAG_KEY) -> None:
        self._iam = iam
        self._tag_key = tag_key

    def roles_of(self, principal: Principal) -> frozenset[str]:
        if principal.iam_name is None:
            return frozenset()
        try:
            if principal.kind == "user":
                tags = self._iam.list_user_tags(UserName=principal.iam_name)["Tags"]
            else:
                tags = self._iam.list_role_tags(RoleName=principal.iam_name)["Tags"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return frozenset()
            raise RoleLookupError(
                f"cannot read the IAM tags of {principal.arn}: "
                f"{exc.response.get('Error', {}).get('Message')}; "
                "the function needs iam:ListUserTags and iam:ListRoleTags"
            ) from exc
        values = [t["Value"] for t in tags if t["Key"] == self._tag_key]
        return parse_roles(" ".join(values))
