"""The ESC environments (`esc/<stack>.yaml`): each provides exactly the stack's secret config, holds no real value.

Every `secret: true` key of the main Pulumi.yaml is provided under `pulumiConfig` as `kingtavo:<key>`, and
nothing else is (a non-secret setting belongs in the stack file, where it is reviewed); object-typed secrets
have exactly the entries the stack file's name lists ask for (`etl.apiKeyNames`, ...), because the program
refuses a missing or an extra one. Every value is a `fn::secret` whose committed text is a placeholder, and
every `${...}` reference resolves inside the document. The provider tokens reach the environment variables.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.core.settings import SECRET_KEYS
from policies.catalogue import find_secret_values, is_placeholder
from tools.harness import project_declarations, stack_config

ROOT = Path(__file__).resolve().parents[2]
ESC = ROOT / "esc"
STACKS = ("staging", "production")
REFERENCE = re.compile(r"\$\{([^}]+)\}")
PROVIDER_VARIABLES = {"VERCEL_API_TOKEN", "SENTRY_AUTH_TOKEN", "SUPABASE_ACCESS_TOKEN"}


def environment(stack: str, root: Path = ESC) -> dict[str, Any]:
    return yaml.safe_load((root / f"{stack}.yaml").read_text())


def lookup(document: dict, path: str) -> Any:
    node: Any = document["values"]
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


def resolve(document: dict, value: Any) -> Any:
    """A value with its `${path}` references replaced by what they name (ESC's interpolation, for whole values)."""
    if isinstance(value, str):
        match = REFERENCE.fullmatch(value)
        return resolve(document, lookup(document, match.group(1))) if match else value
    if isinstance(value, dict):
        return {k: resolve(document, v) for k, v in value.items()}
    return value


def secret_leaves(value: Any, path: str) -> list[tuple[str, Any]]:
    """(path, committed text) of every leaf; a leaf must be `{fn::secret: ...}`."""
    if isinstance(value, dict) and set(value) == {"fn::secret"}:
        return [(path, value["fn::secret"])]
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in secret_leaves(v, f"{path}.{k}")]
    return [(path, None)]  # not a secret: reported by the caller


def secret_keys() -> dict[str, dict]:
    return {key: spec for key, spec in project_declarations(ROOT).items() if spec.get("secret")}


def expected_entries(stack: str, key: str) -> set[str] | None:
    """For an object-typed secret, the names the stack file lists for it; None for a string secret."""
    names_key = SECRET_KEYS.get(key)
    if names_key is None:
        return None
    plane, field = names_key.split(".")
    return set(stack_config(stack, ROOT)[f"kingtavo:{plane}"].get(field) or [])


def problems_of(stack: str, root: Path = ESC) -> list[str]:
    document = environment(stack, root)
    problems = []
    if set(document) - {"imports", "values"}:
        problems.append(f"unknown top-level keys {sorted(set(document) - {'imports', 'values'})}")
    for match in REFERENCE.finditer((root / f"{stack}.yaml").read_text()):
        try:
            lookup(document, match.group(1))
        except KeyError:
            problems.append(f"${{{match.group(1)}}} names nothing in the environment")
    config = document["values"].get("pulumiConfig") or {}
    declared = {f"kingtavo:{key}" for key in secret_keys()}
    problems += [f"pulumiConfig.{key}: not a secret key of Pulumi.yaml" for key in sorted(set(config) - declared)]
    problems += [f"pulumiConfig.{key}: missing" for key in sorted(declared - set(config))]
    for full_key in sorted(set(config) & declared):
        key = full_key.split(":", 1)[1]
        try:
            value = resolve(document, config[full_key])
        except KeyError:
            continue  # reported above
        wanted = expected_entries(stack, key)
        if wanted is not None:
            have = set(value) if isinstance(value, dict) else set()
            where = f"pulumiConfig.{full_key}"
            problems += [f"{where}.{n}: missing (listed in the stack file)" for n in sorted(wanted - have)]
            problems += [f"{where}.{n}: not listed in the stack file" for n in sorted(have - wanted)]
        for path, text in secret_leaves(value, f"pulumiConfig.{full_key}"):
            if text is None:
                problems.append(f"{path}: not a fn::secret")
            elif not isinstance(text, str) or not is_placeholder(text) or find_secret_values(text):
                problems.append(f"{path}: holds something other than a placeholder")
    variables = document["values"].get("environmentVariables") or {}
    problems += [f"environmentVariables.{name}: missing" for name in sorted(PROVIDER_VARIABLES - set(variables))]
    for name in sorted(set(variables) & PROVIDER_VARIABLES):
        for path, text in secret_leaves(resolve(document, variables[name]), f"environmentVariables.{name}"):
            if text is None or not is_placeholder(str(text)):
                problems.append(f"{path}: not a fn::secret placeholder")
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_each_environment_provides_exactly_the_secret_keys_with_placeholders(stack):
    assert problems_of(stack) == []
    assert len(secret_keys()) == len(SECRET_KEYS)  # the check above covered every one of them


@pytest.mark.parametrize("stack", STACKS)
def test_no_committed_value_is_a_real_secret(stack):
    text = (ESC / f"{stack}.yaml").read_text()
    assert find_secret_values(text) == []
    values = [v for v in re.findall(r'fn::secret:\s*"([^"]*)"', text)]
    assert values and all(v.startswith("<set: esc env set ") and is_placeholder(v) for v in values)


@pytest.mark.parametrize("stack", STACKS)
def test_aws_credentials_are_not_opened_by_the_stacks_environment(stack):
    """What the stack imports reaches preview and up alike: AWS comes from each job's own OIDC role instead."""
    text = (ESC / f"{stack}.yaml").read_text()
    document = environment(stack)
    assert not any(line.lstrip().startswith("fn::open::aws-login") for line in text.splitlines())
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(
        document["values"]["environmentVariables"])


def planted(tmp_path: Path, stack: str, edit) -> Path:
    document = environment(stack)
    edit(document)
    (tmp_path / f"{stack}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return tmp_path


PLANTS = {
    "a missing key": (lambda d: d["values"]["pulumiConfig"].pop("kingtavo:slackWebhookUrl"),
                      "pulumiConfig.kingtavo:slackWebhookUrl: missing"),
    "a non-secret key": (lambda d: d["values"]["pulumiConfig"].update({"kingtavo:activeColor": "blue"}),
                         "pulumiConfig.kingtavo:activeColor: not a secret key of Pulumi.yaml"),
    "an entry no list names": (
        lambda d: d["values"]["secrets"]["etlApiKeys"].update({"EXTRA_KEY": {"fn::secret": "<set: later>"}}),
        "pulumiConfig.kingtavo:etlApiKeys.EXTRA_KEY: not listed in the stack file"),
    "a value in the clear": (
        lambda d: d["values"]["secrets"].update({"sentryAuthToken": {"fn::secret": "sntrys_" + "a1B2" * 12}}),
        "pulumiConfig.kingtavo:sentryAuthToken: holds something other than a placeholder"),
    "a plain value": (lambda d: d["values"]["secrets"].update({"supabaseAccessToken": "<set: later>"}),
                      "pulumiConfig.kingtavo:supabaseAccessToken: not a fn::secret"),
    "a dangling reference": (lambda d: d["values"]["pulumiConfig"].update(
        {"kingtavo:slackWebhookUrl": "${secrets.slackWebhook}"}), "${secrets.slackWebhook} names nothing"),
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_the_check_fails_on_a_planted_mistake(tmp_path, plant):
    edit, expected = PLANTS[plant]
    problems = problems_of("staging", planted(tmp_path, "staging", edit))
    assert any(p.startswith(expected) for p in problems), problems
