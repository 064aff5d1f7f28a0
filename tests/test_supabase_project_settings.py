"""The Supabase project settings resources (components/platform/supabase_settings.py) against a local Management API.

The PITR add-on, SSL enforcement and network restrictions run against tests/support/fake_apis.py's
Supabase stand-in; query logging runs its SQL through the stand-in's SQL endpoint on the real
PostgreSQL server. Each resource: create, a drift made "by hand" that a refresh finds and the next
update repairs, an update, a delete, and an error that names the setting. Then the component in
both stacks' plans.
"""

from __future__ import annotations

import re
import secrets

import pytest
from pulumi.output import Unknown

from components.platform import rest
from components.platform.supabase_settings import (
    NetworkRestrictionsProvider,
    PitrAddonProvider,
    QueryLoggingProvider,
    SslEnforcementProvider,
)
from components.secrets.supabase_api import SupabaseApiError
from tests.support.fake_apis import FakeSupabase, pg_runner, serving
from tests.support.plans import plan

REF = "abcdefghijklmnopqrst"
OTHER_REF = "tsrqponmlkjihgfedcba"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(rest, "sleep", lambda _seconds: None)


@pytest.fixture
def api():
    with serving(FakeSupabase(token="fake-sbp-" + secrets.token_hex(12))) as fake:
        yield fake


def props(api: FakeSupabase, setting: str, **config) -> dict:
    return {"project_ref": REF, "api_url": api.url, "access_token": api.token, "setting": setting, **config}


def refreshed(provider, created_outs: dict) -> dict:
    return provider.read(REF, created_outs).outs


# --- PITR ----------------------------------------------------------------------------------------------------

PITR = "kingtavo:supabase.pitrRetentionDays"


def test_pitr_create_selects_the_variant_and_a_refresh_sees_drift(api):
    provider = PitrAddonProvider()

    created = provider.create(props(api, PITR, variant="pitr_7"))

    assert api.project(REF).addons == {"pitr": "pitr_7"}
    assert ("PATCH", f"/v1/projects/{REF}/billing/addons") in api.paths()
    assert api.calls[-1].body == {"addon_type": "pitr", "addon_variant": "pitr_7"}
    assert created.id == REF and created.outs["variant"] == "pitr_7"

    api.project(REF).addons["pitr"] = "pitr_14"  # changed in the dashboard
    state = refreshed(provider, created.outs)
    assert state["variant"] == "pitr_14"
    assert provider.diff(REF, state, props(api, PITR, variant="pitr_7")).changes is True

    provider.update(REF, state, props(api, PITR, variant="pitr_7"))
    assert api.project(REF).addons == {"pitr": "pitr_7"}


def test_pitr_none_removes_a_hand_made_add_on_and_delete_removes_ours(api):
    provider = PitrAddonProvider()
    api.project(REF).addons["pitr"] = "pitr_28"

    created = provider.create(props(api, PITR, variant="none"))
    assert api.project(REF).addons == {}
    assert ("DELETE", f"/v1/projects/{REF}/billing/addons/pitr_28") in api.paths()

    provider.update(REF, created.outs, props(api, PITR, variant="pitr_14"))
    provider.delete(REF, props(api, PITR, variant="pitr_14"))
    assert api.project(REF).addons == {}


def test_pitr_refused_by_the_plan_names_the_setting_and_what_it_needs(api):
    api.project(REF).compute = "ci_micro"

    with pytest.raises(SupabaseApiError) as raised:
        PitrAddonProvider().create(props(api, PITR, variant="pitr_7"))

    message = str(raised.value)
    assert message.startswith(f"PITR add-on ({PITR}): Supabase Management API PATCH")
    assert "HTTP 403" in message and "at least the Small compute add-on" in message
    assert api.token not in message


def test_pitr_check_names_the_setting_for_a_bad_retention(api):
    failures = PitrAddonProvider().check({}, props(api, PITR, variant="pitr_30")).failures

    assert [(f.property, f.reason) for f in failures] == [
        ("variant", f"{PITR}: the PITR add-on must be one of pitr_7, pitr_14, pitr_28 (7, 14 or 28 days of "
                    f"retention) or none, got 'pitr_30'")]


def test_diff_without_change_sends_nothing_and_another_project_replaces(api):
    provider, outs = PitrAddonProvider(), props(api, PITR, variant="pitr_7")

    assert provider.diff(REF, outs, dict(outs)).changes is False
    assert provider.diff(REF, outs, {**outs, "project_ref": OTHER_REF}).replaces == ["project_ref"]
    assert provider.diff(REF, outs, {**outs, "variant": Unknown()}).changes is True
    assert api.calls == []


# --- SSL -----------------------------------------------------------------------------------------------------

SSL = "kingtavo:supabase.sslEnforcement"


def test_ssl_enforcement_is_applied_drift_is_seen_and_delete_leaves_it_on(api):
    provider = SslEnforcementProvider()

    created = provider.create(props(api, SSL, enforced=True))
    assert api.project(REF).ssl is True
    assert api.calls[-1].body == {"requestedConfig": {"database": True}}

    api.project(REF).ssl = False
    state = refreshed(provider, created.outs)
    assert state["enforced"] is False
    assert provider.diff(REF, state, props(api, SSL, enforced=True)).changes is True
    provider.update(REF, state, props(api, SSL, enforced=True))
    assert api.project(REF).ssl is True

    calls = len(api.calls)
    provider.delete(REF, created.outs)
    assert api.project(REF).ssl is True and len(api.calls) == calls  # removing the declaration opens nothing


def test_ssl_with_a_wrong_token_names_the_setting(api):
    wrong = {**props(api, SSL, enforced=True), "access_token": "fake-sbp-" + secrets.token_hex(12)}

    with pytest.raises(SupabaseApiError, match=rf"^SSL enforcement \({SSL}\): .*HTTP 401: Unauthorized"):
        SslEnforcementProvider().create(wrong)


# --- network restrictions ------------------------------------------------------------------------------------

NET = "kingtavo:supabase.allowedCidrs (and the NAT gateways' addresses)"


def test_network_restrictions_replace_the_open_default_and_drift_is_repaired(api):
    provider = NetworkRestrictionsProvider()
    wanted = props(api, NET, ipv4_cidrs=["198.51.100.7/32", "192.0.2.0/28"], ipv6_cidrs=["2001:db8::/48"])

    created = provider.create(wanted)
    assert api.calls[-1].body == {"dbAllowedCidrs": ["192.0.2.0/28", "198.51.100.7/32"],
                                  "dbAllowedCidrsV6": ["2001:db8::/48"]}
    assert api.project(REF).ipv4 == ["192.0.2.0/28", "198.51.100.7/32"]

    api.project(REF).ipv4.append("0.0.0.0/0")  # someone opened it in the dashboard
    state = refreshed(provider, created.outs)
    assert "0.0.0.0/0" in state["ipv4_cidrs"]
    assert provider.diff(REF, state, wanted).changes is True
    provider.update(REF, state, wanted)
    assert api.project(REF).ipv4 == ["192.0.2.0/28", "198.51.100.7/32"]


def test_network_restrictions_on_a_plan_without_them_name_the_setting(api):
    api.project(REF).entitlement = "disallowed"

    expected = rf"^network restrictions \({re.escape(NET)}\): .*entitlement 'disallowed'.*restrictNetwork"
    with pytest.raises(SupabaseApiError, match=expected):
        NetworkRestrictionsProvider().create(props(api, NET, ipv4_cidrs=["192.0.2.0/28"], ipv6_cidrs=[]))

    assert ("POST", f"/v1/projects/{REF}/network-restrictions/apply") not in api.paths()


def test_network_check_refuses_open_and_malformed_ranges(api):
    failures = NetworkRestrictionsProvider().check({}, props(
        api, NET, ipv4_cidrs=["0.0.0.0/0", "10.0.0.1/8", "2001:db8::/32"], ipv6_cidrs=["::/0"])).failures

    reasons = sorted(f.reason for f in failures)
    assert all(reason.startswith(f"{NET}: ") for reason in reasons)
    assert any("0.0.0.0/0 allows every address" in r for r in reasons)
    assert any("'10.0.0.1/8' is not an IPv4 CIDR" in r for r in reasons)
    assert any("'2001:db8::/32' is not an IPv4 CIDR" in r for r in reasons)
    assert any("::/0 allows every address" in r for r in reasons)


# --- query logging (SQL endpoint on the real PostgreSQL) -----------------------------------------------------

LOGGING = "kingtavo:supabase.queryLogging"


@pytest.fixture
def sql_api(api, postgres, scratch_db):
    role = "app_" + secrets.token_hex(4)
    postgres.psql(f'CREATE ROLE "{role}" NOLOGIN', database=scratch_db)
    api.sql = pg_runner(postgres.connect_kwargs(scratch_db))
    yield api, role
    postgres.psql(f'DROP ROLE IF EXISTS "{role}"', database=scratch_db)


def rolconfig(postgres, role: str) -> str:
    query = "SELECT coalesce(array_to_string(rolconfig, ','), '') FROM pg_roles WHERE rolname = '%s'" % role  # noqa: S608, UP031 - a generated test role
    return postgres.psql(query).stdout.strip()


def test_query_logging_sets_reads_back_and_resets_role_settings(sql_api, postgres):
    api, role = sql_api
    provider = QueryLoggingProvider()
    on = {role: {"log_min_duration_statement": "1000", "auto_explain.log_min_duration": "2000"}}

    created = provider.create(props(api, LOGGING, role_settings=on))
    assert rolconfig(postgres, role) == "log_min_duration_statement=1000,auto_explain.log_min_duration=2000"

    postgres.psql(f'ALTER ROLE "{role}" SET log_min_duration_statement = 5')  # lowered by hand
    state = refreshed(provider, created.outs)
    assert state["role_settings"][role]["log_min_duration_statement"] == "5"
    assert provider.diff(REF, state, props(api, LOGGING, role_settings=on)).changes is True
    provider.update(REF, state, props(api, LOGGING, role_settings=on))
    assert rolconfig(postgres, role) == "log_min_duration_statement=1000,auto_explain.log_min_duration=2000"
    off = {role: {"log_min_duration_statement": "off", "auto_explain.log_min_duration": "2000"}}
    provider.update(REF, provider.read(REF, props(api, LOGGING, role_settings=on)).outs,
                    props(api, LOGGING, role_settings=off))
    assert rolconfig(postgres, role) == "auto_explain.log_min_duration=2000"

    provider.delete(REF, props(api, LOGGING, role_settings=on))
    assert rolconfig(postgres, role) == ""


def test_query_logging_for_a_missing_role_names_the_setting(sql_api):
    api, _ = sql_api
    missing = {"no_such_role": {"log_min_duration_statement": "1000", "auto_explain.log_min_duration": "off"}}

    with pytest.raises(SupabaseApiError, match=rf"^query logging \({LOGGING}\): .*HTTP 400: Failed to run sql query"):
        QueryLoggingProvider().create(props(api, LOGGING, role_settings=missing))
    with pytest.raises(Exception, match="database role 'no_such_role' does not exist"):
        QueryLoggingProvider().read(REF, props(api, LOGGING, role_settings=missing))


def test_query_logging_check_refuses_what_it_cannot_quote(api):
    failures = QueryLoggingProvider().check({}, props(api, LOGGING, role_settings={
        'x"; DROP ROLE postgres; --': {"log_min_duration_statement": "1"},
        "postgres": {"log_statement": "all", "log_min_duration_statement": "1s; RESET ALL"}})).failures

    assert len(failures) == 3
    assert all(f.reason.startswith(f"{LOGGING}: ") for f in failures)


# --- the component in the plans -------------------------------------------------------------------------------

SETTINGS_TYPES = ("PitrAddon", "SslEnforcement", "NetworkRestrictions", "QueryLogging")


def _settings(stack: str) -> dict:
    result = plan(stack)
    return {kind: result.one(f"pulumi-python:dynamic/supabase:{kind}") for kind in SETTINGS_TYPES}


def test_production_declares_pitr_ssl_and_restrictions_from_the_nat_addresses():
    result = plan("production")
    resources = _settings("production")
    assert resources["PitrAddon"].inputs["variant"] == "pitr_7"
    assert resources["PitrAddon"].protect is True
    assert resources["SslEnforcement"].inputs["enforced"] is True
    nat_ips = [eip.outputs["publicIp"] for eip in result.by_type("aws:ec2/eip:Eip")]
    assert len(nat_ips) == 3
    assert resources["NetworkRestrictions"].inputs["ipv4_cidrs"] == sorted(
        [f"{ip}/32" for ip in nat_ips] + ["192.0.2.0/28", "203.0.113.0/24"])
    assert resources["QueryLogging"].inputs["role_settings"] == {
        "postgres": {"log_min_duration_statement": "off", "auto_explain.log_min_duration": "off"}}
    for resource in resources.values():
        assert "4dabf18193072939515e22adb298388d" in resource.raw_inputs["access_token"]
        assert resource.inputs["project_ref"] == "productionrefplacehd"


def test_staging_has_no_pitr_add_on_and_logs_slow_queries():
    resources = _settings("staging")
    assert resources["PitrAddon"].inputs["variant"] == "none"
    assert resources["PitrAddon"].protect is False
    assert resources["QueryLogging"].inputs["role_settings"]["postgres"]["log_min_duration_statement"] == "1000"
    assert len(resources["NetworkRestrictions"].inputs["ipv4_cidrs"]) == 3  # one NAT gateway + two ranges


def test_turning_restrictions_off_declares_none():
    result = plan("staging", "supabase.restrictNetwork=false")
    assert result.by_type("pulumi-python:dynamic/supabase:NetworkRestrictions") == []


def test_every_new_provider_survives_pulumis_serialization():
    import base64

    import dill
    from pulumi.dynamic.dynamic import serialize_provider

    from components.platform.vercel_analytics import VercelAnalyticsProvider
    from components.secrets.vault import VaultSecretsProvider

    for provider in (PitrAddonProvider, SslEnforcementProvider, NetworkRestrictionsProvider, QueryLoggingProvider,
                     VaultSecretsProvider, VercelAnalyticsProvider):
        restored = dill.loads(base64.b64decode(serialize_provider(provider())))  # noqa: S301 - pickled just above
        assert type(restored) is provider
