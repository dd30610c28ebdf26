"""Server mode: one local AWS on 127.0.0.1 that separate processes share through boto3's `endpoint_url`.

`serve()` runs a `LocalStack` with moto's ThreadedMotoServer, the AppConfig agent endpoint and the ticker in
this process until SIGTERM/SIGINT, and keeps a state file (default `.failsafe/local.json`) while it runs:

    {"pid": 4242, "endpoint": "http://127.0.0.1:5000", "agent_url": "http://127.0.0.1:41234",
     "region": "us-east-1", "outputs": {...}, "stack": {<describe_stacks()["Stacks"][0]>}, ...}

`start_detached()` spawns `python -m failsafe_tools.local.server` in its own session, follows its provisioning
progress and returns once the server answers `cloudformation.describe_stacks` through the endpoint.
`stop_server()` stops the process named in the state file (after checking it is a failsafe server) and
removes the file. Clients find resources as on AWS: `describe_stacks(StackName="failsafe")` against the
endpoint, or the `outputs` of the state file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from failsafe_tools.local.provision import ProgressEvent

DEFAULT_STATE_FILE = Path(".failsafe") / "local.json"
DEFAULT_PORT = 5000
SERVER_SPEED = 1.0
"""A shared server runs at real time. Processes outside it (boto3, the AWS CLI, Powertools, a recommender)
stamp what they write with their own clock: `PutMetricData` with a Timestamp, an event's `time`, a
`StartDate` of a query. On a clock running ahead of real time that data lands in the local AWS's past and
behaves as stale data on AWS would (an alarm over it stays INSUFFICIENT_DATA). Speed-up is for drills, which
own their clock and every writer on it (`failsafe drill --speed`); `--speed` here is for a server whose
clients all take their time from the server (none of the AWS SDKs do)."""
DEFAULT_HOST = "127.0.0.1"
PROGRESS_PREFIX = "FAILSAFE-PROGRESS "
SERVER_MODULE = "failsafe_tools.local.server"


class ServerError(RuntimeError):
    """The local server could not be started, reached or stopped."""


class AlreadyRunningError(ServerError):
    pass


class NotRunningError(ServerError):
    pass


@dataclass
class ServerState:
    """What a running server writes to its state file."""

    pid: int
    endpoint: str
    agent_url: str | None
    region: str
    stack_name: str
    template: str
    speed: float | None
    started_at: float
    outputs: dict[str, str] = field(default_factory=dict)
    stack: dict[str, Any] = field(default_factory=dict)
    resources: list[dict[str, str]] = field(default_factory=list)
    # The AWS_IAM function URL gateway and the demo operators' profiles (local/iam_auth.py).
    function_urls: str | None = None
    credentials_file: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ServerState:
        data = json.loads(text)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def read_state(state_file: Path = DEFAULT_STATE_FILE) -> ServerState | None:
    """The state of the server named by `state_file`, or None when there is no (readable) state file."""
    try:
        return ServerState.from_json(state_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, TypeError) as exc:
        raise ServerError(f"state file {state_file} is corrupt ({exc}); delete it") from exc


def _write_state(state_file: Path, state: ServerState) -> None:
    state_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_file.with_suffix(state_file.suffix + f".{os.getpid()}.tmp")
    tmp.write_text(state.to_json(), encoding="utf-8")
    tmp.replace(state_file)


def _remove_state(state_file: Path, pid: int) -> None:
    with contextlib.suppress(ServerError):
        state = read_state(state_file)
        if state is not None and state.pid == pid:
            state_file.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not running.
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        with contextlib.suppress(OSError, IndexError):
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _is_failsafe_process(pid: int) -> bool:
    """Whether `pid` runs failsafe (guards against a recycled pid in a stale state file)."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True  # no procfs (macOS): trust the state file
    with contextlib.suppress(OSError):
        return b"failsafe" in cmdline.read_bytes()
    return False


def check_port_free(host: str, port: int) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port") from exc


def healthy(state: ServerState, timeout: float = 5.0) -> bool:
    """True when the endpoint answers `describe_stacks` for the state's stack."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "cloudformation",
        endpoint_url=state.endpoint,
        region_name=state.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1}),
    )
    try:
        stacks = client.describe_stacks(StackName=state.stack_name)["Stacks"]
    except (BotoCoreError, ClientError):
        return False
    return bool(stacks) and stacks[0].get("StackStatus") == "CREATE_COMPLETE"


def serve(
    template: str | Path = "template.yaml",
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    speed: float = SERVER_SPEED,
    agent_port: int = 0,
    parameters: Mapping[str, Any] | None = None,
    stack_name: str = "failsafe",
    state_file: Path = DEFAULT_STATE_FILE,
    progress: Callable[[ProgressEvent], None] | None = None,
    on_ready: Callable[[ServerState], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve the local stack until SIGTERM/SIGINT (or `stop` is set), keeping `state_file` while it runs."""
    from failsafe_tools.local.clock import SpeedClock
    from failsafe_tools.local.stack import LocalStack

    existing = read_state(state_file)
    if existing is not None and existing.pid != os.getpid() and pid_alive(existing.pid):
        raise AlreadyRunningError(
            f"a local stack is already running (pid {existing.pid}, {existing.endpoint}); "
            "stop it with `failsafe local down`"
        )
    check_port_free(host, port)
    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    stack = None
    try:
        stack = LocalStack.start(
            template,
            parameters,
            clock=SpeedClock(speed),
            server=True,
            host=host,
            port=port,
            agent_port=agent_port,
            stack_name=stack_name,
            progress=progress,
        )
        assert stack.endpoint_url is not None
        from failsafe_tools.local.iam_auth import create_operators, write_credentials

        credentials = write_credentials(
            create_operators(stack.client("iam")), state_file.parent / "credentials", region=stack.region
        )
        state = ServerState(
            pid=os.getpid(),
            endpoint=stack.endpoint_url,
            agent_url=stack.agent_url,
            region=stack.region,
            stack_name=stack_name,
            template=str(Path(template).resolve()),
            speed=speed,
            started_at=time.time(),
            outputs=dict(stack.outputs),
            stack=stack.provisioned.describe_stack(),
            resources=stack.provisioned.resource_summaries(),
            function_urls=stack.function_urls.url if stack.function_urls else None,
            credentials_file=str(credentials.resolve()),
        )
        _write_state(state_file, state)
        if on_ready is not None:
            on_ready(state)
        while not stop.wait(0.2):
            pass
    finally:
        if stack is not None:
            stack.stop()
        _remove_state(state_file, os.getpid())
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def start_detached(
    template: str | Path = "template.yaml",
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    speed: float = SERVER_SPEED,
    agent_port: int = 0,
    parameters: Mapping[str, Any] | None = None,
    stack_name: str = "failsafe",
    state_file: Path = DEFAULT_STATE_FILE,
    log_file: Path | None = None,
    timeout: float = 120.0,
    progress: Callable[[ProgressEvent], None] | None = None,
) -> ServerState:
    """Start `serve()` in a background process; return its state once it is healthy."""
    existing = read_state(state_file)
    if existing is not None:
        if pid_alive(existing.pid):
            raise AlreadyRunningError(
                f"a local stack is already running (pid {existing.pid}, {existing.endpoint}); "
                "stop it with `failsafe local down`"
            )
        state_file.unlink(missing_ok=True)
    check_port_free(host, port)
    log_file = log_file or state_file.with_suffix(".log")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        SERVER_MODULE,
        "--template",
        str(Path(template).resolve()),
        "--host",
        host,
        "--port",
        str(port),
        "--speed",
        str(speed),
        "--agent-port",
        str(agent_port),
        "--stack-name",
        stack_name,
        "--state-file",
        str(state_file.resolve()),
    ]
    for key, value in (parameters or {}).items():
        command += ["--param", f"{key}={value}"]
    with log_file.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + timeout
    seen = 0
    while True:
        seen = _relay_progress(log_file, seen, progress)
        code = process.poll()
        if code is not None:
            raise ServerError(
                f"the local stack exited with code {code} while starting; log {log_file}:\n{_tail(log_file)}"
            )
        state = read_state(state_file)
        if state is not None and state.pid == process.pid and healthy(state):
            return state
        if time.monotonic() > deadline:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
            raise ServerError(
                f"the local stack was not ready after {timeout:.0f} s; log {log_file}:\n{_tail(log_file)}"
            )
        time.sleep(0.05)


def _relay_progress(log_file: Path, seen: int, progress: Callable[[ProgressEvent], None] | None) -> int:
    try:
        lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return seen
    for line in lines[seen:]:
        if progress is not None and line.startswith(PROGRESS_PREFIX):
            with contextlib.suppress(json.JSONDecodeError, TypeError):
                progress(ProgressEvent(**json.loads(line[len(PROGRESS_PREFIX) :])))
    return len(lines)


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(line for line in text[-lines:] if not line.startswith(PROGRESS_PREFIX))


@dataclass(frozen=True)
class StopResult:
    pid: int
    endpoint: str
    stale: bool  # the state file named a process that was no longer running


def stop_server(state_file: Path = DEFAULT_STATE_FILE, timeout: float = 20.0) -> StopResult:
    """Stop the server named in `state_file` (SIGTERM, then SIGKILL after `timeout`) and remove the file."""
    state = read_state(state_file)
    if state is None:
        raise NotRunningError(f"no local stack is running (no state file {state_file})")
    if not pid_alive(state.pid):
        state_file.unlink(missing_ok=True)
        return StopResult(state.pid, state.endpoint, stale=True)
    if not _is_failsafe_process(state.pid):
        state_file.unlink(missing_ok=True)
        raise ServerError(
            f"state file {state_file} names pid {state.pid}, which is not a failsafe process; "
            "removed the stale file"
        )
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(state.pid):
        if time.monotonic() > deadline:
            os.kill(state.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    state_file.unlink(missing_ok=True)
    return StopResult(state.pid, state.endpoint, stale=False)


def parse_parameters(pairs: Sequence[str]) -> dict[str, str]:
    """`["Key=Value", ...]` → `{"Key": "Value"}`; raises ValueError naming a malformed pair."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"parameter {pair!r}: expected Key=Value")
        out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m failsafe_tools.local.server`: the process `start_detached` spawns."""
    parser = argparse.ArgumentParser(prog=SERVER_MODULE, description="Serve failsafe's local AWS.")
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--speed", type=float, default=SERVER_SPEED)
    parser.add_argument("--agent-port", type=int, default=0)
    parser.add_argument("--stack-name", default="failsafe")
    parser.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    parser.add_argument("--param", action="append", default=[])
    args = parser.parse_args(argv)

    def report(event: ProgressEvent) -> None:
        print(PROGRESS_PREFIX + json.dumps(asdict(event)), flush=True)

    def ready(state: ServerState) -> None:
        print(f"failsafe local stack ready: endpoint {state.endpoint}, agent {state.agent_url}", flush=True)

    try:
        serve(
            args.template,
            host=args.host,
            port=args.port,
            speed=args.speed,
            agent_port=args.agent_port,
            parameters=parse_parameters(args.param),
            stack_name=args.stack_name,
            state_file=args.state_file,
            progress=report,
            on_ready=ready,
        )
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
