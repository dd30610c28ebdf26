"""Benchmark: cold import of every Lambda handler from the `sam build` output, against `import boto3`.

What is measured
----------------
For every function of the built template (``.aws-sam/build/template.yaml``), the import of its handler
module (``Handler: failsafe.handlers.alarm_ingest.handler`` -> ``failsafe.handlers.alarm_ingest``) in a
fresh subprocess of a boto3-only Python (what the Lambda runtime has), with ``sys.path`` = the function's
build directory followed by the standard library only (``-I -S``: no site-packages, no user site, no
``PYTHON*`` variables). In the same run and the same way, ``import boto3`` from a copy of that Python's
own boto3 (the floor every handler is compared with). The timer is ``time.perf_counter`` around
``importlib.import_module`` inside the child, so interpreter start-up is excluded for both.

The child gets the environment Lambda gives a function: ``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_FUNCTION_NAME``,
``AWS_REGION``, ``AWS_EXECUTION_ENV``, ``_HANDLER`` and the function's ``Environment.Variables`` from the
template (``Globals`` merged with the function's own; intrinsic values such as ``!Ref`` become a
placeholder string). ``LAMBDA_TASK_ROOT`` matters: Powertools' Tracer is only active (X-Ray SDK patching)
inside Lambda.

Two modes, both reported
------------------------
- ``as shipped``: the build output exactly as ``sam build`` leaves it, without ``__pycache__`` (Lambda's
  first start: the code package has no bytecode). The boto3 baseline is a copy without ``__pycache__``
  too, and every child runs with ``-B`` so nothing is written; the child checks that no module of the
  package was loaded from bytecode.
- ``with bytecode``: the same copies after ``python -m compileall --invalidation-mode unchecked-hash``
  (bytecode compiled into the package at build time; unchecked-hash ``.pyc`` files do not depend on
  file mtimes, so they stay valid in a Lambda zip). The child checks that every module came from
  bytecode.

The standard library has its bytecode in both modes, as on Lambda. Each round runs every (mode,
function) and the baselines once, in a shuffled order, so load on a shared machine hits all alike;
figures are the median and the minimum over the rounds, and the ratio is handler median / boto3 median of
the same mode.

Run (after ``sam build --parameter-overrides Architecture=<this machine's>``)::

    .venv/bin/python benchmarks/bench_cold_start.py --python /path/to/boto3-only/python3.11 --check

``--check`` exits 1 if any ratio exceeds ``--max-ratio`` (1.2, issue 9), on CPU time by default
(``--check-clock wall`` for wall clock: on a loaded shared machine wall-clock ratios swing by 2x).
``--write`` replaces the ``## bench_cold_start`` section of benchmarks/RESULTS.md and nothing else. The
copies live in a temporary directory beside the build directory (hard links where possible) and are
removed afterwards; the build output itself is never modified.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## bench_cold_start"
SCRIPT = ".venv/bin/python benchmarks/bench_cold_start.py"
BASELINE = "import boto3"
MODES = ("as shipped", "with bytecode")
# What `import boto3` needs (boto3's own requirements and theirs), copied from the runtime's site-packages.
BOTO3_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")
PLACEHOLDER = "bench-placeholder"
CLOCKS = ("wall", "cpu")
Samples = dict[tuple[str, str], list[float]]  # (mode, function or baseline) -> seconds per round

# Runs in the child: `sys.path` = [package dir] + standard library; times the import; reports how many of
# the package's modules were loaded from bytecode.
CHILD = r"""
import importlib, json, os, sys, time
directory, module = sys.argv[1], sys.argv[2]
sys.path[:] = [directory] + [p for p in sys.path if p and "site-packages" not in p]
start, start_cpu = time.perf_counter(), time.process_time()
importlib.import_module(module)
seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
ours = [
    m for m in list(sys.modules.values())
    if (getattr(m, "__file__", None) or "").startswith(directory) and m.__file__.endswith(".py")
]
from_bytecode = sum(
    1 for m in ours if m.__spec__ is not None and m.__spec__.cached and os.path.exists(m.__spec__.cached)
)
print(json.dumps({"seconds": seconds, "cpu": cpu, "modules": len(ours), "from_bytecode": from_bytecode}))
"""


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML: `!Ref X` becomes `{"Ref": "X"}`, every other intrinsic tag a placeholder."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if suffix == "Ref" and isinstance(node, yaml.ScalarNode):
        return {"Ref": loader.construct_scalar(node)}
    return PLACEHOLDER


def _env_value(value: Any, parameters: dict[str, Any]) -> str:
    """An environment value as Lambda would see it: a parameter's default for a `Ref`, else a placeholder."""
    if isinstance(value, dict):
        ref = value.get("Ref")
        default = (parameters.get(ref) or {}).get("Default") if isinstance(ref, str) else None
        return str(default) if default is not None else PLACEHOLDER
    return str(value)


_CfnLoader.add_multi_constructor("!", _intrinsic)


@dataclass(frozen=True)
class Function:
    name: str
    code_dir: Path
    module: str
    handler: str
    environment: dict[str, str]


def read_functions(build_dir: Path) -> list[Function]:
    template_path = build_dir / "template.yaml"
    if not template_path.exists():
        raise SystemExit(
            f"{template_path} not found: run `sam build --parameter-overrides Architecture=x86_64` first"
        )
    template = yaml.load(template_path.read_text(), Loader=_CfnLoader)
    parameters = template.get("Parameters") or {}
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    global_env = (globals_fn.get("Environment") or {}).get("Variables") or {}
    functions = []
    for name, resource in sorted(template["Resources"].items()):
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        handler = props.get("Handler") or globals_fn.get("Handler")
        code_uri = props.get("CodeUri") or globals_fn.get("CodeUri")
        if not handler or not isinstance(code_uri, str):
            raise SystemExit(f"{name}: no Handler or CodeUri string in {template_path}")
        env = {**global_env, **((props.get("Environment") or {}).get("Variables") or {})}
        functions.append(
            Function(
                name=name,
                code_dir=build_dir / code_uri,
                module=handler.rpartition(".")[0],
                handler=handler,
                environment={k: _env_value(v, parameters) for k, v in env.items()},
            )
        )
    if not functions:
        raise SystemExit(f"no AWS::Serverless::Function in {template_path}")
    return functions


def runtime_site_packages(python: str) -> Path:
    out = subprocess.run(
        [python, "-I", "-c", "import boto3, os; print(os.path.dirname(os.path.dirname(boto3.__file__)))"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


def _copy_without_bytecode(source: Path, target: Path) -> None:
    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    if source.is_dir():
        shutil.copytree(source, target, ignore=ignore, copy_function=link_or_copy)
    else:
        link_or_copy(str(source), str(target))


def prepare(
    functions: list[Function], python: str, scratch: Path, modes: Sequence[str]
) -> dict[tuple[str, str], Path]:
    """One directory per (mode, function) and per (mode, baseline): copies, compiled for "with bytecode"."""
    site = runtime_site_packages(python)
    dirs: dict[tuple[str, str], Path] = {}
    for index, mode in enumerate(modes):
        base = scratch / f"mode{index}"
        boto3_dir = base / "_boto3"
        boto3_dir.mkdir(parents=True)
        for dist in BOTO3_DISTRIBUTIONS:
            _copy_without_bytecode(site / dist, boto3_dir / dist)
        dirs[(mode, BASELINE)] = boto3_dir
        for fn in functions:
            target = base / fn.name
            _copy_without_bytecode(fn.code_dir, target)
            dirs[(mode, fn.name)] = target
        if mode == "with bytecode":
            subprocess.run(
                [
                    python,
                    "-m",
                    "compileall",
                    "-q",
                    "-j",
                    "0",
                    "--invalidation-mode",
                    "unchecked-hash",
                    str(base),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
    return dirs


def lambda_env(name: str, directory: Path, handler: str, variables: dict[str, str]) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LAMBDA_TASK_ROOT": str(directory),
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "_HANDLER": handler,
        **variables,
    }


def measure_once(
    python: str, directory: Path, module: str, env: dict[str, str], mode: str
) -> tuple[float, float]:
    out = subprocess.run(
        [python, "-I", "-S", "-B", "-c", CHILD, str(directory), module],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode != 0:
        raise SystemExit(f"importing {module} from {directory} failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    expected = 0 if mode == "as shipped" else result["modules"]
    if result["from_bytecode"] != expected:
        raise SystemExit(
            f"{module} ({mode}): {result['from_bytecode']} of {result['modules']} package modules came from "
            f"bytecode, expected {expected}: the copy in {directory} is not what this mode measures"
        )
    return float(result["seconds"]), float(result["cpu"])


def run(
    functions: list[Function], python: str, repeats: int, modes: Sequence[str], scratch: Path
) -> dict[str, Samples]:
    dirs = prepare(functions, python, scratch, modes)
    jobs: list[tuple[str, str, str, dict[str, str]]] = []
    for mode in modes:
        boto3_env = lambda_env("Boto3Baseline", dirs[(mode, BASELINE)], "boto3", {})
        jobs.append((mode, BASELINE, "boto3", boto3_env))
        for fn in functions:
            env = lambda_env(fn.name, dirs[(mode, fn.name)], fn.handler, fn.environment)
            jobs.append((mode, fn.name, fn.module, env))
    samples: dict[str, Samples] = {clock: {(m, name): [] for m, name, _, _ in jobs} for clock in CLOCKS}
    rng = random.Random(9)
    for round_no in range(repeats):
        order = jobs[:]
        rng.shuffle(order)
        for mode, name, module, env in order:
            wall, cpu = measure_once(python, dirs[(mode, name)], module, env, mode)
            samples["wall"][(mode, name)].append(wall)
            samples["cpu"][(mode, name)].append(cpu)
        print(f"round {round_no + 1}/{repeats} done", file=sys.stderr)
    return samples


def ratios(samples: Samples, mode: str) -> dict[str, float]:
    floor = statistics.median(samples[(mode, BASELINE)])
    return {
        name: statistics.median(values) / floor
        for (m, name), values in samples.items()
        if m == mode and name != BASELINE
    }


def render(
    samples: dict[str, Samples],
    *,
    functions: list[Function],
    modes: Sequence[str],
    repeats: int,
    command: str,
    max_ratio: float,
    python_version: str,
    build_dir: str,
) -> str:
    lines = [
        SECTION,
        "",
        f"Command: `{command}`",
        "",
        f"{dt.date.today().isoformat()}, Python {python_version} (boto3-only interpreter, as the Lambda "
        f"runtime) on {platform.machine()} ({platform.system()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end of the run: a shared machine). Package: `sam build` output "
        f"(`{build_dir}`). {repeats} rounds, each importing every handler and `import boto3` once per "
        "mode in a fresh `python -I -S -B` subprocess, shuffled. Times are the import alone (interpreter "
        "start-up excluded), in milliseconds: wall clock (median and min) and CPU time of the importing "
        "process (median; what the import costs, less disturbed by other work on the machine). "
        "Ratio = handler median / `import boto3` median of the same mode and clock "
        f"(target ≤ {max_ratio}x, issue 9). Method and modes: docstring of the script.",
        "",
    ]
    header = "| handler |"
    rule = "|---|"
    for mode in modes:
        header += f" {mode}: wall median | wall min | CPU median | ratio wall | ratio CPU |"
        rule += "---:|---:|---:|---:|---:|"
    lines += [header, rule]
    mode_ratios = {(clock, mode): ratios(samples[clock], mode) for clock in CLOCKS for mode in modes}
    for name, label in [(BASELINE, f"`{BASELINE}` (floor)")] + [
        (fn.name, f"{fn.name} (`{fn.module}`)") for fn in functions
    ]:
        row = f"| {label} |"
        for mode in modes:
            wall, cpu = samples["wall"][(mode, name)], samples["cpu"][(mode, name)]
            row += f" {statistics.median(wall) * 1e3:,.0f} | {min(wall) * 1e3:,.0f} |"
            row += f" {statistics.median(cpu) * 1e3:,.0f} |"
            for clock in CLOCKS:
                row += " 1.00x |" if name == BASELINE else f" {mode_ratios[(clock, mode)][name]:.2f}x |"
        lines.append(row)
    lines.append("")
    for mode in modes:
        for clock in CLOCKS:
            worst_name, worst = max(mode_ratios[(clock, mode)].items(), key=lambda item: item[1])
            verdict = "meets" if worst <= max_ratio else "misses"
            lines.append(
                f"- {mode}, {clock}: worst {worst_name} at {worst:.2f}x, {verdict} the {max_ratio}x target."
            )
    lines.append("")
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace (or append) only the `## bench_cold_start` section of RESULTS.md."""
    existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = existing.find(SECTION + "\n")
    if start == -1:
        updated = existing.rstrip("\n") + "\n\n" + text
    else:
        end = existing.find("\n## ", start + len(SECTION))
        tail = existing[end + 1 :] if end != -1 else ""
        updated = existing[:start] + text + ("\n" + tail if tail else "")
    RESULTS.write_text(updated)


def _shown(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(resolved)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    parser.add_argument(
        "--python",
        default=str(ROOT / ".venv-lambda" / "bin" / "python"),
        help="a Python 3.11 with boto3 only (make lambda-python)",
    )
    parser.add_argument("--repeats", type=int, default=7, help="rounds (median and min are reported)")
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both")
    parser.add_argument("--only", nargs="*", default=None, help="function logical ids to measure")
    parser.add_argument("--max-ratio", type=float, default=1.2)
    parser.add_argument("--check", action="store_true", help="exit 1 if any ratio exceeds --max-ratio")
    parser.add_argument(
        "--check-clock", choices=CLOCKS, default="cpu", help="which ratio --check holds to the target"
    )
    parser.add_argument("--write", action="store_true", help="update the bench_cold_start section")
    args = parser.parse_args(argv)

    functions = read_functions(args.build_dir.resolve())
    if args.only:
        unknown = set(args.only) - {fn.name for fn in functions}
        if unknown:
            known = [fn.name for fn in functions]
            raise SystemExit(f"--only: unknown functions {sorted(unknown)}; known: {known}")
        functions = [fn for fn in functions if fn.name in args.only]
    modes = MODES if args.mode == "both" else (args.mode,)
    version = subprocess.run(
        [args.python, "-c", "import platform; print(platform.python_version())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-cold-start-", dir=args.build_dir.resolve().parent) as tmp:
        samples = run(functions, args.python, args.repeats, modes, Path(tmp))
    command = " ".join([SCRIPT, *(argv if argv is not None else sys.argv[1:])])
    text = render(
        samples,
        functions=functions,
        modes=modes,
        repeats=args.repeats,
        command=command,
        max_ratio=args.max_ratio,
        python_version=version,
        build_dir=_shown(args.build_dir),
    )
    print(text)
    if args.write:
        write_section(text)
        print(f"wrote {RESULTS}")
    if args.check:
        over = {
            f"{name} ({mode}, {args.check_clock})": round(ratio, 2)
            for mode in modes
            for name, ratio in ratios(samples[args.check_clock], mode).items()
            if ratio > args.max_ratio
        }
        if over:
            print(f"over {args.max_ratio}x import boto3: {over}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
