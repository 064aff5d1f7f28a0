"""Supabase Edge Function secrets, managed through the Supabase Management API by a Pulumi dynamic provider.

The Supabase Terraform provider cannot be installed as a Pulumi package on these machines, and
Edge Function secrets are three calls of the Management API, so a small dynamic provider manages
them: `EdgeFunctionSecrets(name, project_ref, access_token, secrets)` owns the names in `secrets`
on that project and nothing else (secrets set by hand or by another resource are left alone).

- `POST /v1/projects/{ref}/secrets` with `[{"name", "value"}]` creates or overwrites (upserts);
- `DELETE /v1/projects/{ref}/secrets` with `["NAME", ...]` removes;
- `GET /v1/projects/{ref}/secrets` lists `[{"name", "value"}]`, where the value is a digest and
  not the secret, so a refresh can tell which names are missing but not whether a value drifted.

Every call carries `Authorization: Bearer <access token>` and a timeout. An API error becomes a
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

import json
import re
import urllib.error
import urllib.request
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

API_URL = "https://api.supabase.com"
HTTP_TIMEOUT_SECONDS = 30
USER_AGENT = "kingtavo-pulumi-edge-function-secrets"
RESERVED_PREFIX = "SUPABASE_"
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MESSAGE_LIMIT = 300
REDACTED = "[redacted]"

SECRET_PROPERTIES = ("access_token", "secrets")
# A different project is a different set of secrets; the other inputs update in place.
REPLACING_PROPERTIES = ("project_ref",)
UPDATING_PROPERTIES = ("api_url", "access_token", "secrets")


class SupabaseApiError(RuntimeError):
    """A Management API call failed. The message has the status and the API's message, never a secret."""


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
    """https only, except plain http to this machine (the tests' local API)."""
    return url.startswith("https://") or url.startswith(("http://127.0.0.1", "http://localhost"))


def require_valid(props: Mapping[str, Any]) -> None:
    """Refuse before any request: the engine runs check first, but direct callers may not."""
    problems = input_problems(props)
    if problems:
        raise ValueError("invalid Edge Function secrets: " + "; ".join(reason for _, reason in problems))


# --- the Management API --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManagementApi:
    """The three secrets calls for one project. Built per operation, never kept on the provider."""

    api_url: str
    project_ref: str
    access_token: str = field(repr=False)
    redact: tuple[str, ...] = field(default=(), repr=False)  # values to cut out of error messages

    @property
    def secrets_url(self) -> str:
        return f"{self.api_url.rstrip('/')}/v1/projects/{self.project_ref}/secrets"

    def list_names(self) -> set[str]:
        try:
            listed = json.loads(self._call("GET"))
        except json.JSONDecodeError:
            listed = None
        if not isinstance(listed, list):
            raise SupabaseApiError(f"Supabase Management API GET {self._path}: the answer is not a list of secrets")
        return {item["name"] for item in listed if isinstance(item, dict) and "name" in item}

    def upsert(self, secrets: Mapping[str, str]) -> None:
        if secrets:
            self._call("POST", [{"name": name, "value": secrets[name]} for name in sorted(secrets)])

    def delete(self, names: Iterable[str]) -> None:
        names = sorted(names)
        if names:
            self._call("DELETE", names)

    @property
    def _path(self) -> str:
        return f"/v1/projects/{self.project_ref}/secrets"

    def _call(self, method: str, body: Any = None) -> bytes:
        """One request; returns the answer's body. Raises SupabaseApiError, scrubbed of secrets."""
        if not is_allowed_api_url(self.api_url):
            raise SupabaseApiError(f"refusing to send the access token to {self.api_url!r}: not https")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.access_token}", "Accept": "application/json",
                   "User-Agent": USER_AGENT, **({"Content-Type": "application/json"} if data else {})}
        request = urllib.request.Request(self.secrets_url, data=data, headers=headers, method=method)  # noqa: S310 - scheme checked above
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 - scheme checked above
                return response.read()
        except urllib.error.HTTPError as error:
            message = self._scrub(api_message(error.read()))
            raise SupabaseApiError(f"Supabase Management API {method} {self._path} failed: "
                                   f"HTTP {error.code}: {message}") from None
        except (urllib.error.URLError, TimeoutError) as error:
            reason = self._scrub(str(getattr(error, "reason", error)))
            raise SupabaseApiError(f"Supabase Management API {method} {self._path}: unreachable: {reason}") from None

    def _scrub(self, text: str) -> str:
        for value in sorted({self.access_token, *self.redact}, key=len, reverse=True):
            if value:
                text = text.replace(value, REDACTED)
        return text


def api_message(body: bytes) -> str:
    """The API's own message (`message` or `error` in its JSON), else the start of the body."""
    text = body.decode("utf-8", "replace")
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return text[:MESSAGE_LIMIT] or "(empty body)"
    if isinstance(document, dict):
        for key in ("message", "error", "msg"):
            if isinstance(document.get(key), str):
                return document[key][:MESSAGE_LIMIT]
    return text[:MESSAGE_LIMIT]


def api_for(props: Mapping[str, Any]) -> ManagementApi:
    secrets = props.get("secrets") or {}
    return ManagementApi(api_url=props.get("api_url") or API_URL, project_ref=props["project_ref"],
                         access_token=props["access_token"], redact=tuple(secrets.values()))


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
        api_for(props).upsert(props["secrets"])
        return CreateResult(id_=props["project_ref"], outs=state_of(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [prop for prop in REPLACING_PROPERTIES if olds.get(prop) != news.get(prop)]
        changed = replaces or [prop for prop in UPDATING_PROPERTIES if olds.get(prop) != news.get(prop)]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        require_valid(news)
        old_secrets, new_secrets = olds.get("secrets") or {}, news["secrets"]
        api = api_for({**news, "secrets": {**old_secrets, **new_secrets}})
        api.upsert({name: value for name, value in new_secrets.items() if old_secrets.get(name) != value})
        api.delete(set(old_secrets) - set(new_secrets))
        return UpdateResult(outs=state_of(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        api_for(props).delete(props.get("secrets") or {})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: drop the names no longer on the project, so that the next update puts them back."""
        present = api_for(props).list_names()
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


class SupabaseSecrets(pulumi.ComponentResource):
    """The Supabase project's secrets this stack manages: its Edge Function secrets. Output: names."""

    def __init__(self, name: str, args: SupabaseSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:secrets:SupabaseSecrets", name, None, opts)
        resource_name = f"{name}-edge-function-secrets"
        aliases = [pulumi.Alias(name=resource_name, parent=args.moved_from)] if args.moved_from else None
        self.edge_function_secrets = EdgeFunctionSecrets(
            resource_name, project_ref=args.project_ref, access_token=args.access_token,
            secrets=dict(args.edge_function_secrets), api_url=args.api_url,
            opts=pulumi.ResourceOptions(parent=self, aliases=aliases))
        self.names = sorted(args.edge_function_secrets)
        self.register_outputs({"names": self.names})
