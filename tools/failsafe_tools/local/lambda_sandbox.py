"""Lambda sandboxes as processes: run a function's own code package, not the source tree.

With a *package runtime* configured (`use_package_runtime`), every python3.x function of the local stack
runs in a separate process started from `lambda python`: an interpreter that has only what the Lambda python
runtime has (the standard library and boto3; `make lambda-python` builds one). The process sees the
function's code root (the directory its CodeUri named, for example a `sam build` output directory),
nothing of this process (layers are not attached locally). A package that misses a dependency therefore
fails with `Runtime.ImportModuleError`, as on AWS.

What one sandbox does, as Lambda's does:
- INIT once: the handler module is imported when the sandbox starts (`warm`); an import failure is reported
  on every invocation of that sandbox, as Lambda reports an init error;
- its environment is the function's Environment.Variables plus Lambda's reserved ones, with
  `AWS_ENDPOINT_URL` pointing boto3 at the local stack's server and local credentials;
- the handler's stdout/stderr is the invocation's log stream (the caller stores it in CloudWatch Logs and
  turns EMF lines into metrics, as for in-process runs);
- time: the sandbox asks this process's clock (`failsafe.clock.set_clock` is called in the sandbox with a
  proxy), so a drill's simulated clock holds in the sandbox too, and the LambdaContext counts down on it;
- Timeout: a sandbox that runs past its Timeout (clock or wall time, as in-process) is killed and the
  invocation fails with `Sandbox.Timedout`; a sandbox that dies fails it with `Runtime.ExitError`.

Concurrency: each function keeps a pool of idle sandboxes; an invocation takes an idle one or starts a new
one (see `SandboxPool` for the limits), so concurrent invocations run side by side, each with its own
environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from failsafe.clock import get_clock

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
END_MARK = "\x1efailsafe-invocation-end"
LOCAL_SANDBOXES = 4
"""Sandboxes one function may run at once on this machine (2 cores); more invocations wait for one."""
INIT_TIMEOUT_S = 120.0
"""Wall seconds a sandbox may take to start and import its handler (a cold start without bytecode)."""
ANSWER_FD_VARIABLE = "FAILSAFE_SANDBOX_ANSWER_FD"
"""The file descriptor on which the sandbox answers (its stdout and stderr are the log stream)."""
CLOCK_HOOK = "failsafe.clock:set_clock"
"""What the sandbox calls with the stack's clock before importing the handler (when the package has it)."""


class SandboxError(RuntimeError):
    """A sandbox could not be started (no lambda python, bootstrap failure)."""


@dataclass(frozen=True)
class PackageRuntime:
    """How sandboxes are started: the interpreter playing the Lambda runtime and the stack's endpoint."""

    python: Path
    endpoint_url: str
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # absolute, not resolved: a venv's python is a symlink whose target knows nothing of the venv
        object.__setattr__(self, "python", self.python.absolute())
        if not self.python.is_file():
            raise SandboxError(
                f"lambda python {self.python} does not exist: build it with `make lambda-python` "
                "(a venv with only boto3, as the Lambda python runtime has)"
            )


@dataclass
class Outcome:
    """What a sandbox answered for one invocation."""

    payload: bytes = b""
    error: dict[str, Any] | None = None
    log: str = ""
    timed_out: bool = False


class Sandbox:
    """One sandbox process of one function."""

    def __init__(
        self,
        runtime: PackageRuntime,
        *,
        handler: str,
        code_roots: Sequence[Path],
        environment: Mapping[str, str],
    ) -> None:
        read_answers, write_answers = os.pipe()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            ANSWER_FD_VARIABLE: str(write_answers),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_ENDPOINT_URL": runtime.endpoint_url,
            **runtime.extra_env,
            **environment,
        }
        try:
            self._process = subprocess.Popen(
                [str(runtime.python), "-I", "-u", str(BOOTSTRAP)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(code_roots[0]),
                pass_fds=(write_answers,),
                text=True,
                encoding="utf-8",
                bufsize=1,
            )
        finally:
            os.close(write_answers)
        self._answers = os.fdopen(read_answers, "r", encoding="utf-8")
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._log: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump_answers, daemon=True, name="sandbox-answers").start()
        threading.Thread(target=self._pump_log, daemon=True, name="sandbox-log").start()
        self._send(
            {
                "op": "init",
                "code_roots": [str(p) for p in code_roots],
                "handler": handler,
                "clock_hook": CLOCK_HOOK,
            }
        )
        ready = self._next_message(INIT_TIMEOUT_S)
        if ready is None or ready.get("op") != "ready":
            log = "".join(self._drain_log())
            self.kill()
            raise SandboxError(f"sandbox for handler {handler!r} did not start: {ready!r}\n{log}")

    # -- plumbing ----------------------------------------------------------------------------------------
    def _pump_answers(self) -> None:
        for line in self._answers:
            try:
                self._messages.put(json.loads(line))
            except json.JSONDecodeError:
                continue
        self._messages.put(None)

    def _pump_log(self) -> None:
        stdout = self._process.stdout
        if stdout is not None:
            for line in stdout:
                self._log.put(line)
        self._log.put(None)

    def _send(self, message: dict[str, Any]) -> None:
        stdin = self._process.stdin
        if stdin is None:
            raise SandboxError("sandbox has no stdin")
        stdin.write(json.dumps(message) + "\n")
        stdin.flush()

    def _next_message(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self._messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def _drain_log(self) -> list[str]:
        lines: list[str] = []
        while True:
            try:
                line = self._log.get_nowait()
            except queue.Empty:
                return lines
            if line is not None:
                lines.append(line)

    def _log_until_end(self, timeout: float) -> str:
        """The invocation's log: lines up to the END mark of stdout and of stderr (both go to one pipe)."""
        lines: list[str] = []
        marks = 0
        deadline = time.monotonic() + timeout
        while marks < 2:
            try:
                line = self._log.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            if line.rstrip("\n") == END_MARK:
                marks += 1
            else:
                lines.append(line)
        return "".join(lines)

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def kill(self) -> None:
        if self.alive:
            self._process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)

    # -- invoking ----------------------------------------------------------------------------------------
    def invoke(
        self,
        event: Any,
        *,
        request_id: str,
        context: Mapping[str, Any],
        deadline: float,
        expired: Callable[[], bool],
    ) -> Outcome:
        clock = get_clock()
        self._send(
            {
                "op": "invoke",
                "request_id": request_id,
                "event": event,
                "context": dict(context),
                "deadline": deadline,
            }
        )
        while True:
            message = self._next_message(0.005)
            if message is None:
                if not self.alive:
                    return Outcome(
                        error={
                            "errorType": "Runtime.ExitError",
                            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                            f"exit status {self._process.returncode}",
                        },
                        log="".join(self._drain_log()),
                    )
                if expired():
                    self.kill()
                    return Outcome(timed_out=True, log="".join(self._drain_log()))
                continue
            op = message.get("op")
            if op == "time":
                self._send({"time": clock.time()})
            elif op == "sleep":
                clock.sleep(float(message.get("seconds", 0.0)))
                self._send({"time": clock.time()})
            elif op == "result":
                return Outcome(payload=str(message["payload"]).encode("utf-8"), log=self._log_until_end(10.0))
            elif op == "error":
                error: dict[str, Any] = {
                    k: message[k] for k in ("errorType", "errorMessage", "stackTrace") if k in message
                }
                return Outcome(error=error, log=self._log_until_end(10.0))


class SandboxPool:
    """Idle sandboxes per function, started on demand (cold) and reused (warm).

    A function runs at most `reserved` invocations at once (its ReservedConcurrentExecutions): one more
    synchronous invocation is throttled with TooManyRequestsException, as on AWS, while an asynchronous one
    waits, as Lambda's event queue retries a throttled event. Below that, at most `LOCAL_SANDBOXES` sandboxes
    run per function on this machine; an invocation beyond them waits for one to come free.
    """

    def __init__(self, runtime: PackageRuntime) -> None:
        self.runtime = runtime
        self._idle: dict[str, list[Sandbox]] = {}
        self._busy: dict[str, int] = {}
        self._freed = threading.Condition()
        self._closed = False
        self.cold_starts = 0

    def acquire(
        self,
        key: str,
        *,
        handler: str,
        code_roots: Sequence[Path],
        environment: Mapping[str, str],
        reserved: int | None = None,
        wait: bool = False,
    ) -> Sandbox:
        with self._freed:
            while True:
                if self._closed:
                    from moto.awslambda.exceptions import LambdaClientError

                    raise LambdaClientError(
                        "ServiceException", f"{key}: the local stack that ran this function has stopped"
                    )
                idle = self._idle.setdefault(key, [])
                while idle:
                    sandbox = idle.pop()
                    if sandbox.alive:
                        self._busy[key] = self._busy.get(key, 0) + 1
                        return sandbox
                busy = self._busy.get(key, 0)
                if reserved is not None and busy >= reserved and not wait:
                    from moto.awslambda.exceptions import LambdaClientError

                    raise LambdaClientError(
                        "TooManyRequestsException",
                        f"Rate Exceeded: {key} already runs {busy} invocations, its reserved concurrency",
                    )
                if busy < min(reserved or LOCAL_SANDBOXES, LOCAL_SANDBOXES):
                    break
                self._freed.wait()
            self._busy[key] = busy + 1
            self.cold_starts += 1
        try:
            return Sandbox(self.runtime, handler=handler, code_roots=code_roots, environment=environment)
        except BaseException:
            with self._freed:
                self._busy[key] -= 1
                self._freed.notify_all()
            raise

    def release(self, key: str, sandbox: Sandbox) -> None:
        with self._freed:
            self._busy[key] = max(0, self._busy.get(key, 0) - 1)
            if sandbox.alive:
                self._idle.setdefault(key, []).append(sandbox)
            self._freed.notify_all()

    def forget(self, key: str) -> None:
        """Drop `key`'s idle sandboxes (its code or configuration changed: the next invocation is cold)."""
        with self._freed:
            idle = self._idle.pop(key, [])
        for sandbox in idle:
            sandbox.kill()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Refuse every later invocation (an execution outliving its stack must not run anywhere else)."""
        with self._freed:
            self._closed = True
            self._freed.notify_all()
        self.shutdown()

    def shutdown(self) -> None:
        with self._freed:
            every = [s for sandboxes in self._idle.values() for s in sandboxes]
            self._idle.clear()
        for sandbox in every:
            sandbox.kill()


def default_lambda_python(root: Path | None = None) -> Path:
    """Where `make lambda-python` puts the interpreter that plays the Lambda python runtime."""
    base = root or Path.cwd()
    return base / ".venv-lambda" / "bin" / "python"


__all__ = [
    "CLOCK_HOOK",
    "LOCAL_SANDBOXES",
    "Outcome",
    "PackageRuntime",
    "Sandbox",
    "SandboxError",
    "SandboxPool",
    "default_lambda_python",
]
