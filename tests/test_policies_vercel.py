"""Vercel variables: compliant fixtures and one failing fixture per way to break each rule, exact messages."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE

from tests.support.policy_fixtures import (
    PEV,
    PEVS,
    SECRET_SHAPED,
    SEV,
    anon_jwt,
    padded_jwt,
    sentry_dsn,
    vercel_var,
    violations,
)

# --- Vercel: secrets are sensitive ------------------------------------------------------------------------




def test_vercel_sensitive_compliant():
    assert violations("vercel-secret-env-sensitive", PEV, vercel_var("STRIPE_SECRET_KEY")) == []
    assert violations("vercel-secret-env-sensitive", PEV, vercel_var("SENTRY_DSN", sentry_dsn(), False)) == []
    assert violations("vercel-secret-env-sensitive", PEV, vercel_var("NEXT_PUBLIC_SITE_URL", "https://x.io", False)) \
        == []


def test_vercel_sensitive_fails_for_a_secret_looking_key():
    assert violations("vercel-secret-env-sensitive", PEV, vercel_var("STRIPE_SECRET_KEY", sensitive=False),
                      name="web-env-stripe") == [
        "ProjectEnvironmentVariable 'web-env-stripe': sensitive is False for STRIPE_SECRET_KEY (its name looks "
        "secret), so anyone with access to the project can read the value back. Fix: set sensitive=True on "
        "STRIPE_SECRET_KEY."]


def test_vercel_sensitive_fails_for_a_secret_shaped_value_under_an_ordinary_key():
    props = vercel_var("DATABASE_URL", SECRET_SHAPED["URL with an embedded password"](), sensitive=False)
    assert violations("vercel-secret-env-sensitive", PEV, props, name="web-env-db") == [
        "ProjectEnvironmentVariable 'web-env-db': sensitive is False for DATABASE_URL (its value is secret-shaped: "
        "URL with an embedded password), so anyone with access to the project can read the value back. Fix: set "
        "sensitive=True on DATABASE_URL."]


def test_vercel_sensitive_reads_every_entry_of_project_environment_variables():
    props = {"projectId": "prj_kingtavo", "variables": [
        {"key": "NEXT_PUBLIC_SITE_URL", "value": "https://kingtavo.com", "sensitive": False, "targets": ["production"]},
        {"key": "SENTRY_AUTH_TOKEN", "value": "fake", "sensitive": False, "targets": ["production"]},
    ]}
    assert violations("vercel-secret-env-sensitive", PEVS, props, name="web-env") == [
        "ProjectEnvironmentVariables 'web-env': variables[1].sensitive is False for SENTRY_AUTH_TOKEN (its name looks "
        "secret), so anyone with access to the project can read the value back. Fix: set sensitive=True on "
        "SENTRY_AUTH_TOKEN."]


def test_vercel_sensitive_covers_shared_variables():
    props = {"key": "SUPABASE_SERVICE_ROLE_KEY", "value": "fake", "sensitive": False, "targets": ["production"],
             "projectIds": ["prj_kingtavo"]}
    assert violations("vercel-secret-env-sensitive", SEV, props, name="shared") == [
        "SharedEnvironmentVariable 'shared': sensitive is False for SUPABASE_SERVICE_ROLE_KEY (its name looks secret), "
        "so anyone with access to the project can read the value back. Fix: set sensitive=True on "
        "SUPABASE_SERVICE_ROLE_KEY."]


def test_vercel_sensitive_unknown_values_are_not_violations():
    assert violations("vercel-secret-env-sensitive", PEV,
                      vercel_var("STRIPE_SECRET_KEY", sensitive=UNKNOWN_BOOLEAN_VALUE)) == []
    assert violations("vercel-secret-env-sensitive", PEV,
                      vercel_var("DATABASE_URL", UNKNOWN_STRING_VALUE, sensitive=False)) == []
    assert violations("vercel-secret-env-sensitive", PEVS, {"projectId": "p", "variables": UNKNOWN_OBJECT_VALUE}) == []


# --- Vercel: secrets stay off development -----------------------------------------------------------------


def test_vercel_not_development_compliant():
    assert violations("vercel-secret-env-not-development", PEV, vercel_var("STRIPE_SECRET_KEY")) == []
    assert violations("vercel-secret-env-not-development", PEV,
                      vercel_var("NEXT_PUBLIC_SITE_URL", "https://x.io", False, ("development", "preview"))) == []


def test_vercel_not_development_fails_for_a_sensitive_variable():
    props = vercel_var("STRIPE_SECRET_KEY", targets=("development", "preview"))
    assert violations("vercel-secret-env-not-development", PEV, props, name="web-env-stripe") == [
        "ProjectEnvironmentVariable 'web-env-stripe': targets includes 'development' for STRIPE_SECRET_KEY (it is "
        "sensitive), so `vercel env pull` copies it to developers' machines. Fix: target only 'preview' and/or "
        "'production' with STRIPE_SECRET_KEY; developers keep their own test keys in .env.local."]


def test_vercel_not_development_fails_for_a_secret_looking_key_that_is_not_sensitive():
    props = vercel_var("SUPABASE_SERVICE_ROLE_KEY", sensitive=False, targets=("development",))
    assert violations("vercel-secret-env-not-development", PEV, props, name="web-env-sr") == [
        "ProjectEnvironmentVariable 'web-env-sr': targets includes 'development' for SUPABASE_SERVICE_ROLE_KEY (its "
        "name looks secret), so `vercel env pull` copies it to developers' machines. Fix: target only 'preview' "
        "and/or 'production' with SUPABASE_SERVICE_ROLE_KEY; developers keep their own test keys in .env.local."]


def test_vercel_not_development_unknown_targets_are_not_violations():
    assert violations("vercel-secret-env-not-development", PEV,
                      vercel_var("STRIPE_SECRET_KEY", targets=UNKNOWN_OBJECT_VALUE)) == []


# --- Vercel: NEXT_PUBLIC_ is public -----------------------------------------------------------------------


@pytest.mark.parametrize(("key", "value"), [
    ("NEXT_PUBLIC_SUPABASE_ANON_KEY", anon_jwt()),
    ("NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY", "sb_publishable_" + "b" * 30),
    ("NEXT_PUBLIC_SENTRY_DSN", sentry_dsn()),
    ("NEXT_PUBLIC_SUPABASE_URL", "https://abcdefghijklmnopqrst.supabase.co"),
    ("NEXT_PUBLIC_SITE_URL", "<set-me>"),
    ("NEXT_PUBLIC_SUPABASE_ANON_KEY", UNKNOWN_STRING_VALUE),
], ids=["anon-jwt", "publishable-key", "sentry-dsn", "url", "placeholder", "unknown"])
def test_vercel_public_compliant(key, value):
    assert violations("vercel-public-env-no-secrets", PEV, vercel_var(key, value, False)) == []


def test_vercel_public_fails_for_a_secret_looking_name():
    props = vercel_var("NEXT_PUBLIC_STRIPE_SECRET_KEY", "<set-me>", False)
    assert violations("vercel-public-env-no-secrets", PEV, props, name="web-env-public") == [
        "ProjectEnvironmentVariable 'web-env-public': key NEXT_PUBLIC_STRIPE_SECRET_KEY looks secret, and NEXT_PUBLIC_ "
        "variables are inlined into the JavaScript every browser downloads. Fix: drop the NEXT_PUBLIC_ prefix, mark it "
        "sensitive=True and read it only on the server."]


@pytest.mark.parametrize("kind", ["Supabase service_role JWT", "Supabase secret key", "Supabase access token",
                                  "AWS access key id", "PEM private key", "Stripe secret key", "Slack token",
                                  "GitHub token"])
def test_vercel_public_fails_for_each_secret_shaped_value(kind):
    props = vercel_var("NEXT_PUBLIC_SUPABASE_ANON_KEY", SECRET_SHAPED[kind](), False)
    assert violations("vercel-public-env-no-secrets", PEV, props, name="web-env-anon") == [
        f"ProjectEnvironmentVariable 'web-env-anon': value of NEXT_PUBLIC_SUPABASE_ANON_KEY is secret-shaped ({kind}), "
        "and NEXT_PUBLIC_ variables are shipped to every browser. Fix: revoke that credential, ship only public values "
        "(the Supabase anon key, a Sentry DSN) in NEXT_PUBLIC_SUPABASE_ANON_KEY, and keep the secret in a sensitive "
        "server-side variable."]


# --- the deprecated inline Project.environments, public-by-design keys (issue 17) ---------------------------

PROJECT = "vercel:index/project:Project"


def test_project_inline_environments_are_read():
    props = {"name": "kingtavo-web", "environments": [
        {"key": "NEXT_PUBLIC_SITE_URL", "value": "https://kingtavo.com", "target": ["production"]},
        {"key": "DB_PASS", "value": "fake-value", "target": ["production", "development"]}]}
    assert violations("vercel-secret-env-sensitive", PROJECT, props, name="web") == [
        "Project 'web': environments[1].sensitive is None for DB_PASS (its name looks secret), so anyone with access "
        "to the project can read the value back. Fix: set sensitive=True on DB_PASS."]
    assert violations("vercel-secret-env-not-development", PROJECT, props, name="web") == [
        "Project 'web': environments[1].targets includes 'development' for DB_PASS (its name looks secret), so "
        "`vercel env pull` copies it to developers' machines. Fix: target only 'preview' and/or 'production' with "
        "DB_PASS; developers keep their own test keys in .env.local."]


@pytest.mark.parametrize(("key", "value"), [
    ("NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY", "pk_" + "live_" + "a1B2" * 6),
    ("NEXT_PUBLIC_RECAPTCHA_SITE_KEY", "6L" + "c" * 30 + "A1b2C3d4"),
    ("NEXT_PUBLIC_POSTHOG_KEY", "ph" + "c_" + "a1B2" * 10),
    ("NEXT_PUBLIC_AUTH_URL", "https://auth.kingtavo.com"),
    ("NEXT_PUBLIC_SUPABASE_ANON_KEY", padded_jwt("anon")),
], ids=["stripe-publishable", "recaptcha-site-key", "posthog-project-key", "auth-url", "padded-anon-jwt"])
def test_public_by_design_keys_pass_every_vercel_rule(key, value):
    props = vercel_var(key, value, False, ("development", "preview", "production"))
    for rule in ("vercel-secret-env-sensitive", "vercel-secret-env-not-development", "vercel-public-env-no-secrets"):
        assert violations(rule, PEV, props) == [], rule


def test_a_server_side_secret_name_is_flagged_whatever_its_value_shape():
    props = vercel_var("DB_PASS", "fake-value", sensitive=False)
    assert len(violations("vercel-secret-env-sensitive", PEV, props)) == 1
