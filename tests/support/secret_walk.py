"""Walk planned inputs and outputs for secret values outside Pulumi's secret wrappers (shared by the tests)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from typing import Any

from tools.harness import PlanResult, is_secret_wrapper

RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"


def _strings(value: Any) -> Iterator[str]:
    """Every string in a config value (a secret map holds one per name)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def secret_values(result: PlanResult) -> set[str]:
    """The secret config values the run used and the passwords `pulumi_random` generated in it."""
    values = {s for value in result.secrets.values() for s in _strings(value)}
    values |= {r.outputs["result"] for r in result.by_type(RANDOM_PASSWORD) if r.outputs.get("result")}
    return values


def _forms(value: str) -> tuple[str, ...]:
    """How a value may appear: as is, or base64-encoded (Kubernetes Secret `data`)."""
    return value, base64.b64encode(value.encode()).decode()


def _contains_secret(text: str, needles: Iterable[str]) -> bool:
    return any(form in text for needle in needles for form in _forms(needle))


def find_leaks(value: Any, needles: Iterable[str], path: str = "") -> list[str]:
    """Paths of plain strings that contain a secret value; anything under a secret wrapper is fine."""
    if is_secret_wrapper(value):
        return []
    if isinstance(value, str):
        return [path] if _contains_secret(value, needles) else []
    if isinstance(value, dict):
        # a key can leak too (a tag named after a secret)
        keys = [f"{path}.{key} (key)" for key in value if isinstance(key, str) and _contains_secret(key, needles)]
        return keys + [leak for key, item in value.items() for leak in find_leaks(item, needles, f"{path}.{key}")]
    if isinstance(value, list):
        return [leak for index, item in enumerate(value) for leak in find_leaks(item, needles, f"{path}[{index}]")]
    return []


def resource_leaks(result: PlanResult) -> list[str]:
    needles = secret_values(result)
    return [f"{r.type} {r.name}{leak}" for r in result.resources for leak in find_leaks(r.raw_inputs, needles)]


def output_leaks(result: PlanResult) -> list[str]:
    needles = secret_values(result)
    return [f"output {name}{leak}" for name, value in result.outputs.items() if name not in result.secret_outputs
            for leak in find_leaks(value, needles)]
