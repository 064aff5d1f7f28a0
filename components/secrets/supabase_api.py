"""The Supabase Management API calls this program makes, for one project (`https://api.supabase.com`).

Every endpoint, method and body below is taken from Supabase's published OpenAPI document
(`apps/docs/spec/api_v1_openapi.json` in supabase/supabase), with the plan each one needs:

- Edge Function secrets (all plans): `GET/POST/DELETE /v1/projects/{ref}/secrets`, POST
  `[{name, value}]`, DELETE `[name]`;
- PITR add-on (Pro plan or higher, compute Small or larger): `GET /v1/projects/{ref}/billing/addons`
  (`selected_addons[].type == "pitr"`, `variant.id` `pitr_7` / `pitr_14` / `pitr_28`), `PATCH` the
  same path with `{addon_type: "pitr", addon_variant}`, `DELETE .../billing/addons/{addon_variant}`;
- SSL enforcement (all plans; a fast database reboot): `GET/PUT /v1/projects/{ref}/ssl-enforcement`,
  `{requestedConfig: {database}}` -> `{currentConfig: {database}, appliedSuccessfully}`;
- network restrictions (where `entitlement` is `allowed`): `GET /v1/projects/{ref}/network-restrictions`
  (`{entitlement, config: {dbAllowedCidrs, dbAllowedCidrsV6}, status}`), `POST
  .../network-restrictions/apply` with both full lists;
- SQL (all plans): `POST /v1/projects/{ref}/database/query` `{query, parameters}` -> the rows as a JSON array.

Not in the Management API (so not here): Postgres logging settings (the `config/database/postgres`
body has no `log_*` field and refuses extra keys; query logging goes through SQL, `ALTER ROLE ...
SET`), log drain destinations (`log_drain` is only a read-only add-on type), and organization
members (only `GET /v1/organizations/{slug}/members`).

Errors are `SupabaseApiError`s from `components.platform.rest.JsonApi`: retried on 429 as
`Retry-After` says, scrubbed of the token and of any value passed in `redact`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from components.platform.rest import ApiError, JsonApi

API_URL = "https://api.supabase.com"
USER_AGENT = "kingtavo-pulumi-supabase"
PITR_ADDON = "pitr"
PITR_RETENTION_DAYS = (7, 14, 28)


class SupabaseApiError(ApiError):
    """A Management API call failed. The message has the status and the API's message, never a secret."""


@dataclass(frozen=True)
class ManagementApi:
    """The calls for one project. Built per operation (from the resource's inputs), never kept on a provider."""

    api_url: str
    project_ref: str
    access_token: str = field(repr=False)
    redact: tuple[str, ...] = field(default=(), repr=False)  # values to cut out of error messages

    @property
    def http(self) -> JsonApi:
        return JsonApi(self.api_url, self.access_token, name="Supabase Management API", user_agent=USER_AGENT,
                       redact=self.redact, error=SupabaseApiError)

    def _path(self, suffix: str) -> str:
        return f"/v1/projects/{self.project_ref}/{suffix}"

    # --- Edge Function secrets -------------------------------------------------------------------------------

    def list_secret_names(self) -> set[str]:
        listed = self.http.request("GET", self._path("secrets"))
        if not isinstance(listed, list):
            raise SupabaseApiError(f"Supabase Management API GET {self._path('secrets')}: the answer is not a "
                                   f"list of secrets")
        return {item["name"] for item in listed if isinstance(item, dict) and "name" in item}

    def upsert_secrets(self, secrets: Mapping[str, str]) -> None:
        if secrets:
            self.http.request("POST", self._path("secrets"),
                              [{"name": name, "value": secrets[name]} for name in sorted(secrets)])

    def delete_secrets(self, names: Iterable[str]) -> None:
        names = sorted(names)
        if names:
            self.http.request("DELETE", self._path("secrets"), names)

    # --- PITR add-on -----------------------------------------------------------------------------------------

    def pitr_retention_days(self) -> int | None:
        """The selected PITR variant's retention (7, 14, 28), or None without the add-on."""
        addons = self.http.request("GET", self._path("billing/addons")) or {}
        for addon in addons.get("selected_addons") or []:
            if addon.get("type") == PITR_ADDON:
                variant = str((addon.get("variant") or {}).get("id", ""))
                return int(variant.removeprefix("pitr_")) if variant.removeprefix("pitr_").isdigit() else None
        return None

    def apply_pitr(self, retention_days: int) -> None:
        self.http.request("PATCH", self._path("billing/addons"),
                          {"addon_type": PITR_ADDON, "addon_variant": f"pitr_{retention_days}"})

    def remove_pitr(self, retention_days: int) -> None:
        self.http.request("DELETE", self._path(f"billing/addons/pitr_{retention_days}"))

    # --- SSL enforcement and network restrictions ------------------------------------------------------------

    def ssl_enforced(self) -> bool:
        answer = self.http.request("GET", self._path("ssl-enforcement")) or {}
        return bool((answer.get("currentConfig") or {}).get("database"))

    def set_ssl_enforced(self, enforced: bool) -> bool:
        """Request the setting; returns whether Supabase reports it applied."""
        answer = self.http.request("PUT", self._path("ssl-enforcement"),
                                   {"requestedConfig": {"database": enforced}}) or {}
        return bool(answer.get("appliedSuccessfully")) and (answer.get("currentConfig") or {}).get("database") \
            == enforced

    def network_restrictions(self) -> dict[str, Any]:
        """`{entitlement, ipv4: [...], ipv6: [...]}` as requested (the `config`, applied or pending)."""
        answer = self.http.request("GET", self._path("network-restrictions")) or {}
        config = answer.get("config") or {}
        return {"entitlement": answer.get("entitlement"), "ipv4": sorted(config.get("dbAllowedCidrs") or []),
                "ipv6": sorted(config.get("dbAllowedCidrsV6") or [])}

    def apply_network_restrictions(self, ipv4: Iterable[str], ipv6: Iterable[str]) -> None:
        self.http.request("POST", self._path("network-restrictions/apply"),
                          {"dbAllowedCidrs": sorted(ipv4), "dbAllowedCidrsV6": sorted(ipv6)})

    # --- SQL -------------------------------------------------------------------------------------------------

    def run_query(self, query: str, parameters: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Run one statement with bound parameters (`$1`...), never values pasted into the SQL text."""
        body: dict[str, Any] = {"query": query}
        parameters = list(parameters)
        if parameters:
            body["parameters"] = parameters
        rows = self.http.request("POST", self._path("database/query"), body)
        if rows is None:
            return []
        if not isinstance(rows, list):
            raise SupabaseApiError(f"Supabase Management API POST {self._path('database/query')}: expected the "
                                   f"rows as a JSON array, got {json.dumps(rows)[:80]}")
        return rows


def api_for(props: Mapping[str, Any], redact: Iterable[str] = ()) -> ManagementApi:
    return ManagementApi(api_url=props.get("api_url") or API_URL, project_ref=props["project_ref"],
                         access_token=props["access_token"], redact=tuple(v for v in redact if v))
