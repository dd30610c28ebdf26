"""The default rollback plan: the stages, levels, target times and verify policy of the two source specs.

This data is the source of truth; `infra/plans/default.json` is generated from it (`make generate`), and the
verify policy's defaults are also the controller settings' (`failsafe.controller.settings`) and
template.yaml's parameter defaults (a template test ties them together).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from failsafe.domain.plans import Plan

_TOGGLE_GUARDRAILS = ("coverage", "latency", "errors", "cache", "availability")

DEFAULT_PLAN_DATA: Mapping[str, Any] = {
    "name": "recommender-default",
    "stages": [
        {
            "name": "stage_1",
            "title": "Stage 1: throttle traffic to 75 %, serve warm cache only",
            "level": "1",
            "overlay": {"exposure_percent": 75, "cache_mode": "warm_only"},
            "target_seconds": 120,
            "authorized_roles": ["on_call", "engineering_manager", "cto"],
            "notify": ["slack"],
            "degrade_only": True,
            "recovery": {"guardrail_kinds": _TOGGLE_GUARDRAILS, "deadline_seconds": 300},
        },
        {
            "name": "stage_2",
            "title": "Stage 2: content-only, collaborative filtering off, filter pruning",
            "level": "2",
            "overlay": {"policy_mode": "content_only", "disable_cf": True, "candidate_fallback_level": "B"},
            "target_seconds": 300,
            "authorized_roles": ["engineering_manager", "cto"],
            "notify": ["slack", "email"],
            "recovery": {"guardrail_kinds": _TOGGLE_GUARDRAILS, "deadline_seconds": 300},
        },
        {
            "name": "stage_3",
            "title": "Stage 3: throttle to 50 %, popularity fallback, freeze experiments",
            "level": "3",
            "overlay": {"exposure_percent": 50, "candidate_fallback_level": "C", "experiment_freeze": True},
            "target_seconds": 600,
            "authorized_roles": ["engineering_manager", "cto"],
            "notify": ["slack", "email", "pagerduty"],
            "recovery": {"guardrail_kinds": _TOGGLE_GUARDRAILS, "deadline_seconds": 300},
        },
        {
            "name": "revert",
            "title": "Level 3: revert to the last known good release",
            "level": "3",
            "action": "revert_to_last_known_good",
            "target_seconds": 600,
            "requires_approval": True,
            "authorized_roles": ["cto"],
            "notify": ["slack", "email", "pagerduty"],
            "recovery": {"guardrail_kinds": _TOGGLE_GUARDRAILS, "deadline_seconds": 300},
        },
        {
            "name": "emergency",
            "title": "Emergency: kill switch, 10 % traffic, content-only, popularity fallback",
            "level": "emergency",
            "overlay": {
                "kill_switch": True,
                "exposure_percent": 10,
                "policy_mode": "content_only",
                "disable_cf": True,
                "candidate_fallback_level": "D",
            },
            "target_seconds": 120,
            "requires_reason": True,
            "authorized_roles": ["on_call", "engineering_manager", "cto"],
            "notify": ["slack", "email", "pagerduty", "phone"],
            "recovery": {
                "guardrail_kinds": (*_TOGGLE_GUARDRAILS, "security", "audit"),
                "deadline_seconds": 300,
            },
        },
    ],
    "entry_by_severity": {"P2": "stage_1", "P1": "stage_2", "critical": "emergency"},
    "entry_by_kind": {"security": "emergency", "audit": "emergency"},
    # Seed 000: metrics back in the green zone within 15 minutes.
    "verify": {"window_seconds": 900, "refire_factor": 2.0, "max_window_seconds": 3600},
}

DEFAULT_PLAN = Plan.model_validate(DEFAULT_PLAN_DATA)
