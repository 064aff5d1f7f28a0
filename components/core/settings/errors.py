"""How settings problems are reported: one `SettingsError` listing every problem, each naming its full key.

    kingtavo:network.cidr: '10.0.0.0/33' is not an IPv4 CIDR

pydantic's errors are turned into that form here (`format_error`); a model-level check names
its own sub-keys by raising `keyed([...])` with `subKey: message` lines. An unknown key gets a
"did you mean" suggestion from the model's own field names (difflib). Secret values are never
echoed: for a secret key only the kind of problem is shown.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel


class SettingsError(Exception):
    """Every problem found in the stack settings, one `kingtavo:<key>: <what was expected>` per line."""

    def __init__(self, problems: list[str]):
        self.problems = sorted(set(problems))
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"invalid stack settings ({len(self.problems)} problem(s)):\n{lines}")


# A model-level check reports `subKey: message` lines so that each problem names its own key.
KEYED = re.compile(r"^[a-z][A-Za-z0-9]*(\.[A-Za-z0-9_]+)*: ")


def keyed(problems: list[str]) -> None:
    """Raise the model check's problems (each `subKey: message`) as one error, or nothing."""
    if problems:
        raise ValueError("\n".join(problems))


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest candidate, or nothing."""
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _model_at(model: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The nested model a location path points into (by config key), or None."""
    for part in path:
        field = next((f for name, f in model.model_fields.items() if (f.alias or name) == part), None)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _unquote_hint(error: Mapping[str, Any]) -> str:
    """Strict types refuse '2' and 'true': say how to write them when that is the slip."""
    value = error.get("input")
    if not isinstance(value, str):
        return ""
    plain = value.strip().lower()
    if (error["type"] == "int_type" and plain.lstrip("-").isdigit()) or (
            error["type"] == "bool_type" and plain in ("true", "false")):
        return f"; write it unquoted: {plain}"
    return ""


def format_error(prefix: str, error: Mapping[str, Any], secret: bool, model: type[BaseModel] | None = None
                 ) -> list[str]:
    """One problem line per error; a model check may name several sub-keys, one `path: message` per line."""
    location = ".".join(str(part) for part in error["loc"])
    key = f"{prefix}.{location}" if location else prefix
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "is required" + (" (set it with `pulumi config set --secret`)" if secret else "")
    elif error["type"] == "extra_forbidden":
        parent = _model_at(model, tuple(error["loc"][:-1])) if model else None
        known = [f.alias or name for name, f in parent.model_fields.items()] if parent else []
        message = ("is not a known setting" + did_you_mean(str(error["loc"][-1]), known)
                   + " (check the spelling against Pulumi.yaml)")
    elif error["type"] == "value_error" and KEYED.match(message):
        return [f"{key}.{line}" for line in message.splitlines()]
    elif not secret and error["type"] not in ("value_error", "assertion_error") and "input" in error:
        message = f"{message} (got {error['input']!r}{_unquote_hint(error)})"
    return [f"{key}: {message}"]
