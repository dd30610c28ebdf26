"""Signed calls to the stack's AWS_IAM function URLs (ManualRollback, ApprovalCallback).

The request is signed with SigV4 (service `lambda`) by the standard AWS credential chain: `AWS_PROFILE`,
environment variables, SSO, instance roles. Who acts is the principal of those credentials, never a name
the operator types. For the local stack the request goes to its gateway (`failsafe local up`'s
`function_urls`) with the function URL's own `Host`, and the demo operators' profiles are read from the
credentials file the local stack wrote unless `AWS_SHARED_CREDENTIALS_FILE` names another.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError, ProfileNotFound


class CredentialsError(RuntimeError):
    """No usable AWS credentials to sign with (the message names the fix)."""


class UrlCallFailed(RuntimeError):
    """The function answered with an error status: its own message, and the HTTP status."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        self.status = status
        self.error_type = error_type
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Signer:
    region: str
    credentials_file: str | None = None
    profile: str | None = None

    def session(self) -> boto3.Session:
        core = botocore.session.Session(profile=self.profile or os.environ.get("AWS_PROFILE"))
        if self.credentials_file and not os.environ.get("AWS_SHARED_CREDENTIALS_FILE"):
            core.set_config_variable("credentials_file", self.credentials_file)
        try:
            return boto3.Session(botocore_session=core, region_name=self.region)
        except ProfileNotFound as exc:
            raise CredentialsError(f"{exc}; set AWS_PROFILE to one of your profiles") from None

    def credentials(self) -> Any:
        try:
            creds = self.session().get_credentials()
        except (BotoCoreError, ProfileNotFound) as exc:
            raise CredentialsError(f"cannot load AWS credentials: {exc}") from None
        if creds is None:
            where = f" (or a profile of {self.credentials_file})" if self.credentials_file else ""
            raise CredentialsError(
                "no AWS credentials to sign with: set AWS_PROFILE"
                + where
                + ", run `aws sso login`, or export "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            )
        return creds.get_frozen_credentials()


def call(
    url: str, payload: dict[str, Any], *, signer: Signer, gateway: str | None = None, timeout: float = 90.0
) -> dict[str, Any]:
    """POST `payload` to the function URL `url`, signed; the JSON result, or `UrlCallFailed`."""
    body = json.dumps(payload).encode()
    host = urlsplit(url).netloc
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"Content-Type": "application/json", "Host": host}
    )
    SigV4Auth(signer.credentials(), "lambda", signer.region).add_auth(request)
    target = url if gateway is None else gateway.rstrip("/") + (urlsplit(url).path or "/")
    http = urllib.request.Request(target, data=body, method="POST", headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(http, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            data = {}
        message = str(data.get("message") or data.get("Message") or raw.decode("utf-8", "replace")[:300])
        raise UrlCallFailed(exc.code, str(data.get("error") or f"HTTP {exc.code}"), message) from None
    except urllib.error.URLError as exc:
        raise UrlCallFailed(0, "Unreachable", f"cannot reach {target}: {exc.reason}") from None
    result = json.loads(raw) if raw else None
    if not isinstance(result, dict):
        raise UrlCallFailed(200, "BadResponse", f"{url} returned {result!r}, not a JSON object")
    return result
