"""Lambda function URLs with `AuthType: AWS_IAM` for the local stack: SigV4 checked against local IAM.

moto records a function URL config (`https://<id>.lambda-url.<region>.on.aws`) but does not serve it. This
gateway does, on http://127.0.0.1:<port>: a client signs its request for the real URL (the `Host` header is
the function URL's host, as botocore signs it) and sends it here. The gateway

1. finds the function whose URL has that host (moto's function URL configs);
2. authenticates the SigV4 signature (`Authorization`, `X-Amz-Date`, `X-Amz-Security-Token`) with the
   secret moto keeps for the access key: an IAM user's access key, or an STS assumed-role session
   (`moto.iam.access_control.create_access_key`), recomputing the signature with botocore's `SigV4Auth`;
3. invokes the function with a function URL event (payload 2.0) whose `requestContext.authorizer.iam`
   names the verified caller, as Lambda does, and answers with the function's HTTP response.

A missing, unknown or wrong signature is a 403 before the function runs, as on AWS. Not modelled: the IAM
policy evaluation of `lambda:InvokeFunctionUrl` (any valid local principal may call), the 5-minute
signature expiry (the local clock is simulated) and payloads over 6 MB.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest


class SignatureError(PermissionError):
    """The request is not signed by a known local principal (HTTP 403, as Lambda answers)."""


@dataclass(frozen=True)
class VerifiedCaller:
    arn: str
    access_key: str
    account_id: str
    user_id: str


def _between(text: str, first: str, second: str) -> str:
    return text.partition(first)[2].partition(second)[0]


def verify_sigv4(
    *, account_id: str, method: str, url: str, headers: dict[str, str], body: bytes
) -> VerifiedCaller:
    """The caller of a SigV4-signed request, authenticated with the secret moto holds for its access key."""
    from moto.iam.access_control import CreateAccessKeyFailure, create_access_key
    from moto.utilities.utils import get_partition

    lower = {k.lower(): v for k, v in headers.items()}
    auth = lower.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        raise SignatureError("missing SigV4 Authorization header: sign the request with AWS credentials")
    credential = _between(auth, "Credential=", ",").split("/")
    if len(credential) != 5 or "x-amz-date" not in lower:
        raise SignatureError("malformed SigV4 Authorization header")
    access_key_id, _, region, service, _ = credential
    moto_headers = dict(headers)
    if "x-amz-security-token" in lower:
        moto_headers["X-Amz-Security-Token"] = lower["x-amz-security-token"]
    try:
        key = create_access_key(
            account_id=account_id,
            partition=get_partition(region),
            access_key_id=access_key_id,
            headers=moto_headers,
        )
    except CreateAccessKeyFailure as exc:
        raise SignatureError(
            f"the security token included in the request is invalid ({exc.reason}): access key "
            f"{access_key_id} is not a local IAM user's or assumed-role session's"
        ) from None
    signed = _between(auth, "SignedHeaders=", ",").split(";")
    request = AWSRequest(
        method=method,
        url=url,
        data=body,
        headers={k: v for k, v in headers.items() if k.lower() in signed},
    )
    request.context["timestamp"] = lower["x-amz-date"]
    signer = SigV4Auth(key.create_credentials(), service, region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if expected != _between(auth, "Signature=", ","):
        raise SignatureError("the request signature we calculated does not match the signature you provided")
    return VerifiedCaller(
        arn=key.arn,
        access_key=access_key_id,
        account_id=account_id,
        user_id=_user_id(account_id, get_partition(region), key.arn, access_key_id),
    )


def _user_id(account_id: str, partition: str, arn: str, access_key_id: str) -> str:
    """The unique id Lambda reports as `userId`: AIDA... for a user, AROA...:session for a role session."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    if ":user/" in arn:
        return str(iam_backends[account_id][partition].get_user(arn.rsplit("/", 1)[-1]).id)
    for role in sts_backends[account_id][partition].assumed_roles:
        if role.access_key_id == access_key_id:
            return str(role.user_id)
    return access_key_id


def url_event(
    *, caller: VerifiedCaller, host: str, method: str, path: str, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    """The function URL event (payload format 2.0) Lambda builds for a verified AWS_IAM request."""
    url_id = host.split(".", 1)[0]
    split = urlsplit(path)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": split.path or "/",
        "rawQueryString": split.query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": url_id,
            "authorizer": {
                "iam": {
                    "accessKey": caller.access_key,
                    "accountId": caller.account_id,
                    "callerId": caller.user_id,
                    "cognitoIdentity": None,
                    "principalOrgId": None,
                    "userArn": caller.arn,
                    "userId": caller.user_id,
                }
            },
            "domainName": host,
            "domainPrefix": url_id,
            "http": {
                "method": method,
                "path": split.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


class FunctionUrlGateway:
    """Serves the stack's AWS_IAM function URLs on 127.0.0.1. `url` is where to send signed requests."""

    def __init__(self, *, account_id: str, region: str, lambda_client: Callable[[], Any]) -> None:
        self.account_id = account_id
        self.region = region
        self._lambda = lambda_client
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the function URL gateway is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def function_for(self, host: str) -> tuple[str, str] | None:
        """(function name, auth type) of the function URL with this host, if any."""
        from moto.awslambda.models import lambda_backends

        backend = lambda_backends[self.account_id][self.region]
        for fn in backend.list_functions():
            config = getattr(fn, "url_config", None)
            if config is not None and urlsplit(config.url).hostname == host.split(":", maxsplit=1)[0]:
                return fn.function_name, str(config.config.get("AuthType"))
        return None

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        host = {k.lower(): v for k, v in headers.items()}.get("host", "")
        found = self.function_for(host)
        if found is None:
            return _json(404, {"Message": f"no function URL with host {host!r} in the local stack"})
        name, auth_type = found
        if auth_type != "AWS_IAM":
            return _json(403, {"Message": f"function URL of {name}: only AuthType AWS_IAM is served locally"})
        try:
            caller = verify_sigv4(
                account_id=self.account_id,
                method=method,
                url=f"https://{host}{path}",
                headers=headers,
                body=body,
            )
        except SignatureError as exc:
            return _json(403, {"Message": str(exc)})
        event = url_event(caller=caller, host=host, method=method, path=path, headers=headers, body=body)
        response = self._lambda().invoke(
            FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        raw = response["Payload"].read()
        if response.get("FunctionError"):
            # Lambda answers 502 with no detail; the local stack adds the function's error to debug it.
            return _json(502, {"Message": f"Internal Server Error ({_text(raw)})"})
        result = json.loads(raw) if raw else None
        if isinstance(result, dict) and "statusCode" in result:
            out = result.get("body") or ""
            data = base64.b64decode(out) if result.get("isBase64Encoded") else str(out).encode()
            return int(result["statusCode"]), dict(result.get("headers") or {}), data
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()

    def start(self) -> str:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, data = gateway.handle(
                    self.command, self.path, dict(self.headers.items()), body
                )
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = do_PUT = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="function-urls", daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")[:1000]


def _json(status: int, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json"}, json.dumps(data).encode()
