"""Seed 000, "Deterministic Assignment": 0 % inconsistency in user bucket assignment for 100k users across
two processes and a client restart (bucketing through `ToggleClient.decide` only, no recommendations)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from failsafe.client.toggle_client import ToggleClient
from failsafe.domain.decision import RequestContext

N_USERS = 100_000
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")

ASSIGN = textwrap.dedent(
    """
    import json, sys
    from failsafe.client.sources import FileSource
    from failsafe.client.toggle_client import ToggleClient
    from failsafe.domain.decision import RequestContext

    toggles, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    regions = ("us-east-1", "eu-west-1", "ap-southeast-2")
    client = ToggleClient(FileSource(toggles), service="recommender", environment="dev")
    assert client.refresh().value == "applied", client.last_error
    rows = []
    for n_user in range(n):
        d = client.decide(RequestContext(f"user-{n_user}", regions[n_user % 3], None, None))
        rows.append([d.bucket, d.serve_full, d.policy.value])
    with open(out, "w") as handle:
        json.dump({"version": client.config_version, "rows": rows}, handle)
    """
)


def _assign(client: ToggleClient) -> list[list[Any]]:
    rows = []
    for n in range(N_USERS):
        decision = client.decide(RequestContext(f"user-{n}", REGIONS[n % 3], None, None))
        rows.append([decision.bucket, decision.serve_full, decision.policy.value])
    return rows


def _inconsistency(a: list[list[Any]], b: list[list[Any]]) -> float:
    assert len(a) == len(b) == N_USERS
    return sum(x != y for x, y in zip(a, b, strict=True)) / N_USERS


def test_assignment_is_identical_across_processes_and_restarts(
    toggles_file: Any, make_document: Callable[..., bytes], tmp_path: Path
) -> None:
    # Given 50 % exposure by default and a 20 % exposure override for eu-west-1
    toggles_file.deploy(
        make_document(
            {"exposure_percent": 50}, version=7, overrides={("eu-west-1",): {"exposure_percent": 20}}
        )
    )
    # When 100k users are assigned in a second process (another hash seed), in this one, and after a
    # client restart
    out = tmp_path / "assignment.json"
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    second = subprocess.Popen(
        [sys.executable, "-c", ASSIGN, str(toggles_file.path), str(out), str(N_USERS)], env=env
    )
    first = _assign(toggles_file.client())
    restarted = _assign(toggles_file.client())
    assert second.wait(timeout=120) == 0
    other = json.loads(out.read_text())
    # Then the inconsistency is exactly 0 % in both comparisons
    assert other["version"] == 7
    assert _inconsistency(first, restarted) == 0.0
    assert _inconsistency(first, other["rows"]) == 0.0
    # And the assignment is a real split, not a constant: the exposures show through
    buckets = {row[0] for row in first}
    assert len(buckets) > 9_000
    default_share = sum(row[1] for n, row in enumerate(first) if REGIONS[n % 3] != "eu-west-1") / (
        N_USERS * 2 / 3
    )
    eu_share = sum(row[1] for n, row in enumerate(first) if REGIONS[n % 3] == "eu-west-1") / (N_USERS / 3)
    assert 0.48 < default_share < 0.52
    assert 0.18 < eu_share < 0.22


def test_widening_exposure_only_adds_users(toggles_file: Any, make_document: Callable[..., bytes]) -> None:
    # Given 10 % exposure (as in the emergency baseline's throttle) and then 50 %
    toggles_file.deploy(make_document({"exposure_percent": 10}, version=1))
    client = toggles_file.client()
    narrow = [client.decide(RequestContext(f"user-{n}")).serve_full for n in range(20_000)]
    toggles_file.deploy(make_document({"exposure_percent": 50}, version=2))
    client.refresh()
    wide = [client.decide(RequestContext(f"user-{n}")).serve_full for n in range(20_000)]
    # Then every user inside at 10 % is still inside at 50 % (sticky, monotone assignment)
    assert all(w for n, w in zip(narrow, wide, strict=True) if n)
    assert sum(wide) > 4 * sum(narrow)
