"""The recommender driven as a separate process (`python -m failsafe.recommender.traffic`): toggles from the
local file source, chaos from FAILSAFE_CHAOS, one EMF line per request on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from failsafe.domain import metrics as contract
from failsafe_tools.local.emf_logs import parse_emf_line


def test_separate_process_serves_steady_traffic_with_chaos_from_the_environment(
    toggles_file: Any, make_document: Callable[..., bytes]
) -> None:
    # Given toggles on disk and a chaos document failing every personalised request
    toggles_file.deploy(make_document("normal", version=6))
    env = {**os.environ, "FAILSAFE_CHAOS": json.dumps({"enabled": True, "error_percent": 100})}
    # When 40 requests are driven at 40/s by a separate process
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "failsafe.recommender.traffic",
            "--toggles-file",
            str(toggles_file.path),
            "--rate",
            "40",
            "--seconds",
            "1",
            "--window",
            "0.5",
            "--refresh-seconds",
            "0.5",
            "--prewarm-users",
            "0",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    # Then every request was answered in full (errors are answered from the last-resort list)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stderr.strip().splitlines()[-1])
    assert (summary["offered"], summary["served"], summary["failed"]) == (40, 40, 0)
    assert summary["config_versions"] == [6]
    # And stdout carries one valid EMF document per request, each counting the injected error
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 40
    assert all(parse_emf_line(line) for line in lines)
    documents = [json.loads(line) for line in lines]
    personalised = [d for d in documents if d["Reason"] == "error"]
    assert personalised
    assert all(d[contract.ERROR_RATE] == [100.0] for d in personalised)
    assert all(d[contract.ERROR_RATE] == [0.0] for d in documents if d["Reason"] != "error")
