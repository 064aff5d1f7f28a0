"""Supabase Vault secrets (components/secrets/vault.py) through a local Management API on the real PostgreSQL.

The SQL endpoint of tests/support/fake_apis.py runs each statement, with its bound parameters, on
a scratch database of the session's PostgreSQL server, where tests/support/vault_standin.sql
installs a STAND-IN for Supabase Vault: the documented signatures (`vault.create_secret`,
`vault.update_secret`, the `vault.decrypted_secrets` view), no encryption. Then the resource in the
stacks' plans: names only in the clear, values wrapped as secrets, end to end.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from components.platform import rest
from components.secrets.supabase_api import SupabaseApiError
from components.secrets.vault import CREATE, DELETE, READ_DIGESTS, VaultSecretsProvider
from tests.support.fake_apis import FakeSupabase, pg_runner, serving
from tests.support.plans import STACKS, plan
from tests.support.secret_walk import output_leaks, resource_leaks, secret_values

REF = "abcdefghijklmnopqrst"
SETTING = "kingtavo:vaultSecrets (names in kingtavo:supabase.vaultSecretNames)"
STANDIN = Path(__file__).parent / "support" / "vault_standin.sql"
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"
VAULT = "pulumi-python:dynamic/supabase:VaultSecrets"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(rest, "sleep", lambda _seconds: None)


@pytest.fixture
def vault_db(postgres, scratch_db):
    postgres.psql(STANDIN.read_text(), database=scratch_db)
    return scratch_db


@pytest.fixture
def api(postgres, vault_db):
    with serving(FakeSupabase(token="fake-sbp-" + secrets.token_hex(12))) as fake:
        fake.sql = pg_runner(postgres.connect_kwargs(vault_db))
        yield fake


def fake_value() -> str:
    return "fake-vault-" + secrets.token_hex(12)


def props(api: FakeSupabase, values: dict[str, str]) -> dict:
    return {"project_ref": REF, "api_url": api.url, "access_token": api.token, "secrets": values,
            "description": "managed by Pulumi (kingtavo)", "setting": SETTING, "names": sorted(values)}


def stored(postgres, db: str) -> dict[str, str]:
    out = postgres.psql("SELECT coalesce(json_object_agg(name, decrypted_secret), '{}') FROM vault.decrypted_secrets",
                        database=db).stdout
    return json.loads(out)


def sql_bodies(api: FakeSupabase) -> list[dict]:
    return [c.body for c in api.calls if c.path.endswith("/database/query")]


def test_create_calls_vault_create_secret_with_bound_parameters(api, postgres, vault_db):
    values = {"STRIPE_API_KEY": fake_value(), "OPS_WEBHOOK_SIGNING_KEY": fake_value()}

    created = VaultSecretsProvider().create(props(api, values))

    assert stored(postgres, vault_db) == values
    creates = [b for b in sql_bodies(api) if b["query"] == CREATE]
    assert sorted(b["parameters"][1] for b in creates) == sorted(values)
    for body in sql_bodies(api):  # no value is ever pasted into SQL text
        assert not any(value in body["query"] for value in values.values())
    assert created.outs["names"] == ["OPS_WEBHOOK_SIGNING_KEY", "STRIPE_API_KEY"]
    assert postgres.psql("SELECT count(*) FROM vault.secrets WHERE description = 'managed by Pulumi (kingtavo)'",
                         database=vault_db).stdout.strip() == "2"


def test_a_name_created_by_hand_is_updated_not_duplicated(api, postgres, vault_db):
    postgres.psql("SELECT vault.create_secret('fake-by-hand', 'STRIPE_API_KEY', 'by hand')", database=vault_db)
    value = fake_value()

    VaultSecretsProvider().create(props(api, {"STRIPE_API_KEY": value}))

    assert stored(postgres, vault_db) == {"STRIPE_API_KEY": value}


def test_refresh_compares_digests_and_the_next_update_restores_the_value(api, postgres, vault_db):
    provider = VaultSecretsProvider()
    values = {"STRIPE_API_KEY": fake_value(), "OPS_WEBHOOK_SIGNING_KEY": fake_value()}
    created = provider.create(props(api, values))
    postgres.psql("UPDATE vault.secrets SET secret = encode(convert_to('fake-changed-by-hand', 'UTF8'), 'base64') "
                  "WHERE name = 'STRIPE_API_KEY'", database=vault_db)
    postgres.psql("DELETE FROM vault.secrets WHERE name = 'OPS_WEBHOOK_SIGNING_KEY'", database=vault_db)
    api.calls.clear()

    state = provider.read(REF, created.outs).outs

    assert [b["query"] for b in sql_bodies(api)] == [READ_DIGESTS]
    assert api.calls[0].body["parameters"] == [json.dumps(sorted(values))]
    assert state["names"] == ["STRIPE_API_KEY"]
    assert state["secrets"]["STRIPE_API_KEY"] != values["STRIPE_API_KEY"]
    assert "fake-changed-by-hand" not in json.dumps(state)  # the read brings back digests, never a value
    assert provider.diff(REF, state, props(api, values)).changes is True

    provider.update(REF, state, props(api, values))
    assert stored(postgres, vault_db) == values


def test_update_changes_one_value_and_deletes_a_removed_name(api, postgres, vault_db):
    provider = VaultSecretsProvider()
    values = {"STRIPE_API_KEY": fake_value(), "OPS_WEBHOOK_SIGNING_KEY": fake_value()}
    created = provider.create(props(api, values))
    api.calls.clear()
    wanted = {"STRIPE_API_KEY": fake_value()}

    provider.update(REF, created.outs, props(api, wanted))

    assert stored(postgres, vault_db) == wanted
    assert [b["query"] for b in sql_bodies(api)][-1] == DELETE
    assert provider.diff(REF, provider.read(REF, props(api, wanted)).outs, props(api, wanted)).changes is False


def test_delete_removes_only_the_managed_names(api, postgres, vault_db):
    postgres.psql("SELECT vault.create_secret('fake-other', 'SET_BY_HAND', '')", database=vault_db)
    values = {"STRIPE_API_KEY": fake_value()}
    VaultSecretsProvider().create(props(api, values))

    VaultSecretsProvider().delete(REF, props(api, values))

    assert stored(postgres, vault_db) == {"SET_BY_HAND": "fake-other"}


def test_a_database_error_names_the_setting_and_no_value(api, postgres, vault_db):
    postgres.psql("DROP FUNCTION vault.create_secret(text, text, text, uuid)", database=vault_db)
    value = fake_value()

    with pytest.raises(SupabaseApiError) as raised:
        VaultSecretsProvider().create(props(api, {"STRIPE_API_KEY": value}))

    message = str(raised.value)
    assert message.startswith(f"Vault secrets ({SETTING}): Supabase Management API POST /v1/projects/{REF}/"
                              f"database/query failed: HTTP 400: Failed to run sql query")
    assert "create_secret" in message
    assert value not in message and api.token not in message


def test_an_echoed_value_in_an_error_is_redacted(api):
    value = fake_value()
    api.fail(400, {"message": f"Failed to run sql query: invalid input {value}"})

    with pytest.raises(SupabaseApiError) as raised:
        VaultSecretsProvider().create(props(api, {"STRIPE_API_KEY": value}))

    assert value not in str(raised.value) and "[redacted]" in str(raised.value)


def test_check_refuses_bad_names_and_empty_values(api):
    failures = VaultSecretsProvider().check({}, props(api, {"bad name": "x", "EMPTY": ""})).failures

    assert sorted(f.reason for f in failures) == [
        f"{SETTING}: 'bad name' is not a Vault secret name (letters, digits and _)",
        f"{SETTING}: the value of EMPTY must be a non-empty string"]


# --- in the program ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_the_plan_has_the_names_in_the_clear_and_the_values_as_secrets(stack):
    result = plan(stack)
    vault = result.one(VAULT)
    fakes = result.secrets["kingtavo:vaultSecrets"]
    assert sorted(fakes) == ["OPS_WEBHOOK_SIGNING_KEY", "STRIPE_API_KEY"]
    assert vault.inputs["names"] == sorted(fakes)
    assert SECRET_SIGNATURE in vault.raw_inputs["secrets"] and SECRET_SIGNATURE in vault.raw_inputs["access_token"]
    assert vault.inputs["secrets"] == fakes  # what the provider receives
    assert result.component_of(vault).type == "kingtavo:secrets:SupabaseSecrets"


@pytest.mark.parametrize("stack", STACKS)
def test_the_end_to_end_walk_covers_the_vault_values(stack):
    result = plan(stack)
    needles = secret_values(result)
    assert set(result.secrets["kingtavo:vaultSecrets"].values()) <= needles
    assert resource_leaks(result) == [] and output_leaks(result) == []


def test_a_vault_value_used_in_the_clear_is_caught_by_the_walk():
    """The walk can fail: the same fake value planted as a plain setting shows up as a leak."""
    from tools.harness import build_config, run_stack

    planted = "fake-vault-" + secrets.token_hex(6)
    _, fakes = build_config("staging")
    fakes = {**fakes, "kingtavo:vaultSecrets": {**fakes["kingtavo:vaultSecrets"], "STRIPE_API_KEY": planted}}
    result = run_stack("staging", [f"cluster.name={planted}"], secrets=fakes)
    leaks = resource_leaks(result)
    assert any(leak.startswith("aws:eks/cluster:Cluster cluster-eks.name") for leak in leaks), leaks
    vault = result.one(VAULT)
    assert SECRET_SIGNATURE in vault.raw_inputs["secrets"]  # where it belongs, it stays wrapped


def test_the_policy_pack_judges_vault_secrets_outside_their_value_field():
    from tests.support.policy_fixtures import SECRET_SHAPED, violations

    stripe = SECRET_SHAPED["Stripe secret key"]()
    held = {"project_ref": REF, "access_token": SECRET_SHAPED["Supabase access token"](), "names": ["STRIPE_API_KEY"],
            "secrets": {"STRIPE_API_KEY": stripe}, "description": "managed by Pulumi (kingtavo)"}
    assert violations("no-secret-shaped-values", VAULT, held) == []
    [message] = violations("no-secret-shaped-values", VAULT, {**held, "description": f"key {stripe}"}, name="vault")
    assert message.startswith("VaultSecrets 'vault': description holds a secret-shaped value (Stripe secret key)")


def test_values_and_token_are_secret_outputs_and_names_are_not():
    import pulumi
    from pulumi.runtime import settings as runtime_settings

    from components.platform.supabase_settings import PitrAddon
    from components.secrets.vault import VaultSecrets
    from tests.test_supabase_secrets_provider import _RecordingMonitor

    class Echo(pulumi.runtime.Mocks):
        def new_resource(self, args):
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args):
            return {}

    mocks = Echo()
    monitor = _RecordingMonitor(mocks)
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project="kingtavo", stack="staging", preview=False, monitor=monitor)
    seen = {}

    @pulumi.runtime.test
    def program():
        vault = VaultSecrets("vault", project_ref=REF, access_token="fake-sbp-token", setting=SETTING,
                             secrets={"STRIPE_API_KEY": "fake-value"})
        PitrAddon("pitr", project_ref=REF, access_token="fake-sbp-token", setting="s", config={"variant": "none"})

        async def secretness():
            return await vault.secrets.is_secret(), await vault.names.is_secret(), await vault.names.future()

        return pulumi.Output.from_input(secretness()).apply(lambda values: seen.update(values=values))

    program()

    registered = {r.type.rsplit(":", 1)[1]: r for r in monitor.requests if "dynamic" in r.type}
    assert set(registered["VaultSecrets"].additionalSecretOutputs) >= {"access_token", "secrets"}
    assert set(registered["PitrAddon"].additionalSecretOutputs) >= {"access_token"}
    assert seen["values"] == (True, False, ["STRIPE_API_KEY"])
