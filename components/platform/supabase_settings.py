"""A Supabase project's settings as dynamic resources: PITR add-on, SSL enforcement, network restrictions, query logs.

Each is a `SettingProvider` (components/platform/dynamic.py) on the Management API client
(components/secrets/supabase_api.py, where every endpoint and the plan it needs is listed):

- `PitrAddon`: `variant` `pitr_7`, `pitr_14` or `pitr_28` (days of retention) selects the add-on;
  `none` removes it.
  Needs the Pro plan (or higher) and at least the Small compute add-on; the API's refusal is
  reported with that hint and the setting's name. Deleting the resource removes the add-on.
- `SslEnforcement`: `enforced` true refuses non-TLS Postgres and pooler connections (a fast
  database reboot when it changes). Deleting leaves the setting as it is.
- `NetworkRestrictions`: only `ipv4_cidrs` and `ipv6_cidrs` may reach Postgres and the pooler. A
  project whose `entitlement` is `disallowed` is refused with the setting's name. `0.0.0.0/0` and
  `::/0` are refused (that is no restriction). Deleting leaves the restrictions as they are.
- `QueryLogging`: the Management API's Postgres config has no `log_*` field, so this goes through
  its SQL endpoint: `ALTER ROLE <role> SET log_min_duration_statement = '<ms>'` (and
  `auto_explain.log_min_duration`), the role-level settings Supabase's "Log slow and failing
  queries" guide documents; `RESET` turns them off. Read back from `pg_roles.rolconfig`.
  Deleting resets them (off is the default).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import pulumi

from components.platform.dynamic import SettingProvider
from components.platform.rest import ApiError
from components.secrets.supabase_api import API_URL, PITR_RETENTION_DAYS, SupabaseApiError, api_for

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
LOGGING_SETTINGS = ("log_min_duration_statement", "auto_explain.log_min_duration")
OPEN_NETWORKS = ("0.0.0.0/0", "::/0")


NO_PITR = "none"
PITR_VARIANTS = tuple(f"pitr_{days}" for days in PITR_RETENTION_DAYS)


def pitr_variant(retention_days: int | None) -> str:
    return NO_PITR if retention_days is None else f"pitr_{retention_days}"


class PitrAddonProvider(SettingProvider):
    CONFIG = ("variant",)
    WHAT = "PITR add-on"

    def problems(self, props: Mapping[str, Any]) -> list[tuple[str, str]]:
        variant = props.get("variant")
        if isinstance(variant, str) and variant not in (NO_PITR, *PITR_VARIANTS):
            return [("variant", f"the PITR add-on must be one of {', '.join(PITR_VARIANTS)} (7, 14 or 28 days of "
                                f"retention) or {NO_PITR}, got {variant!r}")]
        return []

    def hint(self, error: ApiError) -> str:
        return "PITR needs the Pro plan or higher and at least the Small compute add-on" \
            if error.status in (400, 402, 403, 422) else ""

    def observe(self, props: Mapping[str, Any]) -> dict[str, Any]:
        return {"variant": pitr_variant(api_for(props).pitr_retention_days())}

    def apply(self, props: Mapping[str, Any], olds: Mapping[str, Any] | None) -> dict[str, Any]:
        api, wanted = api_for(props), props.get("variant") or NO_PITR
        current = pitr_variant(api.pitr_retention_days())
        if wanted == NO_PITR and current != NO_PITR:
            api.remove_pitr(int(current.removeprefix("pitr_")))
        elif wanted not in (NO_PITR, current):
            api.apply_pitr(int(wanted.removeprefix("pitr_")))
        return {"variant": wanted}

    def remove(self, props: Mapping[str, Any]) -> None:
        api = api_for(props)
        current = api.pitr_retention_days()
        if current is not None:
            api.remove_pitr(current)


class SslEnforcementProvider(SettingProvider):
    CONFIG = ("enforced",)
    WHAT = "SSL enforcement"

    def observe(self, props: Mapping[str, Any]) -> dict[str, Any]:
        return {"enforced": api_for(props).ssl_enforced()}

    def apply(self, props: Mapping[str, Any], olds: Mapping[str, Any] | None) -> dict[str, Any]:
        wanted = bool(props.get("enforced"))
        if not api_for(props).set_ssl_enforced(wanted):
            raise SupabaseApiError(f"Supabase did not apply SSL enforcement = {wanted} (appliedSuccessfully was "
                                   f"false); retry, and check the project's status in the dashboard")
        return {"enforced": wanted}


def _cidr_problems(prop: str, cidrs: Any, version: int) -> list[tuple[str, str]]:
    if not isinstance(cidrs, list):
        return []
    problems = []
    for cidr in cidrs:
        if not isinstance(cidr, str):
            continue  # unknown at preview
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            problems.append((prop, f"{cidr!r} is not an IPv{version} CIDR"))
            continue
        if network.version != version:
            problems.append((prop, f"{cidr!r} is not an IPv{version} CIDR"))
        elif cidr in OPEN_NETWORKS:
            problems.append((prop, f"{cidr} allows every address, which is no restriction; list the NAT, CI and "
                                   f"operator ranges instead"))
    return problems


class NetworkRestrictionsProvider(SettingProvider):
    CONFIG = ("ipv4_cidrs", "ipv6_cidrs")
    WHAT = "network restrictions"

    def problems(self, props: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = _cidr_problems("ipv4_cidrs", props.get("ipv4_cidrs"), 4)
        problems += _cidr_problems("ipv6_cidrs", props.get("ipv6_cidrs"), 6)
        if props.get("ipv4_cidrs") == []:
            problems.append(("ipv4_cidrs", "at least one IPv4 range is needed (the NAT gateways' addresses)"))
        return problems

    def observe(self, props: Mapping[str, Any]) -> dict[str, Any]:
        current = self._entitled(props)
        return {"ipv4_cidrs": current["ipv4"], "ipv6_cidrs": current["ipv6"]}

    def apply(self, props: Mapping[str, Any], olds: Mapping[str, Any] | None) -> dict[str, Any]:
        self._entitled(props)
        ipv4, ipv6 = sorted(props.get("ipv4_cidrs") or []), sorted(props.get("ipv6_cidrs") or [])
        api_for(props).apply_network_restrictions(ipv4, ipv6)
        return {"ipv4_cidrs": ipv4, "ipv6_cidrs": ipv6}

    @staticmethod
    def _entitled(props: Mapping[str, Any]) -> dict[str, Any]:
        current = api_for(props).network_restrictions()
        if current["entitlement"] != "allowed":
            raise SupabaseApiError(f"the project may not use network restrictions (entitlement "
                                   f"{current['entitlement']!r}); change the plan, or set "
                                   f"kingtavo:supabase.restrictNetwork to false")
        return current


OFF = "off"  # not set on the role (RESET): the server's default, -1, no logging


def _role_sql(role: str, name: str, value: str | None) -> str:
    """`ALTER ROLE` cannot take bind parameters: the role, setting and value are validated before this."""
    value = None if value in (None, OFF) else value
    if not ROLE_NAME.match(role) or name not in LOGGING_SETTINGS or (value is not None and not value.isdigit()):
        raise ValueError(f"refusing to build SQL for role {role!r}, setting {name!r}, value {value!r}")
    if value is None:
        return f'ALTER ROLE "{role}" RESET {name}'
    return f"ALTER ROLE \"{role}\" SET {name} = '{value}'"


class QueryLoggingProvider(SettingProvider):
    CONFIG = ("role_settings",)
    WHAT = "query logging"
    READ_ROLES = ("SELECT rolname, rolconfig FROM pg_catalog.pg_roles "
                  "WHERE rolname IN (SELECT jsonb_array_elements_text($1::jsonb))")

    def problems(self, props: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = []
        for role, settings in (props.get("role_settings") or {}).items():
            if not ROLE_NAME.match(role):
                problems.append(("role_settings", f"{role!r} is not a database role name"))
            for name, value in (settings or {}).items():
                if name not in LOGGING_SETTINGS:
                    problems.append(("role_settings", f"{name!r} is not one of {', '.join(LOGGING_SETTINGS)}"))
                elif value != OFF and not (isinstance(value, str) and value.isdigit()):
                    problems.append(("role_settings", f"{name} must be a whole number of milliseconds or "
                                                      f"{OFF!r}, got {value!r}"))
        return problems

    def observe(self, props: Mapping[str, Any]) -> dict[str, Any]:
        roles = sorted(props.get("role_settings") or {})
        rows = api_for(props).run_query(self.READ_ROLES, [json.dumps(roles)])
        found = {row["rolname"]: row.get("rolconfig") or [] for row in rows}
        observed = {}
        for role in roles:
            if role not in found:
                raise SupabaseApiError(f"database role {role!r} does not exist")
            config = dict(entry.split("=", 1) for entry in found[role] if "=" in entry)
            observed[role] = {name: config.get(name, OFF) for name in LOGGING_SETTINGS}
        return {"role_settings": observed}

    def apply(self, props: Mapping[str, Any], olds: Mapping[str, Any] | None) -> dict[str, Any]:
        api, wanted = api_for(props), props.get("role_settings") or {}
        previous = (olds or {}).get("role_settings") or {}
        statements = [_role_sql(role, name, None) for role in sorted(set(previous) - set(wanted))
                      for name in LOGGING_SETTINGS]
        statements += [_role_sql(role, name, (wanted[role] or {}).get(name))
                       for role in sorted(wanted) for name in LOGGING_SETTINGS]
        for statement in statements:
            api.run_query(statement)
        return {"role_settings": {role: {name: (wanted[role] or {}).get(name, OFF) for name in LOGGING_SETTINGS}
                                  for role in wanted}}

    def remove(self, props: Mapping[str, Any]) -> None:
        api = api_for(props)
        for role in sorted(props.get("role_settings") or {}):
            for name in LOGGING_SETTINGS:
                api.run_query(_role_sql(role, name, None))


class _SupabaseSetting(pulumi.dynamic.Resource):
    """A project setting; the access token is a secret input and output."""

    PROVIDER: ClassVar[type[SettingProvider]]

    def __init__(self, name: str, project_ref: pulumi.Input[str], access_token: pulumi.Input[str], setting: str,
                 config: Mapping[str, Any], api_url: str = API_URL, opts: pulumi.ResourceOptions | None = None):
        props = {"project_ref": project_ref, "api_url": api_url, "access_token": pulumi.Output.secret(access_token),
                 "setting": setting, **config}
        secret = pulumi.ResourceOptions(additional_secret_outputs=["access_token"])
        super().__init__(self.PROVIDER(), name, props, pulumi.ResourceOptions.merge(opts, secret))


class PitrAddon(_SupabaseSetting, module="supabase", name="PitrAddon"):
    PROVIDER = PitrAddonProvider
    variant: pulumi.Output[str]


class SslEnforcement(_SupabaseSetting, module="supabase", name="SslEnforcement"):
    PROVIDER = SslEnforcementProvider
    enforced: pulumi.Output[bool]


class NetworkRestrictions(_SupabaseSetting, module="supabase", name="NetworkRestrictions"):
    PROVIDER = NetworkRestrictionsProvider
    ipv4_cidrs: pulumi.Output[list[str]]
    ipv6_cidrs: pulumi.Output[list[str]]


class QueryLogging(_SupabaseSetting, module="supabase", name="QueryLogging"):
    PROVIDER = QueryLoggingProvider
    role_settings: pulumi.Output[dict]
