"""`LocalStack`: the whole embedded AWS in one object, provisioned from template.yaml.

    with LocalStack.start("template.yaml", clock=ManualClock()) as stack:
        table = stack.outputs["StateTableName"]
        stack.client("dynamodb").describe_table(TableName=table)
        stack.tick(900)          # 15 simulated minutes: alarms evaluated, deployments progressed every minute

`start()` puts every piece together, in this order:

1. the clock (`failsafe_tools.local.clock.set_clock`): the given one, or `SpeedClock(speed)`;
2. the pieces moto lacks, each through its own `install()`: the in-process Lambda runtime
   (`lambda_runtime`), Step Functions on the clock (`stepfunctions`), the alarm evaluator and EventBridge
   delivery (`alarms`, which installs `eventbridge`), and AppConfig (`appconfig`);
3. `mock_aws` with moto's ASL interpreter on (`execute_state_machine`); the AWS managed IAM policies that
   SAM roles attach by ARN are added on demand (`provision.moto_iam`);
4. with `server=True`, moto's `ThreadedMotoServer` on 127.0.0.1 over the same backends, so other processes
   share this local AWS through `endpoint_url`;
5. provisioning of the template (`provision`), registering every function's CodeUri with the
   Lambda runtime;
6. the AppConfig agent endpoint on 127.0.0.1 and the ticker thread, which every `tick_interval` simulated
   seconds evaluates the alarms and then progresses AppConfig deployments (in that order, so a deployment
   sees the alarm states of the same instant, as AppConfig's monitors do).

One LocalStack runs per process at a time: moto's backends are process-global.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import boto3

from failsafe_tools.drill.pagerduty import PagerDutySink
from failsafe_tools.local import (
    alarms,
    api_errors,
    appconfig,
    cloudformation,
    eventbridge,
    lambda_runtime,
    stepfunctions,
)
from failsafe_tools.local.clock import Clock, ClockTicker, SpeedClock, set_clock
from failsafe_tools.local.function_urls import FunctionUrlGateway
from failsafe_tools.local.lambda_sandbox import PackageRuntime
from failsafe_tools.local.provision import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    ProgressEvent,
    ProvisionedStack,
    provision,
)
from failsafe_tools.local.provision.moto_iam import ensure_aws_managed_policy
from failsafe_tools.local.provision.yaml_loader import load_template

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig

DEFAULT_TICK_INTERVAL = 60.0
"""Simulated seconds between two alarm evaluations (CloudWatch evaluates alarms once a minute)."""


class LocalStackError(RuntimeError):
    """The local stack cannot start or is used wrongly."""


@dataclass
class TickResult:
    """What a `tick()` changed: alarm state changes (events sent) and AppConfig deployments that moved."""

    alarm_changes: list[Any] = field(default_factory=list)
    deployment_changes: list[Any] = field(default_factory=list)


class StackTicker(ClockTicker):
    """Every `interval` simulated seconds: evaluate all alarms, then progress all AppConfig deployments."""

    def __init__(self, interval: float = DEFAULT_TICK_INTERVAL, poll: float = 0.02) -> None:
        super().__init__(self.step, interval, name="failsafe-local-ticker", poll=poll)
        self._lock = threading.Lock()

    def step(self) -> TickResult:
        with self._lock:
            return TickResult(alarms.get_evaluator().evaluate_all(), appconfig.tick())


def install_pieces() -> list[Callable[[], None]]:
    """Install every piece of the embedded AWS into moto (each `install()` is idempotent).

    Returns the uninstallers of the pieces this call installed (AppConfig has none: its backend class stays).
    """
    undo: list[Callable[[], None]] = []
    if not api_errors.installed():
        api_errors.install()
        undo.append(api_errors.uninstall)
    if not cloudformation.installed():
        cloudformation.install()
        undo.append(cloudformation.uninstall)
    if not lambda_runtime.is_installed():
        lambda_runtime.install()
        undo.append(lambda_runtime.uninstall)
    if not stepfunctions.is_installed():
        stepfunctions.install()
        undo.append(stepfunctions.uninstall)
    if not alarms.installed():
        alarms.install()  # also installs failsafe_tools.local.eventbridge, and alarms.uninstall() removes it
        undo.append(alarms.uninstall)
    appconfig.install()
    return undo


MOTO_CONFIG: DefaultConfig = cast("DefaultConfig", {**stepfunctions.PARSER_CONFIG})
"""The `mock_aws` configuration of the local stack: moto's ASL interpreter on."""
_active_lock = threading.Lock()
_active: list[LocalStack] = []


class LocalStack:
    """A running local AWS with the template provisioned. Create it with `LocalStack.start(...)`."""

    def __init__(
        self,
        *,
        clock: Clock,
        region: str,
        account_id: str,
        tick_interval: float,
    ) -> None:
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.ticker = StackTicker(tick_interval)
        self.stack: ProvisionedStack | None = None
        self.endpoint_url: str | None = None
        self.agent_url: str | None = None
        self._mock: Any = None
        self._server: Any = None
        self._agent: appconfig.AppConfigAgent | None = None
        self._previous_clock: Clock | None = None
        self._previous_env: dict[str, str | None] = {}
        self._clients: dict[str, Any] = {}
        self._uninstall: list[Callable[[], None]] = []
        self._stopped = False
        self.pagerduty: PagerDutySink | None = None
        self.function_urls: FunctionUrlGateway | None = None

    # ---- lifecycle ----------------------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        template_path: str | Path = "template.yaml",
        parameters: Mapping[str, Any] | None = None,
        *,
        clock: Clock | None = None,
        speed: float = 60.0,
        server: bool = False,
        port: int = 0,
        host: str = "127.0.0.1",
        agent: bool = True,
        agent_port: int = 0,
        ticker: bool = True,
        tick_interval: float = DEFAULT_TICK_INTERVAL,
        stack_name: str = "failsafe",
        region: str = DEFAULT_REGION,
        progress: Callable[[ProgressEvent], None] | None = None,
        lambda_python: str | Path | None = None,
    ) -> LocalStack:
        """Start the local AWS and provision `template_path` into it.

        `lambda_python`: run every python function in a sandbox process of this interpreter (one with only
        what the Lambda runtime has, `make lambda-python`) from its own code package; give it the `sam build`
        output (`.aws-sam/build/template.yaml`) so that what runs is what ships. Implies `server=True`.
        Without it, handlers run in this process from the source tree (fast, for tests).

        `clock`: a `ManualClock` for tests (time moves with `tick()`), else `SpeedClock(speed)` is used.
        `server`: also serve moto on http://{host}:{port} (port 0 picks a free one; see `endpoint_url`).
        `parameters`: template parameter overrides. `ticker`: run alarm evaluation and AppConfig progression
        in the background every `tick_interval` simulated seconds. Unless `parameters` name a
        `PagerDutyBaseUrl`, pages go to a PagerDuty stand-in on 127.0.0.1 (`pagerduty`, which keeps what it
        received): a local stack never reaches the real PagerDuty.
        """
        path = Path(template_path)
        if not path.is_file():
            raise LocalStackError(f"template {path.resolve()} not found")
        with _active_lock:
            if _active:
                raise LocalStackError("a LocalStack is already running in this process; stop() it first")
            self = cls(
                clock=clock or SpeedClock(speed),
                region=region,
                account_id=DEFAULT_ACCOUNT,
                tick_interval=tick_interval,
            )
            _active.append(self)
        try:
            self._boot(
                path=path,
                parameters=parameters,
                server=server,
                host=host,
                port=port,
                agent=agent,
                agent_port=agent_port,
                stack_name=stack_name,
                progress=progress,
                lambda_python=Path(lambda_python) if lambda_python is not None else None,
            )
            if ticker:
                self.ticker.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _boot(
        self,
        *,
        path: Path,
        parameters: Mapping[str, Any] | None,
        server: bool,
        host: str,
        port: int,
        agent: bool,
        agent_port: int,
        stack_name: str,
        progress: Callable[[ProgressEvent], None] | None,
        lambda_python: Path | None = None,
    ) -> None:
        from moto import mock_aws

        self._previous_clock = set_clock(self.clock)
        for key, value in (("AWS_DEFAULT_REGION", self.region), ("AWS_REGION", self.region)):
            self._previous_env[key] = os.environ.get(key)
            os.environ[key] = value
        self._uninstall = install_pieces()
        self._mock = mock_aws(config=MOTO_CONFIG)
        self._mock.start()
        declared = load_template(path).get("Parameters") or {}
        if "PagerDutyBaseUrl" in declared and "PagerDutyBaseUrl" not in (parameters or {}):
            self.pagerduty = PagerDutySink(now=self.clock.now)
            parameters = {**(parameters or {}), "PagerDutyBaseUrl": self.pagerduty.start()}
        if server or lambda_python is not None:
            from moto.server import ThreadedMotoServer

            from failsafe_tools.local.server import check_port_free

            check_port_free(host, port)  # moto's server thread would die silently and never become ready
            self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
            self._server.start()
            bound_host, bound_port = self._server.get_host_and_port()
            self.endpoint_url = f"http://{bound_host}:{bound_port}"
        lambda_runtime.use_package_runtime(
            PackageRuntime(lambda_python, self.endpoint_url, {"AWS_DEFAULT_REGION": self.region})
            if lambda_python is not None and self.endpoint_url is not None
            else None
        )
        self.stack = provision(
            path,
            client=self.client,
            parameters=parameters,
            stack_name=stack_name,
            region=self.region,
            account_id=self.account_id,
            render_definition=stepfunctions.render_definition,
            on_function=[register_code],
            progress=progress,
            ensure_managed_policy=lambda arn: ensure_aws_managed_policy(arn, self.account_id),
        )
        cloudformation.register(self.stack, path.read_text(encoding="utf-8"))
        # The AWS_IAM function URLs (ManualRollback, ApprovalCallback), SigV4-checked against local IAM.
        self.function_urls = FunctionUrlGateway(
            account_id=self.account_id, region=self.region, lambda_client=lambda: self.client("lambda")
        )
        self.function_urls.start()
        if agent:
            self._agent = appconfig.start_agent(
                port=agent_port, region=self.region, account_id=self.account_id
            )
            self.agent_url = self._agent.url
        if lambda_python is not None:
            lambda_runtime.prewarm(list(self.stack.function_code), self.region)

    def stop(self) -> None:
        """Stop the ticker, the agent, the server and moto; restore the previous clock. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.ticker.stop()
        if self._agent is not None:
            self._agent.stop()
        lambda_runtime.close_package_runtime()
        if self.pagerduty is not None:
            self.pagerduty.stop()
        if self.function_urls is not None:
            self.function_urls.stop()
        if self._server is not None:
            self._server.stop()
        if self.stack is not None:
            for name in self.stack.function_code:
                lambda_runtime.unregister_code_root(name)
        if self._mock is not None:
            self._mock.stop()
        for uninstall in reversed(self._uninstall):
            uninstall()
        if self._previous_clock is not None:
            set_clock(self._previous_clock)
        for key, value in self._previous_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._clients.clear()
        with _active_lock:
            if self in _active:
                _active.remove(self)

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- using it -----------------------------------------------------------------------------------------
    @property
    def provisioned(self) -> ProvisionedStack:
        if self.stack is None:
            raise LocalStackError("the stack is not provisioned")
        return self.stack

    @property
    def outputs(self) -> dict[str, str]:
        """The template's Outputs, resolved (as `describe_stacks` shows them on AWS)."""
        return self.provisioned.outputs

    def physical_id(self, logical_id: str) -> str:
        return self.provisioned.physical_id(logical_id)

    def client(self, service_name: str) -> Any:
        """A boto3 client bound to this local AWS (in-process; the same backends the server serves)."""
        if self._stopped:
            raise LocalStackError("the local stack is stopped")
        if service_name not in self._clients:
            self._clients[service_name] = boto3.client(
                service_name,  # type: ignore[call-overload]
                region_name=self.region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return self._clients[service_name]

    def tick(self, seconds: float, step: float | None = None, *, drain: bool = True) -> TickResult:
        """Move the clock `seconds` forward in steps of `step` (default: the tick interval); after each step
        evaluate every alarm and progress every AppConfig deployment. Works with ManualClock and SpeedClock.

        With `drain`, each step also waits (wall time, up to 30 s) for what it set off: EventBridge deliveries
        and asynchronous Lambda invocations (EventBridge invokes Lambda targets asynchronously, as AWS
        does), so their effects are visible when `tick` returns."""
        if seconds < 0:
            raise ValueError(f"tick({seconds}): time only moves forward")
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise LocalStackError(
                f"{type(self.clock).__name__} cannot be advanced; use ManualClock or SpeedClock"
            )
        step = self.ticker.interval if step is None else step
        if step <= 0:
            raise ValueError(f"tick step {step}: must be > 0")
        result = TickResult()
        remaining = float(seconds)
        while True:
            moved = min(step, remaining)
            if moved > 0:
                advance(moved)
                remaining -= moved
            one = self.ticker.step()
            if drain:
                eventbridge.flush()
                lambda_runtime.drain_async()
            result.alarm_changes.extend(one.alarm_changes)
            result.deployment_changes.extend(one.deployment_changes)
            if remaining <= 1e-9:
                return result


def register_code(function_name: str, code_root: Path | None, _description: Mapping[str, Any]) -> None:
    """Provisioning hook: the in-process Lambda runtime imports `function_name`'s handler from its CodeUri."""
    if code_root is not None:
        lambda_runtime.register_code_root(function_name, code_root)
