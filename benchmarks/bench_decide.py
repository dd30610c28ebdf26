"""Benchmark: one full per-request decision, failsafe vs Powertools FeatureFlags, in the same run.

The question every contender answers for each request: is this request killed (a scoped override kills
one region), is it inside the default set's region scope, is its user inside the 50 % exposure, and
which serving policy (mode, alpha, fallback level, cache mode) applies?

Contenders
----------
- ``decide(snapshot, ctx)``: the pure domain function on a precompiled snapshot.
- ``client.decide(ctx)``: the same through a `ToggleClient` that loaded the document from a file.
- Powertools ``FeatureFlags(store=...).evaluate`` with an in-memory ``StoreProvider`` holding the
  equivalent feature-flag schema, in two shapes:
  - *one flag*: a single non-boolean ``decision`` feature whose rules encode kill switch, scope and
    exposure (``KEY_IN_VALUE`` on region, ``MODULO_RANGE`` on the bucket); the cheapest Powertools can
    answer the full question, and the figure the ratio is taken against.
  - *per toggle*: ``kill_switch``, ``in_scope`` and ``exposure`` boolean flags plus a ``policy``
    feature, evaluated in precedence order, which is how services usually adopt it.

Powertools' MODULO_RANGE needs an integer key, so its context carries the user's failsafe bucket
(precomputed, free for Powertools) and the range is 0..4999 of 10 000. Both sides therefore answer the
same question with the same assignment, and the benchmark checks that all of them agree on every request
before timing anything.

Method: ``time.perf_counter_ns`` around a loop over pre-built request contexts (the loop is included in
every figure), after a warm-up, median of several repeats. ``decide`` is measured with warm bucket
caches (the steady state of a service) and also "cold": every user id seen for the first time, so the
bucket is hashed (BLAKE2b) on that call.

Run: ``.venv/bin/python benchmarks/bench_decide.py`` (``--write`` updates the ``## bench_decide``
section of benchmarks/RESULTS.md and nothing else).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.feature_flags import FeatureFlags
from aws_lambda_powertools.utilities.feature_flags.base import StoreProvider

from failsafe.client import FileSource, ToggleClient
from failsafe.domain.bucketing import DEFAULT_SALT, bucket_of
from failsafe.domain.decision import Decision, RequestContext, compile_snapshot, decide
from failsafe.domain.toggles import ToggleDocument

RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## bench_decide"
SCRIPT = ".venv/bin/python benchmarks/bench_decide.py"

KILLED_REGION = "ap-southeast-2"
SCOPE_REGIONS = ["eu-west-1", "us-east-1"]
REGIONS = [*SCOPE_REGIONS, KILLED_REGION, "sa-east-1"]
EXPOSURE_PERCENT = 50
ALPHA = 0.7

DOCUMENT: dict[str, Any] = {
    "metadata": {"version": 42, "environment": "prod", "author": "bench", "reason": "benchmark"},
    "toggles": {
        "policy_mode": "hybrid_default",
        "alpha_override": ALPHA,
        "exposure_percent": EXPOSURE_PERCENT,
        "cache_mode": "prewarm",
        "region_scope": SCOPE_REGIONS,
    },
    "overrides": [
        {
            "scope": {"service": "recommender", "environment": "prod", "regions": [KILLED_REGION]},
            "toggles": {"kill_switch": True, "candidate_fallback_level": "D", "cache_mode": "warm_only"},
            "incident_id": "inc-bench",
        }
    ],
}

PRIMARY = {
    "serve_full": True,
    "policy": "hybrid",
    "alpha": ALPHA,
    "fallback_level": "A",
    "cache_mode": "prewarm",
}
FALLBACK = {
    "serve_full": False,
    "policy": "popularity",
    "alpha": 0.0,
    "fallback_level": "D",
    "cache_mode": "prewarm",
}
KILLED = {**FALLBACK, "cache_mode": "warm_only"}

_IN_SCOPE = {"action": "KEY_IN_VALUE", "key": "region", "value": SCOPE_REGIONS}
_KILLED_REGION = {"action": "KEY_IN_VALUE", "key": "region", "value": [KILLED_REGION]}
_EXPOSED = {"action": "MODULO_RANGE", "key": "bucket", "value": {"BASE": 10_000, "START": 0, "END": 4_999}}

# One non-boolean feature answering the whole question; rules are evaluated in order, first match wins.
ONE_FLAG_SCHEMA: dict[str, Any] = {
    "decision": {
        "default": FALLBACK,
        "boolean_type": False,
        "rules": {
            "killed region": {"when_match": KILLED, "conditions": [_KILLED_REGION]},
            "in scope and exposed": {"when_match": PRIMARY, "conditions": [_IN_SCOPE, _EXPOSED]},
        },
    }
}

# One flag per toggle, evaluated in precedence order.
PER_TOGGLE_SCHEMA: dict[str, Any] = {
    "kill_switch": {
        "default": False,
        "rules": {"killed region": {"when_match": True, "conditions": [_KILLED_REGION]}},
    },
    "in_scope": {
        "default": False,
        "rules": {"scope regions": {"when_match": True, "conditions": [_IN_SCOPE]}},
    },
    "exposure": {"default": False, "rules": {"exposed": {"when_match": True, "conditions": [_EXPOSED]}}},
    "policy": {"default": PRIMARY, "boolean_type": False},
}


class InMemoryStore(StoreProvider):
    """A Powertools store holding a fixed feature-flag schema (no I/O, so only evaluation is timed)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._schema = schema

    @property
    def get_raw_configuration(self) -> dict[str, Any]:
        return self._schema

    def get_configuration(self) -> dict[str, Any]:
        return self._schema


def powertools_one_flag(flags: FeatureFlags, context: dict[str, Any]) -> Any:
    return flags.evaluate(name="decision", context=context, default=FALLBACK)


def powertools_per_toggle(flags: FeatureFlags, context: dict[str, Any]) -> Any:
    if flags.evaluate(name="kill_switch", context=context, default=True):
        return KILLED
    if not flags.evaluate(name="in_scope", context=context, default=False):
        return FALLBACK
    if not flags.evaluate(name="exposure", context=context, default=False):
        return FALLBACK
    return flags.evaluate(name="policy", context=context, default=FALLBACK)


def summary(decision: Decision) -> dict[str, Any]:
    full = decision.as_dict()
    return {key: full[key] for key in PRIMARY}


def contexts(count: int, users: int, prefix: str = "user") -> list[RequestContext]:
    return [
        RequestContext(f"{prefix}-{i % users}", REGIONS[i % len(REGIONS)], "default", "web")
        for i in range(count)
    ]


def powertools_context(ctx: RequestContext) -> dict[str, Any]:
    assert ctx.user_id is not None
    return {
        "region": ctx.region,
        "cohort": ctx.cohort,
        "client": ctx.client,
        "bucket": bucket_of(DEFAULT_SALT, ctx.user_id),
    }


def time_pass(run_pass: Callable[[Sequence[Any]], None], items: Sequence[Any]) -> float:
    """ns per item of one timed `run_pass(items)`."""
    start = time.perf_counter_ns()
    run_pass(items)
    return (time.perf_counter_ns() - start) / len(items)


def run(repeats: int, fast_n: int, slow_n: int) -> dict[str, list[float]]:
    document = ToggleDocument.model_validate(DOCUMENT)
    snapshot = compile_snapshot(document, service="recommender", environment="prod")
    one_flag = FeatureFlags(store=InMemoryStore(ONE_FLAG_SCHEMA))
    per_toggle = FeatureFlags(store=InMemoryStore(PER_TOGGLE_SCHEMA))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "toggles.json"
        path.write_text(json.dumps(DOCUMENT))
        client = ToggleClient(FileSource(path), service="recommender", environment="prod")
        client.refresh()
    assert client.ready
    assert client.config_version == 42

    fast = contexts(fast_n, users=5_000)
    slow = fast[:slow_n]
    slow_pt = [powertools_context(ctx) for ctx in slow]

    # Everyone must answer the same question the same way before anything is timed.
    for ctx, pt_ctx in zip(slow, slow_pt, strict=True):
        expected = summary(decide(snapshot, ctx))
        assert summary(client.decide(ctx)) == expected, ctx
        assert powertools_one_flag(one_flag, pt_ctx) == expected, (ctx, pt_ctx)
        assert powertools_per_toggle(per_toggle, pt_ctx) == expected, (ctx, pt_ctx)

    # Each pass is written out as a service would call it, so no wrapper call is timed.
    def pass_decide(items: Sequence[Any]) -> None:
        for ctx in items:
            decide(snapshot, ctx)

    def pass_client(items: Sequence[Any]) -> None:
        for ctx in items:
            client.decide(ctx)

    def pass_one_flag(items: Sequence[Any]) -> None:
        for context in items:
            one_flag.evaluate(name="decision", context=context, default=FALLBACK)

    def pass_per_toggle(items: Sequence[Any]) -> None:
        for context in items:
            powertools_per_toggle(per_toggle, context)

    def pass_empty(items: Sequence[Any]) -> None:
        for _ in items:
            pass

    cold_ns: list[float] = []
    new_user_ns: list[float] = []

    def time_new_users(count: int) -> None:
        # High cardinality: users never seen before on a warm snapshot (context memo and bucket memo
        # miss, so each call routes, hashes the bucket with BLAKE2b and reads the per-bucket table).
        items = contexts(count, count, prefix=f"new{len(new_user_ns)}")
        start = time.perf_counter_ns()
        for ctx in items:
            decide(snapshot, ctx)
        new_user_ns.append((time.perf_counter_ns() - start) / count)

    def time_cold(count: int) -> None:
        # A new config version and users never seen before: every memo and table starts empty.
        fresh = compile_snapshot(document, service="recommender", environment="prod")
        fresh_items = contexts(count, count, prefix=f"cold{len(cold_ns)}")
        start = time.perf_counter_ns()
        for ctx in fresh_items:
            decide(fresh, ctx)
        cold_ns.append((time.perf_counter_ns() - start) / count)

    contenders: dict[str, tuple[Callable[[Sequence[Any]], None], Sequence[Any]]] = {
        "decide": (pass_decide, fast),
        "client.decide": (pass_client, fast),
        "powertools one flag": (pass_one_flag, slow_pt),
        "powertools per toggle": (pass_per_toggle, slow_pt),
        "loop overhead": (pass_empty, fast),
    }
    for run_pass, items in contenders.values():  # warm-up
        run_pass(items)
    # Interleaved rounds: every contender runs once per round, so load on a shared machine hits all alike.
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, (run_pass, items) in contenders.items():
            samples[name].append(time_pass(run_pass, items))
        time_new_users(20_000)
        time_cold(20_000)
    samples["decide (every user new)"] = new_user_ns
    samples["decide (new config version, every user new)"] = cold_ns
    return samples


def render(samples: dict[str, list[float]], repeats: int, fast_n: int, slow_n: int, command: str) -> str:
    baseline = samples["powertools one flag"]
    lines = [
        SECTION,
        "",
        f"Command: `{command}`",
        "",
        f"Python {platform.python_version()} on {platform.machine()} ({platform.system()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end of the run: a shared "
        f"machine). {repeats} interleaved rounds; each round times one pass of every contender over "
        f"{fast_n:,} requests (failsafe) or {slow_n:,} requests (Powertools). 5,000 users, 4 regions "
        "(2 in scope, 1 killed by a scoped override, 1 out of scope), 50 % exposure. Figures are medians "
        "over the rounds and include the Python loop (shown as loop overhead); the ratio is the median "
        "of the per-round ratios.",
        "",
        "| contender | ns / decision (median) | Powertools one flag / contender |",
        "|---|---:|---:|",
    ]
    for name, values in samples.items():
        if name == "loop overhead":
            ratio = ""
        else:
            ratio = f"{statistics.median(b / v for b, v in zip(baseline, values, strict=True)):,.1f}x"
        lines.append(f"| {name} | {statistics.median(values):,.0f} | {ratio} |")
    lines += [
        "",
        "All contenders were checked to return the same decision for every benchmarked request "
        "before timing. `decide` and `client.decide` are the steady state of a service whose request "
        'contexts repeat (memo hits). "every user new" is high-cardinality traffic (20,000 users never '
        "seen per round: each call routes, hashes its bucket with BLAKE2b and reads the per-bucket "
        'table); "new config version" adds the first requests after a deployment, when the per-bucket '
        "decisions are built.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace (or append) only the `## bench_decide` section of RESULTS.md."""
    existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = existing.find(SECTION + "\n")
    if start == -1:
        updated = existing.rstrip("\n") + "\n\n" + text
    else:
        end = existing.find("\n## ", start + len(SECTION))
        tail = existing[end + 1 :] if end != -1 else ""
        updated = existing[:start] + text + ("\n" + tail if tail else "")
    RESULTS.write_text(updated)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="interleaved rounds")
    parser.add_argument("--requests", type=int, default=100_000, help="requests per pass for failsafe")
    parser.add_argument(
        "--powertools-requests", type=int, default=4_000, help="requests per pass for Powertools"
    )
    parser.add_argument("--write", action="store_true", help="update the bench_decide section of RESULTS.md")
    args = parser.parse_args(argv)

    samples = run(args.repeats, args.requests, args.powertools_requests)
    command = " ".join([SCRIPT, *(argv if argv is not None else sys.argv[1:])])
    text = render(samples, args.repeats, args.requests, args.powertools_requests, command)
    print(text)
    ratio = statistics.median(
        b / c for b, c in zip(samples["powertools one flag"], samples["client.decide"], strict=True)
    )
    print(f"client.decide is {ratio:,.1f}x faster than Powertools FeatureFlags (one flag); target ≥ 50x")
    if args.write:
        write_section(text)
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
