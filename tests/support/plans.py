"""Cached offline runs of the real program, shared by the tests (each run takes a fraction of a second)."""

from __future__ import annotations

from functools import lru_cache

from components.core.environments import STACKS  # noqa: F401 - re-exported for the tests
from tools.harness import PlanResult, run_stack


@lru_cache(maxsize=64)
def plan(stack: str, *overrides: str) -> PlanResult:
    """The program's plan for a stack with its committed settings, optionally overridden (`KEY=VALUE`)."""
    return run_stack(stack, list(overrides))
