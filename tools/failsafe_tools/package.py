"""Finish and check a `sam build` output: `python -m failsafe_tools.package .aws-sam/build --python PY`.

For every function of the built template:
- its package holds production code only: no `failsafe/local`, `failsafe/cli`, `failsafe/drill`, no
  `failsafe_tools` and no tests, and it has the module its Handler names;
- its bytecode is compiled into the package by `PY` (the interpreter that plays the Lambda runtime), with
  `--invalidation-mode unchecked-hash`: Lambda's code directory is read-only, so without shipped bytecode
  every cold start compiles every module again, and a zip keeps file times only to two seconds, which would
  make timestamp-checked bytecode look stale.

Exits non-zero, naming the function and the path, when a package breaks a rule or `PY` is not the template's
Python.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from failsafe_tools.local.provision.yaml_loader import load_template

FORBIDDEN = ("failsafe/local", "failsafe/cli", "failsafe/drill", "failsafe_tools", "tests")


class PackageError(RuntimeError):
    """A built package breaks a rule; the message names the function, the path and the fix."""


@dataclass(frozen=True)
class BuiltFunction:
    logical_id: str
    handler: str
    runtime: str
    code_dir: Path

    @property
    def handler_module(self) -> Path:
        module = self.handler.rsplit(".", 1)[0]
        return self.code_dir / (module.replace(".", "/") + ".py")


def built_functions(build_dir: Path) -> list[BuiltFunction]:
    """The functions of `build_dir/template.yaml` whose code `sam build` put in a directory."""
    template_path = build_dir / "template.yaml"
    if not template_path.is_file():
        raise PackageError(f"{template_path}: no built template; run `sam build` (make build) first")
    template = load_template(template_path)
    function_globals = (template.get("Globals") or {}).get("Function") or {}
    found = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**function_globals, **(resource.get("Properties") or {})}
        code_uri = props.get("CodeUri")
        if not isinstance(code_uri, str):
            continue
        found.append(
            BuiltFunction(
                logical_id=logical_id,
                handler=str(props.get("Handler", "")),
                runtime=str(props.get("Runtime", "")),
                code_dir=(build_dir / code_uri).resolve(),
            )
        )
    if not found:
        raise PackageError(f"{template_path}: no function with a built code directory")
    return found


def check_contents(function: BuiltFunction) -> None:
    if not function.code_dir.is_dir():
        raise PackageError(
            f"{function.logical_id}: code directory {function.code_dir} is missing; run sam build"
        )
    for forbidden in FORBIDDEN:
        if (function.code_dir / forbidden).exists():
            raise PackageError(
                f"{function.logical_id}: package holds {forbidden}/ ({function.code_dir / forbidden}); "
                "only production code ships: keep tools out of the CodeUri directory"
            )
    if not function.handler_module.is_file():
        raise PackageError(
            f"{function.logical_id}: handler {function.handler!r} has no module {function.handler_module}"
        )


def python_version(python: Path) -> str:
    out = subprocess.run(
        [str(python), "-c", "import sys; print(f'python{sys.version_info[0]}.{sys.version_info[1]}')"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


LAMBDA_TASK_ROOT = "/var/task"


def compile_bytecode(code_dir: Path, python: Path) -> None:
    """Compile `code_dir` as Lambda will see it: tracebacks name /var/task, not this machine's path."""
    subprocess.run(
        [
            str(python),
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(code_dir),
            "-p",
            LAMBDA_TASK_ROOT,
            str(code_dir),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def source_digest(code_dir: Path) -> str:
    """Digest of every .py file (path and content): packages with the same digest get the same bytecode."""
    digest = hashlib.sha256()
    for path in sorted(code_dir.rglob("*.py")):
        digest.update(str(path.relative_to(code_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def copy_bytecode(source: Path, target: Path) -> None:
    for cache in source.rglob("__pycache__"):
        shutil.copytree(cache, target / cache.relative_to(source), dirs_exist_ok=True)


SOURCE_STAMP = "failsafe-source.sha256"
"""Written into the build directory: the digest of the source it was built from (see `is_current`)."""


def source_tree_digest(source_dir: Path) -> str:
    """Digest of what `sam build` reads from the CodeUri: the Python sources and requirements.txt."""
    digest = hashlib.sha256(source_digest(source_dir).encode())
    requirements = source_dir / "requirements.txt"
    if requirements.is_file():
        digest.update(requirements.read_bytes())
    return digest.hexdigest()


def is_current(build_dir: Path, source_dir: Path) -> bool:
    """True when `build_dir` was finished from the sources now in `source_dir` (none edited since)."""
    stamp = build_dir / SOURCE_STAMP
    return stamp.is_file() and stamp.read_text().strip() == source_tree_digest(source_dir)


def finish(build_dir: Path, python: Path, source_dir: Path | None = None) -> list[BuiltFunction]:
    functions = built_functions(build_dir)
    version = python_version(python)
    for function in functions:
        check_contents(function)
        if function.runtime and function.runtime != version:
            raise PackageError(
                f"{function.logical_id}: Runtime {function.runtime} but --python {python} is {version}; "
                "bytecode must come from the runtime's Python"
            )
    # SAM builds one CodeUri once and copies it to every function, so most packages share their bytecode.
    compiled: dict[str, Path] = {}
    for number, function in enumerate(functions, 1):
        digest = source_digest(function.code_dir)
        twin = compiled.get(digest)
        if twin is None:
            print(f"[{number}/{len(functions)}] {function.logical_id}: compiling bytecode", flush=True)
            compile_bytecode(function.code_dir, python)
            compiled[digest] = function.code_dir
        else:
            print(
                f"[{number}/{len(functions)}] {function.logical_id}: same sources, bytecode copied",
                flush=True,
            )
            copy_bytecode(twin, function.code_dir)
    if source_dir is not None:
        (build_dir / SOURCE_STAMP).write_text(source_tree_digest(source_dir) + "\n")
    return functions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m failsafe_tools.package", description=__doc__.split("\n")[0]
    )
    parser.add_argument("build_dir", type=Path, help="the sam build output directory (.aws-sam/build)")
    parser.add_argument("--python", type=Path, required=True, help="the Python that plays the Lambda runtime")
    parser.add_argument("--source", type=Path, help="the CodeUri directory it was built from (stamped)")
    args = parser.parse_args(argv)
    try:
        functions = finish(args.build_dir, args.python, args.source)
    except (PackageError, subprocess.CalledProcessError) as exc:
        print(f"failsafe package: {exc}", file=sys.stderr)
        return 1
    print(f"{len(functions)} packages checked (production code only) and compiled in {args.build_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
