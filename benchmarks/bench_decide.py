"""Benchmark: one full per-request decision: failsafe vs a hand-written floor vs Powertools FeatureFlags.

The question every contender answers for each request: is this request killed (a scoped override kills
one region), is it inside the default set's region scope, is its user inside the 50 % exposure, and
which serving policy (mode, alpha, fallback level, cache mode) applies?

Workloads (each round draws fresh requests where the workload says so)
-----------------------------------------------------------------------
- **every user new** (the headline): every request is a user id the process has never seen.
- **Zipf, 1M users**: user ranks drawn from a Zipf law (exponent 1.0) over 1,000,000 users, the shape of
  real recommender traffic; the process keeps its state across rounds (steady state).
- **repeated**: the same 5,000 requests again and again (what the old headline measured).

Requests cycle over 4 regions (2 in scope, 1 killed by a scoped override, 1 out of scope), so a quarter
are killed and a quarter out of scope; user ids look like ``user-123456``.

Contenders
----------
- ``client.decide(ctx)``: a `ToggleClient` that loaded the document from a file (a service's read path).
- ``decide(snapshot, ctx)``: the pure domain function on a precompiled snapshot.
- **floor**: a hand-written function for this one document: hash the user with the same hash and salt as
  failsafe, compare the region with the killed region and the scope, compare the bucket with the
  exposure threshold, and return the matching decision from a precomputed per-bucket table (so it returns
  exactly what ``decide`` returns, bucket included). It checks nothing about the input beyond what the
  hash needs, so it is a lower bound, not a competitor. The benchmark finds which hash the installed
  failsafe uses (MurmurHash3 since issue 14, BLAKE2b before) and takes the ratio against that floor;
  the other floor is shown for reference.
- Powertools ``FeatureFlags(store=...).evaluate`` with an in-memory ``StoreProvider`` holding the
  equivalent feature-flag schema, in two shapes: *one flag* (a single non-boolean ``decision`` feature
  whose rules encode kill switch, scope and exposure) and *per toggle* (``kill_switch``, ``in_scope`` and
  ``exposure`` boolean flags plus a ``policy`` feature, evaluated in precedence order). Its MODULO_RANGE
  needs an integer key, so its context carries the user's failsafe bucket, precomputed outside the timed
  loop: Powertools gets the hash for free. The Powertools ratio is taken against the faster of the two
  shapes in each round.

Every contender is checked to give the same answer for every request of the first round before
anything is timed (failsafe and the floor: the whole `Decision`; Powertools: the policy fields).

Method: the process's CPU time (``time.process_time_ns``, so time spent descheduled while other work
runs on a shared machine is not counted) around a loop over pre-built request contexts (the loop and
one Python call per request are included in every figure, as a service pays them), after an untimed
warm-up round.
Each round times one pass of every contender on every workload, in an order shuffled per round (seeded),
so load on a shared machine hits all alike. Figures are medians over rounds; ratios are medians of the
per-round ratios.

Run: ``.venv/bin/python benchmarks/bench_decide.py`` (``--write`` updates the ``## bench_decide``
section of benchmarks/RESULTS.md and nothing else; ``--check`` exits 1 when the every-user-new targets
are missed: at most 2x the floor and at least 30x Powertools).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import itertools
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mmh3
from aws_lambda_powertools.utilities.feature_flags import FeatureFlags
from aws_lambda_powertools.utilities.feature_flags.base import StoreProvider

from failsafe.client import FileSource, ToggleClient
from failsafe.domain.bucketing import BUCKETS, DEFAULT_SALT, bucket_of, exposure_threshold
from failsafe.domain.decision import (
    Decision,
    DecisionReason,
    RequestContext,
    ServingPolicy,
    Snapshot,
    compile_snapshot,
    decide,
)
from failsafe.domain.toggles import CacheMode, FallbackLevel, ToggleDocument

RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## bench_decide"
SCRIPT = ".venv/bin/python benchmarks/bench_decide.py"

TARGET_FLOOR_RATIO = 2.0
TARGET_POWERTOOLS_RATIO = 30.0

KILLED_REGION = "ap-southeast-2"
SCOPE_REGIONS = ["eu-west-1", "us-east-1"]
REGIONS = [*SCOPE_REGIONS, KILLED_REGION, "sa-east-1"]
EXPOSURE_PERCENT = 50
ALPHA = 0.7
ZIPF_USERS = 1_000_000
ZIPF_EXPONENT = 1.0
REPEATED_USERS = 5_000

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


def summary(decision: Decision) -> dict[str, Any]:
    full = decision.as_dict()
    return {key: full[key] for key in PRIMARY}


# -- the hand-written floors ---------------------------------------------------------------------------


def floor_tables(version: int) -> tuple[list[Decision], list[Decision], list[Decision]]:
    """The decisions this document gives, by bucket: killed region, out of scope, in scope (by exposure)."""
    threshold = exposure_threshold(EXPOSURE_PERCENT)
    fallback: dict[str, Any] = {
        "serve_full": False,
        "policy": ServingPolicy.POPULARITY,
        "alpha": 0.0,
        "fallback_level": FallbackLevel.D,
        "cache_mode": CacheMode.PREWARM,
        "config_version": version,
        "experiment_frozen": False,
    }
    primary = {
        **fallback,
        "serve_full": True,
        "policy": ServingPolicy.HYBRID,
        "alpha": ALPHA,
        "fallback_level": FallbackLevel.A,
    }
    killed = {**fallback, "cache_mode": CacheMode.WARM_ONLY, "reason": DecisionReason.KILL_SWITCH}
    outside = {**fallback, "reason": DecisionReason.OUT_OF_SCOPE}
    unexposed = {**fallback, "reason": DecisionReason.OUT_OF_EXPOSURE}
    served = {**primary, "reason": DecisionReason.PRIMARY}
    return (
        [Decision(**killed, bucket=b) for b in range(BUCKETS)],
        [Decision(**outside, bucket=b) for b in range(BUCKETS)],
        [Decision(**(served if b < threshold else unexposed), bucket=b) for b in range(BUCKETS)],
    )


def murmur3_floor(salt: str, version: int) -> Callable[[RequestContext], Decision]:
    """Snapshot + MurmurHash3 (seeded by the salt, as failsafe.domain.bucketing documents) + compare."""
    killed, outside, exposed = floor_tables(version)
    seed = mmh3.hash(salt.encode("utf-8", "surrogatepass"), 0, False)
    murmur, buckets, killed_region, scope = mmh3.hash, BUCKETS, KILLED_REGION, frozenset(SCOPE_REGIONS)

    def floor(ctx: RequestContext) -> Decision:
        user_id, region, _cohort, _client = ctx
        # mmh3 must not see a non-ASCII str (it crashes on lone surrogates): the one check the hash needs.
        if user_id.isascii():  # type: ignore[union-attr]
            bucket = murmur(user_id, seed, False) % buckets
        else:
            bucket = murmur(user_id.encode("utf-8", "surrogatepass"), seed, False) % buckets  # type: ignore[union-attr]
        if region == killed_region:
            return killed[bucket]
        if region in scope:
            return exposed[bucket]
        return outside[bucket]

    return floor


def blake2b_floor(salt: str, version: int) -> Callable[[RequestContext], Decision]:
    """Snapshot + BLAKE2b (salt 0x1f user id, 8 bytes, the hash before issue 14) + compare, by hand."""
    killed, outside, exposed = floor_tables(version)
    prefix = hashlib.blake2b((salt + "\x1f").encode("utf-8", "surrogatepass"), digest_size=8)
    from_bytes, buckets, killed_region, scope = (
        int.from_bytes,
        BUCKETS,
        KILLED_REGION,
        frozenset(SCOPE_REGIONS),
    )

    def floor(ctx: RequestContext) -> Decision:
        user_id, region, _cohort, _client = ctx
        state = prefix.copy()
        state.update(user_id.encode("utf-8", "surrogatepass"))  # type: ignore[union-attr]
        bucket = from_bytes(state.digest(), "big") % buckets
        if region == killed_region:
            return killed[bucket]
        if region in scope:
            return exposed[bucket]
        return outside[bucket]

    return floor


# -- Powertools ----------------------------------------------------------------------------------------


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


def powertools_context(ctx: RequestContext) -> dict[str, Any]:
    assert ctx.user_id is not None
    return {
        "region": ctx.region,
        "cohort": ctx.cohort,
        "client": ctx.client,
        "bucket": bucket_of(DEFAULT_SALT, ctx.user_id),
    }


# -- workloads -----------------------------------------------------------------------------------------


def request(user: str, index: int) -> RequestContext:
    return RequestContext(user, REGIONS[index % len(REGIONS)], "default", "web")


class Workloads:
    """Draws each round's requests (outside the timed loops)."""

    NAMES = ("every user new", "Zipf, 1M users", "repeated")

    def __init__(self, count: int, seed: int) -> None:
        self.count = count
        self.rng = random.Random(seed)
        self.next_new = 0
        self.zipf_cumulative = list(itertools.accumulate(k**-ZIPF_EXPONENT for k in range(1, ZIPF_USERS + 1)))
        self.repeated = [request(f"rep-{i % REPEATED_USERS}", i) for i in range(count)]

    def draw(self, name: str) -> list[RequestContext]:
        if name == "every user new":
            start, self.next_new = self.next_new, self.next_new + self.count
            return [request(f"new-{i}", i) for i in range(start, start + self.count)]
        if name == "Zipf, 1M users":
            ranks = self.rng.choices(range(ZIPF_USERS), cum_weights=self.zipf_cumulative, k=self.count)
            return [request(f"user-{rank}", rank) for rank in ranks]
        return self.repeated


# -- measurement ---------------------------------------------------------------------------------------

Pass = Callable[[Sequence[Any]], None]


@dataclass
class Results:
    rounds: int
    count: int
    powertools_count: int
    floor_name: str
    samples: dict[str, dict[str, list[float]]]
    load_before: float
    load_after: float
    started: datetime.datetime

    def median(self, workload: str, contender: str) -> float:
        return statistics.median(self.samples[workload][contender])

    def ratio(self, workload: str, numerator: str, denominator: str) -> float:
        values = self.samples[workload]
        return statistics.median(n / d for n, d in zip(values[numerator], values[denominator], strict=True))

    def floor_ratio(self, workload: str, contender: str) -> float:
        return self.ratio(workload, contender, self.floor_name)

    def powertools_ratio(self, workload: str, contender: str) -> float:
        return self.ratio(workload, POWERTOOLS_BEST, contender)


POWERTOOLS_ONE = "Powertools, one flag"
POWERTOOLS_PER = "Powertools, per toggle"
POWERTOOLS_BEST = "Powertools (faster shape)"
FLOOR_MURMUR = "floor, MurmurHash3"
FLOOR_BLAKE = "floor, BLAKE2b"
LOOP = "empty loop"


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def verify(
    probe: Sequence[RequestContext],
    snapshot: Snapshot,
    client: ToggleClient,
    floors: dict[str, Callable[[RequestContext], Decision]],
    *,
    one_flag: FeatureFlags,
    per_toggle: FeatureFlags,
) -> str:
    """Check that everyone answers the same question the same way; return the floor with failsafe's hash.

    The floor whose decisions equal failsafe's, bucket included, uses failsafe's hash: the ratios are
    taken against it. The other floor buckets users differently, so only its kill and scope verdicts
    (which do not depend on the bucket) can be compared.
    """
    expected = [decide(snapshot, ctx) for ctx in probe]
    assert [client.decide(ctx) for ctx in probe] == expected, "client.decide disagrees with decide"
    same_hash = [name for name, floor in floors.items() if [floor(ctx) for ctx in probe] == expected]
    if len(same_hash) != 1:
        raise SystemExit(f"no hand-written floor reproduces failsafe's decisions (matching: {same_hash})")
    bucket_free = {DecisionReason.KILL_SWITCH, DecisionReason.OUT_OF_SCOPE}
    for name, floor in floors.items():
        for ctx, decision in zip(probe, expected, strict=True):
            if decision.reason in bucket_free:
                assert floor(ctx).reason is decision.reason, (name, ctx)
    for ctx, decision in zip(probe, expected, strict=True):
        pt_ctx = powertools_context(ctx)
        assert powertools_one_flag(one_flag, pt_ctx) == summary(decision), (ctx, pt_ctx)
        assert powertools_per_toggle(per_toggle, pt_ctx) == summary(decision), (ctx, pt_ctx)
    return same_hash[0]


def run(rounds: int, count: int, powertools_count: int, seed: int) -> Results:
    load_before, started = load_average(), datetime.datetime.now(datetime.UTC)
    document = ToggleDocument.model_validate(DOCUMENT)
    snapshot: Snapshot = compile_snapshot(document, service="recommender", environment="prod")
    one_flag = FeatureFlags(store=InMemoryStore(ONE_FLAG_SCHEMA))
    per_toggle = FeatureFlags(store=InMemoryStore(PER_TOGGLE_SCHEMA))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "toggles.json"
        path.write_text(json.dumps(DOCUMENT))
        client = ToggleClient(FileSource(path), service="recommender", environment="prod")
        client.refresh()
    assert client.ready
    assert client.config_version == 42
    version = document.metadata.version
    floors = {
        FLOOR_MURMUR: murmur3_floor(DEFAULT_SALT, version),
        FLOOR_BLAKE: blake2b_floor(DEFAULT_SALT, version),
    }
    workloads = Workloads(count, seed)

    probe = [ctx for name in Workloads.NAMES for ctx in workloads.draw(name)[:2_000]]
    floor_name = verify(probe, snapshot, client, floors, one_flag=one_flag, per_toggle=per_toggle)

    # Each pass is written out as a service would call it: one call per request inside a plain loop.
    def pass_client(items: Sequence[Any]) -> None:
        for ctx in items:
            client.decide(ctx)

    def pass_decide(items: Sequence[Any]) -> None:
        for ctx in items:
            decide(snapshot, ctx)

    def pass_floor(floor: Callable[[RequestContext], Decision]) -> Pass:
        def run_pass(items: Sequence[Any]) -> None:
            for ctx in items:
                floor(ctx)

        return run_pass

    def pass_one_flag(items: Sequence[Any]) -> None:
        for context in items:
            one_flag.evaluate(name="decision", context=context, default=FALLBACK)

    def pass_per_toggle(items: Sequence[Any]) -> None:
        for context in items:
            powertools_per_toggle(per_toggle, context)

    def pass_empty(items: Sequence[Any]) -> None:
        for _ in items:
            pass

    contenders: dict[str, tuple[Pass, bool]] = {  # name -> (pass, takes Powertools contexts)
        "client.decide": (pass_client, False),
        "decide(snapshot, ctx)": (pass_decide, False),
        FLOOR_MURMUR: (pass_floor(floors[FLOOR_MURMUR]), False),
        FLOOR_BLAKE: (pass_floor(floors[FLOOR_BLAKE]), False),
        POWERTOOLS_ONE: (pass_one_flag, True),
        POWERTOOLS_PER: (pass_per_toggle, True),
        LOOP: (pass_empty, False),
    }
    order = random.Random(seed)
    samples: dict[str, dict[str, list[float]]] = {w: {c: [] for c in contenders} for w in Workloads.NAMES}
    for round_number in range(rounds + 1):  # round 0 is the untimed warm-up
        jobs = []
        for workload in Workloads.NAMES:
            items = workloads.draw(workload)
            pt_items = [powertools_context(ctx) for ctx in items[:powertools_count]]
            jobs += [(workload, name, items, pt_items) for name in contenders]
        order.shuffle(jobs)
        for workload, name, items, pt_items in jobs:
            run_pass, powertools = contenders[name]
            batch = pt_items if powertools else items
            start = time.process_time_ns()
            run_pass(batch)
            elapsed = (time.process_time_ns() - start) / len(batch)
            if round_number:
                samples[workload][name].append(elapsed)
    for values in samples.values():
        values[POWERTOOLS_BEST] = [
            min(a, b) for a, b in zip(values[POWERTOOLS_ONE], values[POWERTOOLS_PER], strict=True)
        ]
    return Results(rounds, count, powertools_count, floor_name, samples, load_before, load_average(), started)


# -- report --------------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def headline(results: Results) -> tuple[float, float, bool]:
    floor = results.floor_ratio("every user new", "client.decide")
    powertools = results.powertools_ratio("every user new", "client.decide")
    return floor, powertools, floor <= TARGET_FLOOR_RATIO and powertools >= TARGET_POWERTOOLS_RATIO


def render(results: Results, command: str) -> str:
    floor, powertools, met = headline(results)
    floor_vs_powertools = results.powertools_ratio("every user new", results.floor_name)
    loaded = max(results.load_before, results.load_after) >= 1.0
    lines = [
        SECTION,
        "",
        f"Command: `{command}`",
        "",
        f"Run {results.started:%Y-%m-%d %H:%M} UTC. Python {platform.python_version()} on {cpu_model()} "
        f"({platform.system()} {platform.machine()}, {os.cpu_count()} CPUs), load average "
        f"{results.load_before:.1f} before and {results.load_after:.1f} after the run"
        + (": the shared machine was loaded by other work during the run." if loaded else ".")
        + f" {results.rounds} rounds after a warm-up; each round times one pass of every contender on "
        f"every workload ({results.count:,} requests; Powertools {results.powertools_count:,}), in an "
        "order shuffled per round. Figures: median ns of process CPU time per decision, including the "
        "loop and one call per request (the empty loop row); ratios: medians of per-round ratios.",
        "",
        f"**Headline (every user new): `client.decide` is {floor:.2f}x the hand-written floor "
        f"(target at most {TARGET_FLOOR_RATIO:g}x) and {powertools:.1f}x faster than Powertools "
        f"FeatureFlags (target at least {TARGET_POWERTOOLS_RATIO:g}x): "
        + ("targets met.**" if met else "TARGETS MISSED.**"),
        "",
        f"For scale, the hand-written floor itself is {floor_vs_powertools:.1f}x faster than Powertools "
        "in this run: no decide can reach more than that without beating the floor.",
        "",
        f"The floor is `{results.floor_name}`: the hash failsafe uses, found by comparing whole decisions.",
        "",
    ]
    for workload in Workloads.NAMES:
        lines += [
            f"### {workload}",
            "",
            f"| contender | ns / decision | / {results.floor_name} | Powertools (faster shape) / contender |",
            "|---|---:|---:|---:|",
        ]
        for name in results.samples[workload]:
            if name == LOOP:
                ratios = ("", "")
            elif name.startswith("Powertools"):
                ratios = (f"{results.floor_ratio(workload, name):,.1f}x", "")
            else:
                ratios = (
                    f"{results.floor_ratio(workload, name):,.2f}x",
                    f"{results.powertools_ratio(workload, name):,.1f}x",
                )
            lines.append(f"| {name} | {results.median(workload, name):,.0f} | {ratios[0]} | {ratios[1]} |")
        lines.append("")
    lines += [
        "Every contender gave the same answer for the first 2,000 requests of each workload before timing "
        "(failsafe and its floor: the whole decision, bucket included; Powertools: the policy fields; the "
        "floor with the other hash: the kill and scope verdicts). Workloads: *every user new* uses user "
        "ids never seen before in the process; *Zipf* "
        f"draws from {ZIPF_USERS:,} users with exponent {ZIPF_EXPONENT}; *repeated* replays "
        f"{REPEATED_USERS:,} requests. Powertools is given each user's bucket precomputed. failsafe keeps "
        "no per-request or per-user cache since issue 14, so the three workloads cost about "
        "the same; it moved from BLAKE2b to MurmurHash3 with the new default salt `failsafe.exposure.v2` "
        "(every user reshuffled once; see `failsafe.domain.bucketing`).",
        "",
    ]
    return "\n".join(lines)


KEPT = "### Before issue 14"
"""A hand-written subsection of the section (figures of the code before issue 14) that `--write` keeps."""


def write_section(text: str) -> None:
    """Replace (or append) only the `## bench_decide` section of RESULTS.md, keeping its `KEPT` part."""
    existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = existing.find(SECTION + "\n")
    if start == -1:
        updated = existing.rstrip("\n") + "\n\n" + text
    else:
        end = existing.find("\n## ", start + len(SECTION))
        section = existing[start : end + 1] if end != -1 else existing[start:]
        kept = section.find(KEPT)
        if kept != -1:
            text = text.rstrip("\n") + "\n\n" + section[kept:].rstrip("\n") + "\n"
        tail = existing[end + 1 :] if end != -1 else ""
        updated = existing[:start] + text + ("\n" + tail if tail else "")
    RESULTS.write_text(updated)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds (after one warm-up round)")
    parser.add_argument("--requests", type=int, default=100_000, help="requests per pass for failsafe")
    parser.add_argument("--powertools-requests", type=int, default=2_000, help="requests per Powertools pass")
    parser.add_argument("--seed", type=int, default=14, help="seed of the Zipf draws and the shuffles")
    parser.add_argument("--write", action="store_true", help="update the bench_decide section of RESULTS.md")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the every-user-new targets are missed"
    )
    args = parser.parse_args(argv)

    results = run(args.rounds, args.requests, args.powertools_requests, args.seed)
    command = " ".join([SCRIPT, *(argv if argv is not None else sys.argv[1:])])
    print(render(results, command))
    if args.write:
        write_section(render(results, command))
        print(f"wrote {RESULTS}")
    floor, powertools, met = headline(results)
    if args.check and not met:
        print(
            f"check failed: every user new is {floor:.2f}x the floor (target <= {TARGET_FLOOR_RATIO:g}x) and "
            f"{powertools:.1f}x Powertools (target >= {TARGET_POWERTOOLS_RATIO:g}x)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
