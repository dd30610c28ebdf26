"""Where a command acts: resolve `--target local` or `--stack NAME [--region R]` into boto3 clients and the
stack's outputs.

- `--stack NAME`: a deployed SAM stack. Its resources come from the CloudFormation stack outputs
  (`describe_stacks`), the same outputs template.yaml declares.
- `--target local` (the default): the local AWS. In order, it uses
  1. a `LocalStack` this process is already running (a drill, or a test that called `use_local_stack`);
  2. a `failsafe local up` server, found through its state file (`.failsafe/local.json`);
  3. otherwise an embedded stack started for this command (and stopped when it ends).

Anything that prevents reaching the target raises `TargetError` with one line that names the fix.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import boto3
import typer

from failsafe_tools.local.server import DEFAULT_STATE_FILE, ServerError, healthy, pid_alive, read_state

TargetKind = Literal["embedded", "local", "stack"]

TargetOpt = Annotated[
    str,
    typer.Option("--target", help="'local' (default): the local AWS; see also --stack.", show_default=True),
]
StackOpt = Annotated[
    str | None, typer.Option("--stack", help="Name of a deployed failsafe SAM stack (overrides --target).")
]
RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS region of --stack.")]
StateFileOpt = Annotated[
    Path, typer.Option("--state-file", help="State file of a running `failsafe local up`.", show_default=True)
]
TemplateOpt = Annotated[
    Path, typer.Option("--template", help="template.yaml for an embedded local stack.", show_default=True)
]


class TargetError(RuntimeError):
    """The target cannot be reached or lacks something; the message names the fix."""


class FunctionFailed(RuntimeError):
    """A Lambda function of the stack answered with an error (its own message, one line)."""

    def __init__(self, function: str, error_type: str, message: str) -> None:
        self.function = function
        self.error_type = error_type
        self.message = message
        super().__init__(message)


@dataclass
class Target:
    kind: TargetKind
    description: str
    region: str
    outputs: dict[str, str]
    factory: Callable[[str], Any]
    local_stack: Any = None
    owned: bool = False
    # The local stack's function URL gateway and demo operators' credentials file (cli/function_url.py).
    function_urls: str | None = None
    credentials_file: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.factory(service)
        return self._clients[service]

    def output(self, key: str) -> str:
        value = self.outputs.get(key)
        if not value:
            raise TargetError(
                f"{self.description} has no output {key!r}; deploy the current template.yaml "
                "(sam build && sam deploy) so every output the CLI needs exists"
            )
        return value

    def now(self) -> datetime:
        if self.local_stack is not None:
            return self.local_stack.clock.now()  # type: ignore[no-any-return]
        return datetime.now(UTC)

    def close(self) -> None:
        if self.owned and self.local_stack is not None:
            self.local_stack.stop()
        self._clients.clear()

    # -- Lambda -------------------------------------------------------------------------------------------
    def call(self, url_key: str, payload: dict[str, Any], *, profile: str | None = None) -> dict[str, Any]:
        """POST `payload` to the function URL output `url_key`, signed with the caller's AWS credentials
        (who acts is that principal). An error answer raises `FunctionFailed` with its message."""
        from failsafe_tools.cli.function_url import CredentialsError, Signer, UrlCallFailed, call

        signer = Signer(self.region, credentials_file=self.credentials_file, profile=profile)
        try:
            return call(self.output(url_key), payload, signer=signer, gateway=self.function_urls)
        except CredentialsError as exc:
            raise TargetError(str(exc)) from None
        except UrlCallFailed as exc:
            raise FunctionFailed(url_key.removesuffix("Url"), exc.error_type, exc.message) from None

    def invoke(self, output_key: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Invoke the stack's function named by `output_key` synchronously and return its JSON result.

        A function error raises `FunctionFailed` with the function's own message (one line)."""
        name = self.output(output_key)
        response = self.client("lambda").invoke(
            FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
        )
        raw = response["Payload"].read()
        try:
            body: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        if response.get("FunctionError"):
            if isinstance(body, dict):
                message = str(body.get("errorMessage") or body)
                kind = str(body.get("errorType") or response["FunctionError"])
            else:
                message, kind = str(body), str(response["FunctionError"])
            raise FunctionFailed(
                output_key.removesuffix("Name"), kind, message.splitlines()[0] if message else kind
            )
        if not isinstance(body, dict):
            raise TargetError(f"{output_key.removesuffix('Name')} returned {body!r}, not a JSON object")
        return body


_in_process: list[Any] = []


@contextlib.contextmanager
def use_local_stack(stack: Any) -> Iterator[None]:
    """Make `--target local` use `stack` (a running `LocalStack`) in this process."""
    _in_process.append(stack)
    try:
        yield
    finally:
        _in_process.remove(stack)


def from_local_stack(
    stack: Any, *, owned: bool = False, description: str = "the in-process local stack"
) -> Target:
    return Target(
        kind="embedded",
        description=description,
        region=stack.region,
        outputs=dict(stack.outputs),
        factory=stack.client,
        local_stack=stack,
        owned=owned,
        function_urls=stack.function_urls.url if stack.function_urls is not None else None,
    )


def resolve(
    *,
    target: str = "local",
    stack: str | None = None,
    region: str | None = None,
    state_file: Path = DEFAULT_STATE_FILE,
    template: Path = Path("template.yaml"),
    start_embedded: bool = True,
    notice: Callable[[str], None] | None = None,
) -> Target:
    if stack:
        return _deployed(stack, region)
    if target != "local":
        raise TargetError(
            f"--target {target}: unknown target; use --target local or --stack NAME [--region R]"
        )
    if _in_process:
        return from_local_stack(_in_process[-1])
    try:
        state = read_state(state_file)
    except ServerError as exc:
        raise TargetError(str(exc)) from None
    if state is not None:
        if not pid_alive(state.pid) or not healthy(state):
            raise TargetError(
                f"the local stack in {state_file} (pid {state.pid}) is not answering on {state.endpoint}; "
                "run `failsafe local down` then `failsafe local up --detach`"
            )
        return _server(state)
    if not start_embedded:
        raise TargetError("no local stack is running; start one with `failsafe local up --detach`")
    if not template.is_file():
        raise TargetError(
            f"no local stack is running and {template} does not exist; run from the repository root, pass "
            "--template, start `failsafe local up --detach`, or use --stack NAME"
        )
    from failsafe_tools.local.stack import LocalStack

    if notice is not None:
        notice("no `failsafe local up` is running: starting an embedded local stack for this command")
    from failsafe.handlers._common import reset_runtimes

    started = time.monotonic()
    reset_runtimes()  # new stack, new Lambda containers: no handler runtime of an earlier stack survives
    local = LocalStack.start(template)
    if notice is not None:
        notice(
            f"embedded local stack ready in {time.monotonic() - started:.1f} s (it stops with this command)"
        )
    return from_local_stack(local, owned=True, description="an embedded local stack")


def _server(state: Any) -> Target:
    endpoint = state.endpoint
    region = state.region
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)

    def factory(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]

    return Target(
        kind="local",
        description=f"the local stack at {endpoint}",
        region=region,
        outputs=dict(state.outputs),
        factory=factory,
        function_urls=state.function_urls,
        credentials_file=state.credentials_file,
    )


def _deployed(name: str, region: str | None) -> Target:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        session = boto3.Session(region_name=region) if region else boto3.Session()
        if session.region_name is None:
            raise TargetError(
                f"--stack {name}: no AWS region configured; pass --region (e.g. --region eu-west-1)"
            )
        cloudformation = session.client("cloudformation")
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except NoCredentialsError:
        raise TargetError(
            f"--stack {name}: no AWS credentials found; run `aws configure` or `aws sso login`, "
            "or set AWS_PROFILE"
        ) from None
    except NoRegionError:
        raise TargetError(f"--stack {name}: no AWS region configured; pass --region") from None
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if "does not exist" in message:
            raise TargetError(
                f"--stack {name}: no such stack in {session.region_name}; check the name (aws cloudformation "
                "list-stacks) or pass --region"
            ) from None
        raise TargetError(f"--stack {name}: {message}") from None
    except BotoCoreError as exc:
        raise TargetError(
            f"--stack {name}: cannot reach CloudFormation ({exc}); check network and --region"
        ) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return Target(
        kind="stack",
        description=f"stack {name} ({session.region_name})",
        region=str(session.region_name),
        outputs=outputs,
        factory=_session_factory(session),
    )


def _session_factory(session: boto3.Session) -> Callable[[str], Any]:
    def factory(service: str) -> Any:
        return session.client(service)  # type: ignore[call-overload]

    return factory
