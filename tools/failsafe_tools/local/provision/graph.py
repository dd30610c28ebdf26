"""Creation order: a topological sort on Ref, Fn::GetAtt, Fn::Sub and DependsOn, in template order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from failsafe_tools.local.provision.errors import DependencyCycleError, TemplateError
from failsafe_tools.local.provision.intrinsics import Resolver, references


def dependencies(resources: Mapping[str, Any], resolver: Resolver | None = None) -> dict[str, list[str]]:
    """For every resource, the resources it needs created first."""
    deps: dict[str, list[str]] = {}
    for logical_id, resource in resources.items():
        needed: list[str] = []
        depends_on = resource.get("DependsOn") or []
        for name in [depends_on] if isinstance(depends_on, str) else depends_on:
            if name not in resources:
                raise TemplateError(
                    f"resource {logical_id!r}: DependsOn {name!r} is not a resource in the template"
                )
            needed.append(name)
        for name in references(resource.get("Properties") or {}, resolver):
            if name in resources and name != logical_id:
                needed.append(name)
            elif name == logical_id:
                raise DependencyCycleError([logical_id, logical_id])
        deps[logical_id] = list(dict.fromkeys(needed))
    return deps


def creation_order(deps: Mapping[str, list[str]]) -> list[str]:
    """Resources in an order where each comes after everything it depends on (stable: template order)."""
    order: list[str] = []
    done: set[str] = set()
    remaining = list(deps)
    while remaining:
        ready = [r for r in remaining if all(d in done for d in deps[r])]
        if not ready:
            raise DependencyCycleError(_find_cycle(deps, remaining))
        for r in ready:
            order.append(r)
            done.add(r)
        remaining = [r for r in remaining if r not in done]
    return order


def _find_cycle(deps: Mapping[str, list[str]], candidates: list[str]) -> list[str]:
    pending = set(candidates)
    for start in candidates:
        path: list[str] = []
        on_path: dict[str, int] = {}
        node = start
        while node not in on_path:
            on_path[node] = len(path)
            path.append(node)
            node = next(d for d in deps[node] if d in pending)
        return [*path[on_path[node] :], node]
    raise AssertionError(
        "no cycle among blocked resources"
    )  # pragma: no cover - a blocked set always has one
