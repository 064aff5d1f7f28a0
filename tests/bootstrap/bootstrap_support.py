"""Cached offline plans of the bootstrap stacks, and readers for the documents the tests judge."""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = ROOT / "bootstrap"
if str(BOOTSTRAP) not in sys.path:
    sys.path.insert(0, str(BOOTSTRAP))

from kingtavo_bootstrap.settings import BootstrapSettingsError  # noqa: E402, F401 - for the tests

from bootstrap.plan import plan as run_plan  # noqa: E402
from tools.harness import PlanResult  # noqa: E402

STACKS = ("staging", "production")
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


@lru_cache(maxsize=32)
def plan(stack: str, *overrides: str) -> PlanResult:
    return run_plan(stack, overrides)


def role(result: PlanResult, role_name: str):
    (found,) = [r for r in result.by_type(ROLE) if r.inputs["name"] == role_name]
    return found


def trust(result: PlanResult, role_name: str) -> dict:
    return json.loads(role(result, role_name).inputs["assumeRolePolicy"])


def permissions(result: PlanResult, role_name: str) -> dict:
    """The inline policy attached to the role (the plan's RolePolicy whose role is that role's id)."""
    target = role(result, role_name)
    (policy,) = [p for p in result.by_type(ROLE_POLICY) if p.inputs["role"] == target.outputs.get("id", target.name)
                 or p.parent == target.urn]
    return json.loads(policy.inputs["policy"])
