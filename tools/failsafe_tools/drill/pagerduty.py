"""A PagerDuty Events API v2 stand-in for drills, on 127.0.0.1.

The drill points the stack's `PagerDutyBaseUrl` parameter here and stores a drill routing key in the
PagerDuty secret, so the controller's real NotifyFunction pages exactly as in production and every page
(trigger, resolve) lands in the incident timeline. It answers like PagerDuty (202 with a dedup_key) and
rejects bodies that break the v2 schema (400), so a malformed page shows up as a failed notification.

Fault drills take it down with `set_mode`: ``5xx`` answers 503 to every page, ``blackhole`` reads the page
and then holds the connection without answering for `hold_seconds` (on `sleep`'s clock: a drill passes
its simulated clock and the PagerDuty client's own 5-second timeout, so the hang lasts what the client
would wait for against the real PagerDuty, in simulated time) and closes it, or until the caller gives up,
the mode changes or the sink stops. Every page it failed that way is kept in `failed`, with its instant.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

ROUTING_KEY = "failsafe-drill-routing-key-0000000"
_ACTIONS = ("trigger", "acknowledge", "resolve")
_SEVERITIES = ("critical", "error", "warning", "info")
Mode = Literal["up", "5xx", "blackhole"]


@dataclass(frozen=True)
class Page:
    at: datetime
    action: str
    dedup_key: str
    severity: str | None
    summary: str


def problems(body: Any) -> list[str]:
    """What makes `body` an invalid Events API v2 event (empty list: valid)."""
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    found = []
    if not body.get("routing_key"):
        found.append("routing_key is missing")
    action = body.get("event_action")
    if action not in _ACTIONS:
        found.append(f"event_action {action!r} is not one of {', '.join(_ACTIONS)}")
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            found.append("payload is missing")
        else:
            for key in ("summary", "source", "severity"):
                if not payload.get(key):
                    found.append(f"payload.{key} is missing")
            if payload.get("severity") not in _SEVERITIES:
                found.append(f"payload.severity {payload.get('severity')!r} is invalid")
    elif action in ("acknowledge", "resolve") and not body.get("dedup_key"):
        found.append(f"{action} needs a dedup_key")
    return found


@dataclass(frozen=True)
class FailedPage:
    at: datetime
    mode: str
    action: str
    dedup_key: str


class PagerDutySink:
    def __init__(
        self,
        now: Callable[[], datetime],
        hold_seconds: float = 30.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.now = now
        self.hold_seconds = hold_seconds
        self.sleep = sleep
        self.mode: Mode = "up"
        self.pages: list[Page] = []
        self.rejected: list[str] = []
        self.failed: list[FailedPage] = []
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the PagerDuty sink is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def set_mode(self, mode: Mode) -> None:
        """``up`` (answer like PagerDuty), ``5xx`` (503 to every page) or ``blackhole`` (never answer)."""
        with self._lock:
            self.mode = mode
        if mode == "blackhole":
            self._released.clear()
        else:
            self._released.set()  # connections held so far are let go

    def start(self) -> str:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"null")
                except json.JSONDecodeError:
                    body = None
                found = problems(body) if self.path == "/v2/enqueue" else [f"unknown path {self.path}"]
                if found:
                    with sink._lock:
                        sink.rejected.append("; ".join(found))
                    self._answer(
                        400,
                        {"status": "invalid event", "message": "Event object is invalid", "errors": found},
                    )
                    return
                assert isinstance(body, dict)
                dedup = str(body.get("dedup_key") or "")
                payload = body.get("payload") or {}
                with sink._lock:
                    mode = sink.mode
                    if mode != "up":
                        sink.failed.append(FailedPage(sink.now(), mode, str(body["event_action"]), dedup))
                if mode == "5xx":
                    self._answer(503, {"status": "unavailable", "message": "Service Unavailable"})
                    return
                if mode == "blackhole":
                    if sink.sleep is None:
                        sink._released.wait(sink.hold_seconds)
                    else:
                        sink.sleep(sink.hold_seconds)
                    self.close_connection = True
                    return
                with sink._lock:
                    sink.pages.append(
                        Page(
                            sink.now(),
                            str(body["event_action"]),
                            dedup,
                            payload.get("severity"),
                            str(payload.get("summary", "")),
                        )
                    )
                self._answer(202, {"status": "success", "message": "Event processed", "dedup_key": dedup})

            def _answer(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="drill-pagerduty", daemon=True).start()
        return self.url

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self) -> list[Page]:
        with self._lock:
            return list(self.pages)
