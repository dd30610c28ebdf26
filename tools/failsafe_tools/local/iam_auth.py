"""Demo operators of the local stack: IAM users with failsafe role tags, and a credentials file for them.

`failsafe local up` creates them and writes `.failsafe/credentials` (one profile per operator), so

    export AWS_SHARED_CREDENTIALS_FILE=.failsafe/credentials
    AWS_PROFILE=erin failsafe rollback --level 3 --reason "..."     # an engineering manager asks
    AWS_PROFILE=carol failsafe approve <incident> --reason "..."     # the CTO approves

signs each request with that operator's keys; the local function URLs verify the signature against local
IAM (local/function_urls.py) and the functions read the roles from the user's `failsafe-roles` tag, exactly
as on AWS.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from failsafe.domain.authorization import ROLE_TAG_KEY

DEFAULT_CREDENTIALS_FILE = Path(".failsafe/credentials")


@dataclass(frozen=True)
class Operator:
    name: str
    roles: tuple[str, ...]
    arn: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""


# Two on-call engineers, an engineering manager and a CTO (seed 004's roles).
DEMO_OPERATORS: tuple[Operator, ...] = (
    Operator("alice", ("on_call",)),
    Operator("bob", ("on_call",)),
    Operator("erin", ("engineering_manager",)),
    Operator("carol", ("cto",)),
)


def create_operators(iam: Any, operators: tuple[Operator, ...] = DEMO_OPERATORS) -> list[Operator]:
    """Create each operator as an IAM user tagged with its roles (an existing one is kept as it is), with a
    new access key; return them with their keys."""
    created = []
    for op in operators:
        try:
            user = iam.create_user(
                UserName=op.name,
                Path="/failsafe/operators/",
                Tags=[{"Key": ROLE_TAG_KEY, "Value": " ".join(op.roles)}],
            )["User"]
        except iam.exceptions.EntityAlreadyExistsException:
            user = iam.get_user(UserName=op.name)["User"]
        key = iam.create_access_key(UserName=op.name)["AccessKey"]
        created.append(Operator(op.name, op.roles, user["Arn"], key["AccessKeyId"], key["SecretAccessKey"]))
    return created


def write_credentials(
    operators: list[Operator], path: Path = DEFAULT_CREDENTIALS_FILE, region: str = ""
) -> Path:
    """Write one profile per operator (AWS shared credentials format, mode 0600)."""
    config = configparser.ConfigParser()
    for op in operators:
        config[op.name] = {
            "aws_access_key_id": op.access_key_id,
            "aws_secret_access_key": op.secret_access_key,
            **({"region": region} if region else {}),
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        config.write(handle)
    return path
