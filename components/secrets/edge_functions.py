"""Supabase Edge Function secrets, managed through the Supabase Management API by a Pulumi dynamic provider.

The Supabase Terraform provider cannot be installed as a Pulumi package on these machines, and
Edge Function secrets are three calls of the Management API, so a small dynamic provider manages
them: `EdgeFunctionSecrets(name, project_ref, access_token, secrets)` owns the names in `secrets`
on that project and nothing else (secrets set by hand or by another resource are left alone).

- `POST /v1/projects/{ref}/secrets` with `[{"name", "value"}]` creates or overwrites (upserts);
- `DELETE /v1/projects/{ref}/secrets` with `["NAME", ...]` removes;
- `GET /v1/projects/{ref}/secrets` lists `[{"name", "value"}]`, where the value is a digest and
  not the secret, so a refresh can tell which names are missing but not whether a value drifted.

The calls themselves are `components/secrets/supabase_api.py`'s (Bearer token, timeout, 429
retried as `Retry-After` says, https only but for a parsed local host). An API error becomes a
`SupabaseApiError` with the method, the HTTP status and the API's message; the secret values and
the token are cut out of that message. Create upserts every secret; update upserts only the new
or changed ones and deletes the removed names; delete removes every managed name. Diff compares
names and values without calling the API and reports no change when nothing changed, so a
`pulumi up` with unchanged secrets sends no request at all. Moving to another project replaces
the resource (the secrets are created there, then removed from the old project).

Names starting with `SUPABASE_` are reserved by Supabase for its own variables: the settings
refuse them, and this provider refuses them again (in check, and before any request).

The access token and the values stay Pulumi secrets: both inputs are wrapped with
`Output.secret` and both outputs are listed in `additional_secret_outputs`, so the state holds
them encrypted. Pulumi pickles the provider (with dill) into the state: it keeps no attributes,
and the class is pickled by reference, so the provider process imports this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from components.platform.rest import is_allowed_base_url
from components.secrets.supabase_api import API_URL, SupabaseApiError, api_for  # noqa: F401 - re-exported
from components.secrets.vault import VaultSecrets

RESERVED_PREFIX = "SUPABASE_"
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

SECRET_PROPERTIES = ("access_token", "secrets")
# A different project is a different set of secrets; the other inputs update in place.
REPLACING_PROPERTIES = ("project_ref",)
UPDATING_PROPERTIES = ("api_url", "access_token", "secrets")


# --- validation ----------------------------------------------------------------------------------------------


def secret_name_problems(names: Iterable[str]) -> list[str]:
    """Why each name cannot be an Edge Function secret (empty when all are fine)."""
    problems = []
    for name in sorted(names):
        if name.upper().startswith(RESERVED_PREFIX):
            problems.append(f"{name} starts with {RESERVED_PREFIX}, a prefix Supabase reserves for its own secrets")
        elif not NAME_PATTERN.match(name):
            problems.append(f"{name} is not an environment variable name (letters, digits and _, not a digit first)")
    return problems


def input_problems(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(property, reason) for every invalid input; values not yet known (preview) are not judged."""
    problems: list[tuple[str, str]] = []
    ref = props.get("project_ref")
    if isinstance(ref, str) and not ref:
        problems.append(("project_ref", "project_ref must not be empty"))
    api_url = props.get("api_url")
    if isinstance(api_url, str) and not is_allowed_api_url(api_url):
        problems.append(("api_url", f"api_url must be an https:// URL, got {api_url!r}"))
    secrets = props.get("secrets")
    if isinstance(secrets, Mapping):
        problems += [("secrets", problem) for problem in secret_name_problems(secrets)]
        problems += [("secrets", f"the value of {name} must be a string")
                     for name, value in sorted(secrets.items()) if not isinstance(value, str)]
    return problems


def is_allowed_api_url(url: str) -> bool:
    """https only, except plain http to this machine (the tests' local API); the host is parsed, not prefixed."""
    return is_allowed_base_url(url)


def require_valid(props: Mapping[str, Any]) -> None:
    """Refuse before any request: the engine runs check first, but direct callers may not."""
    problems = input_problems(props)
    if problems:
        raise ValueError("invalid Edge Function secrets: " + "; ".join(reason for _, reason in problems))


def _api(props: Mapping[str, Any]):
    return api_for(props, redact=(props.get("secrets") or {}).values())


# --- the dynamic provider ------------------------------------------------------------------------------------


def state_of(props: Mapping[str, Any]) -> dict[str, Any]:
    """What the resource keeps: its inputs and the managed names (the names are not secret)."""
    secrets = dict(props.get("secrets") or {})
    return {"project_ref": props["project_ref"], "api_url": props.get("api_url") or API_URL,
            "access_token": props["access_token"], "secrets": secrets, "names": sorted(secrets)}


class EdgeFunctionSecretsProvider(ResourceProvider):
    """Create, diff, update, delete (and read on refresh) the Edge Function secrets of one project."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, [CheckFailure(prop, reason) for prop, reason in input_problems(news)])

    def create(self, props: dict[str, Any]) -> CreateResult:
        require_valid(props)
        _api(props).upsert_secrets(props["secrets"])
        return CreateResult(id_=props["project_ref"], outs=state_of(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [prop for prop in REPLACING_PROPERTIES if olds.get(prop) != news.get(prop)]
        changed = replaces or [prop for prop in UPDATING_PROPERTIES if olds.get(prop) != news.get(prop)]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        require_valid(news)
        old_secrets, new_secrets = olds.get("secrets") or {}, news["secrets"]
        api = _api({**news, "secrets": {**old_secrets, **new_secrets}})
        api.upsert_secrets({name: value for name, value in new_secrets.items() if old_secrets.get(name) != value})
        api.delete_secrets(set(old_secrets) - set(new_secrets))
        return UpdateResult(outs=state_of(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        _api(props).delete_secrets(props.get("secrets") or {})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: drop the names no longer on the project, so that the next update puts them back."""
        present = _api(props).list_secret_names()
        secrets = {name: value for name, value in (props.get("secrets") or {}).items() if name in present}
        return ReadResult(id_, state_of({**props, "secrets": secrets}))


class EdgeFunctionSecrets(pulumi.dynamic.Resource, module="supabase", name="EdgeFunctionSecrets"):
    """The Edge Function secrets of one Supabase project: exactly the names in `secrets`.

    Outputs: `project_ref`, `names` (the managed names, not secret), `secrets` (secret).
    """

    project_ref: pulumi.Output[str]
    names: pulumi.Output[list[str]]
    secrets: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, project_ref: pulumi.Input[str], access_token: pulumi.Input[str],
                 secrets: pulumi.Input[Mapping[str, str]], api_url: str = API_URL,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            "project_ref": project_ref,
            "api_url": api_url,
            "access_token": pulumi.Output.secret(access_token),
            "secrets": pulumi.Output.secret(secrets),
            "names": None,
        }
        secret_outputs = pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_PROPERTIES))
        super().__init__(EdgeFunctionSecretsProvider(), name, props,
                         pulumi.ResourceOptions.merge(opts, secret_outputs))


@dataclass(frozen=True)
class SupabaseSecretsArgs:
    project_ref: str
    api_url: str
    access_token: pulumi.Input[str]  # the Management API token, a Pulumi secret
    edge_function_secrets: Mapping[str, pulumi.Input[str]]  # name -> value, each a Pulumi secret
    # where the Edge Function secrets lived before this component (their alias keeps the URN)
    moved_from: pulumi.Resource | None = None
    # Supabase Vault secrets for database functions, name -> value (each a Pulumi secret)
    vault_secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


class SupabaseSecrets(pulumi.ComponentResource):
    """The Supabase project's secrets this stack manages: Edge Function and Vault secrets.

    Outputs: names (Edge Function), vault_names (Vault); the values stay secrets inside the children.
    """

    def __init__(self, name: str, args: SupabaseSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:secrets:SupabaseSecrets", name, None, opts)
        resource_name = f"{name}-edge-function-secrets"
        aliases = [pulumi.Alias(name=resource_name, parent=args.moved_from)] if args.moved_from else None
        self.edge_function_secrets = EdgeFunctionSecrets(
            resource_name, project_ref=args.project_ref, access_token=args.access_token,
            secrets=dict(args.edge_function_secrets), api_url=args.api_url,
            opts=pulumi.ResourceOptions(parent=self, aliases=aliases))
        self.names = sorted(args.edge_function_secrets)
        self.vault_names = sorted(args.vault_secrets)
        if args.vault_secrets:
            VaultSecrets(f"{name}-vault-secrets", project_ref=args.project_ref, access_token=args.access_token,
                         secrets=dict(args.vault_secrets), setting="kingtavo:vaultSecrets (names in "
                         "kingtavo:supabase.vaultSecretNames)", description="managed by Pulumi (kingtavo)",
                         api_url=args.api_url, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"names": self.names, "vaultNames": self.vault_names})
