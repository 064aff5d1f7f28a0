"""Supabase Vault secrets for database functions, written through the Management API's SQL endpoint.

Supabase Vault (the `supabase_vault` extension) keeps secrets encrypted in `vault.secrets` and
decrypts them only through the `vault.decrypted_secrets` view, for database functions that need
a third-party key. Its documented interface:

- `vault.create_secret(new_secret, new_name, new_description)` returns the new secret's uuid;
- `vault.update_secret(secret_id, new_secret, new_name, new_description)`;
- `vault.decrypted_secrets` (`id, name, description, decrypted_secret, ...`); rows may be deleted
  from `vault.secrets`.

`VaultSecrets(name, project_ref, access_token, secrets)` owns the names in `secrets` and nothing
else. Every statement goes to `POST /v1/projects/{ref}/database/query` with the values as bound
`parameters` (`$1`...), never pasted into SQL text. A name that already exists (created by hand)
is updated rather than created twice.

Drift without bringing a value back: a refresh asks the database for the SHA-256 of each managed
secret (`sha256(convert_to(decrypted_secret, 'UTF8'))`, computed in Postgres) and compares it
with the digest of the value in the state. A missing name is dropped from the state and a
changed value is replaced by an empty marker, so the next `pulumi up` writes the setting's value
back; the plaintext never crosses the API on a read. The values and the token are secret inputs
and secret outputs (encrypted in the state); only the names are plain outputs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

import pulumi

from components.platform.dynamic import SettingProvider
from components.secrets.supabase_api import API_URL, ManagementApi, api_for

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
DRIFTED = ""  # a state value no setting can have (secret maps refuse empty values)

# The names arrive as one JSON array parameter; every value is a bound parameter.
READ_DIGESTS = ("SELECT name, encode(sha256(convert_to(decrypted_secret, 'UTF8')), 'hex') AS digest "
                "FROM vault.decrypted_secrets WHERE name IN (SELECT jsonb_array_elements_text($1::jsonb))")
READ_IDS = "SELECT id::text AS id, name FROM vault.secrets WHERE name IN (SELECT jsonb_array_elements_text($1::jsonb))"
CREATE = "SELECT vault.create_secret($1, $2, $3)::text AS id"
UPDATE = "SELECT vault.update_secret($1::uuid, $2, $3, $4)"
DELETE = "DELETE FROM vault.secrets WHERE name IN (SELECT jsonb_array_elements_text($1::jsonb))"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _api(props: Mapping[str, Any], extra: Mapping[str, str] | None = None) -> ManagementApi:
    values = [*(props.get("secrets") or {}).values(), *(extra or {}).values()]
    return api_for(props, redact=[v for v in values if isinstance(v, str)])


class VaultSecretsProvider(SettingProvider):
    CONFIG = ("secrets", "description")
    WHAT = "Vault secrets"

    def problems(self, props: Mapping[str, Any]) -> list[tuple[str, str]]:
        secrets = props.get("secrets")
        if not isinstance(secrets, Mapping):
            return []
        problems = [("secrets", f"{name!r} is not a Vault secret name (letters, digits and _)")
                    for name in sorted(secrets) if not NAME.match(name)]
        problems += [("secrets", f"the value of {name} must be a non-empty string")
                     for name, value in sorted(secrets.items()) if not isinstance(value, str) or not value]
        return problems

    def observe(self, props: Mapping[str, Any]) -> dict[str, Any]:
        managed = dict(props.get("secrets") or {})
        rows = _api(props).run_query(READ_DIGESTS, [json.dumps(sorted(managed))])
        stored = {row["name"]: row["digest"] for row in rows}
        observed = {name: (value if stored[name] == digest(value) else DRIFTED)
                    for name, value in managed.items() if name in stored}
        return {"secrets": observed, "names": sorted(observed)}

    def apply(self, props: Mapping[str, Any], olds: Mapping[str, Any] | None) -> dict[str, Any]:
        wanted: dict[str, str] = dict(props.get("secrets") or {})
        previous: dict[str, str] = dict((olds or {}).get("secrets") or {})
        description = props.get("description") or ""
        api = _api(props, previous)
        described = olds is not None and (olds.get("description") or "") != description
        changed = sorted(name for name, value in wanted.items() if previous.get(name) != value or described)
        if changed:
            ids = {row["name"]: row["id"] for row in api.run_query(READ_IDS, [json.dumps(changed)])}
            for name in changed:
                if name in ids:
                    api.run_query(UPDATE, [ids[name], wanted[name], name, description])
                else:
                    api.run_query(CREATE, [wanted[name], name, description])
        removed = sorted(set(previous) - set(wanted))
        if removed:
            api.run_query(DELETE, [json.dumps(removed)])
        return {"secrets": wanted, "names": sorted(wanted)}

    def remove(self, props: Mapping[str, Any]) -> None:
        names = sorted(props.get("secrets") or {})
        if names:
            _api(props).run_query(DELETE, [json.dumps(names)])


class VaultSecrets(pulumi.dynamic.Resource, module="supabase", name="VaultSecrets"):
    """The Vault secrets of one Supabase project: exactly the names in `secrets`.

    Outputs: `names` (plain), `secrets` and `access_token` (secret).
    """

    names: pulumi.Output[list[str]]
    secrets: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, project_ref: pulumi.Input[str], access_token: pulumi.Input[str],
                 secrets: Mapping[str, pulumi.Input[str]], setting: str, description: str = "",
                 api_url: str = API_URL, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {"project_ref": project_ref, "api_url": api_url, "access_token": pulumi.Output.secret(access_token),
                 "secrets": pulumi.Output.secret(dict(secrets)), "description": description, "setting": setting,
                 "names": sorted(secrets)}
        secret = pulumi.ResourceOptions(additional_secret_outputs=["access_token", "secrets"])
        super().__init__(VaultSecretsProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
