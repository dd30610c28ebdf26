"""AWS managed IAM policies in moto, on demand.

A SAM function role attaches AWS managed policies by ARN (AWSLambdaBasicExecutionRole,
AWSXrayWriteOnlyAccess). moto knows their documents (`moto.iam.aws_managed_policies`) but loads all ~1,300
of them into every IAM backend only with `iam.load_aws_managed_policies`, which costs about half a second per
start. Instead, the provisioner asks for the ones a role attaches: `ensure_aws_managed_policy` adds that one
policy, with AWS's document, to moto's IAM backend. The moto internals it touches are checked, and a change
fails loudly.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from failsafe_tools.local.provision.errors import ProvisionError

_lock = threading.Lock()
_documents: dict[str, Any] = {}


def _policy_data() -> dict[str, Any]:
    with _lock:
        if not _documents:
            from moto.iam.aws_managed_policies import aws_managed_policies_data

            _documents.update(json.loads(aws_managed_policies_data))
        return _documents


def ensure_aws_managed_policy(policy_arn: str, account_id: str) -> bool:
    """Make AWS managed policy `policy_arn` attachable in moto's IAM; False when moto has no data for it."""
    parts = policy_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or parts[4] != "aws" or not parts[5].startswith("policy/"):
        return False
    partition = parts[1]
    name = parts[5].rsplit("/", 1)[-1]
    data = _policy_data().get(name)
    if data is None:
        return False
    from moto.iam import models

    backend_dict = getattr(models, "iam_backends", None)
    policy_cls = getattr(models, "AWSManagedPolicy", None)
    if backend_dict is None or policy_cls is None or not hasattr(policy_cls, "from_data"):
        raise ProvisionError(
            "moto changed: moto.iam.models.iam_backends / AWSManagedPolicy.from_data are gone; "
            "failsafe_tools.local.provision.moto_iam cannot add AWS managed policies "
            "(pyproject pins moto>=5.2.5,<5.3)"
        )
    backend = backend_dict[account_id][partition]
    managed = getattr(backend, "managed_policies", None)
    if not isinstance(managed, dict):
        raise ProvisionError("moto changed: IAMBackend.managed_policies is no longer a dict")
    region = {"aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}.get(partition, "us-east-1")
    policy = policy_cls.from_data(name, account_id, region, data)
    if policy.arn != policy_arn:
        return False
    managed.setdefault(policy.arn, policy)
    return True
