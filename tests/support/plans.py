"""Cached offline runs of the real program, shared by the tests (each run takes a fraction of a second)."""

from __future__ import annotations

from functools import lru_cache

from tools.harness import PlanResult, run_stack

STACKS = ("staging", "production")


@lru_cache(maxsize=64)
def plan(stack: str, *overrides: str) -> PlanResult:
    """The program's plan for a stack with its committed settings, optionally overridden (`KEY=VALUE`)."""
    return run_stack(stack, list(overrides))
