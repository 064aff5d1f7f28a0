"""The config schema `Pulumi.yaml` declares, built from the settings models (written by `python -m tools.schema`).

Every plane key's description is its model's docstring (first paragraph) followed by each field with
its default and its `Field(description=...)`; nested models are listed as `blue.image`. Secret keys
and scalar keys are described in the tables below. So the schema is written once, in the models, and
`Pulumi.yaml` cannot drift from the values pydantic checks.
"""

from __future__ import annotations

import json
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from components.core.settings.loader import PLANES, SCALAR_KEYS, SECRET_KEYS

SCALAR_DESCRIPTIONS = {
    "activeColor": "Which color serves live traffic on every plane: blue or green. Flip it and `pulumi up` to "
                   "switch; flip back to roll back.",
}
SECRET_DESCRIPTIONS = {
    "supabaseServiceRoleKey": "Supabase service_role key (Vercel server-side SUPABASE_SERVICE_ROLE_KEY; Prometheus "
                              "scrape of the Supabase metrics endpoint).",
    "supabaseAccessToken": "Supabase Management API access token (Edge Function secrets, backup monitor).",
    "sentryAuthToken": "Sentry auth token (the Sentry provider; Vercel server-side SENTRY_AUTH_TOKEN for source map "
                       "uploads).",
    "pagerdutyIntegrationKey": "PagerDuty Events API v2 integration (routing) key of the critical route, used by "
                               "Alertmanager.",
    "pagerdutyCloudwatchIntegrationKey": "PagerDuty Amazon CloudWatch integration key of the same service: the "
                                         "critical SNS topic posts to its enqueue URL (a different PagerDuty "
                                         "integration type from the Events API v2 key).",
    "slackWebhookUrl": "Slack incoming-webhook URL for Alertmanager's warning route.",
    "vaultSecrets": "Supabase Vault secrets for database functions, NAME: value; exactly the names in "
                    "supabase.vaultSecretNames.",
    "heartbeatUrl": "The dead man's switch's ping URL (a Healthchecks-style or PagerDuty heartbeat check; the URL "
                    "holds its token): Alertmanager sends the always-firing Watchdog there every "
                    "alerting.heartbeatIntervalMinutes, and the check pages when the pings stop.",
    "etlApiKeys": "Third-party API keys for the ETL service, NAME: value; exactly the names in etl.apiKeyNames.",
    "frontendServerSecrets": "Extra server-side secrets for the Vercel app, NAME: value; exactly the names in "
                             "frontend.serverSecretNames.",
    "edgeFunctionSecrets": "Supabase Edge Function secrets, NAME: value; exactly the names in "
                           "supabase.edgeFunctionSecretNames.",
}
SECRET_OBJECT_KEYS = frozenset(key for key, names in SECRET_KEYS.items() if names is not None)


def render_default(value: Any) -> str:
    """A default as a user would type it in the stack file."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict) and not value:
        return "none"
    if isinstance(value, list):
        return "[" + ", ".join(render_default(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value) if (" " in value or not value) else value
    return str(value)


def field_default(field: Any) -> Any:
    """The field's default (calling its factory), or PydanticUndefined when it is required."""
    if field.default_factory is not None:
        return field.default_factory()
    return field.default


def model_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    """(config path, FieldInfo) for every field, nested models flattened (`blue.image`)."""
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            rows.extend(model_fields(field.annotation, f"{path}."))
        else:
            rows.append((path, field))
    return rows


def _allowed(field: Any) -> str:
    """`one of a | b` for a Literal, `2-6` for bounds: what pydantic itself enforces, said once."""
    annotation = field.annotation
    if get_origin(annotation) is Literal:
        return " | ".join(str(v) for v in get_args(annotation)) + ", "
    low = next((m.ge for m in field.metadata if getattr(m, "ge", None) is not None), None)
    high = next((m.le for m in field.metadata if getattr(m, "le", None) is not None), None)
    if low is not None and high is not None:
        return f"{low}-{high}, "
    return ""


def describe_field(path: str, field: Any) -> str:
    default = field_default(field)
    when = "required" if default is PydanticUndefined else f"default {render_default(default)}"
    return f"{path} ({_allowed(field)}{when}): {field.description}"


def describe_plane(model: type[BaseModel]) -> str:
    summary = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    return f"{summary} Fields: " + "; ".join(describe_field(path, field) for path, field in model_fields(model)) + "."


def config_schema() -> dict[str, dict[str, Any]]:
    """Pulumi.yaml's `config:` block: every key the program reads, its type, secrecy and description."""
    schema: dict[str, dict[str, Any]] = {}
    for key in SCALAR_KEYS:
        schema[key] = {"type": "string", "description": SCALAR_DESCRIPTIONS[key]}
    for key, model in PLANES.items():
        schema[key] = {"type": "object", "description": describe_plane(model)}
    for key in SECRET_KEYS:
        schema[key] = {"type": "object" if key in SECRET_OBJECT_KEYS else "string", "secret": True,
                       "description": SECRET_DESCRIPTIONS[key]}
    return schema
