"""The catalogue (`policies/catalogue.py`): secret names, public-by-design keys, token shapes, placeholders."""

from __future__ import annotations

import pytest

from policies.catalogue import (
    find_secret_values,
    is_placeholder,
    is_secret_name,
    redact,
    secret_kind,
)
from tests.support.policy_fixtures import (
    SECRET_SHAPED,
    anon_jwt,
    sentry_dsn,
)

# --- patterns ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["STRIPE_SECRET_KEY", "PGPASSWORD", "clientSecret", "SUPABASE_SERVICE_ROLE_KEY",
                                  "OPENAI_API_KEY", "service-role-key", "DB_PASSWD", "BASIC_AUTH", "PRIVATE_KEY",
                                  "GOOGLE_APPLICATION_CREDENTIALS", "PULUMI_CONFIG_PASSPHRASE", "etlApiKeys",
                                  "WEBHOOK_SIGNING_SECRET", "SUPABASE_SERVICE_ROLE", "pagerduty-routing-key"])
def test_secret_looking_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["KMS_KEY_ID", "kmsKeyId", "kmsKeyArn", "SECRET_ARN", "TOKEN_URL",
                                  "NEXT_PUBLIC_SUPABASE_ANON_KEY", "SENTRY_DSN", "PRIVATE_SUBNET_IDS",
                                  "PRIVATE_SUBNETS", "SECRETS_MANAGER_ENDPOINT", "MAX_TOKENS", "PORT", "apiKeyNames",
                                  "serverSecretNames", "NEXTAUTH_URL", "PARTITION_KEY", "slack-webhook-url",
                                  "KEYBOARD", "SECRETARY", "anonKey"])
def test_names_that_only_look_alike(name):
    assert not is_secret_name(name)


@pytest.mark.parametrize("kind", sorted(SECRET_SHAPED))
def test_each_token_format_is_found_inside_text_and_redacted(kind):
    value = SECRET_SHAPED[kind]()
    text = f"prefix {value} suffix"
    assert secret_kind(text) == kind
    redacted = redact(text)
    assert value not in redacted and f"[REDACTED {kind}]" in redacted


@pytest.mark.parametrize("value", [
    pytest.param(anon_jwt(), id="supabase-anon-jwt"),
    pytest.param(sentry_dsn(), id="sentry-dsn"),
    pytest.param("sb_publishable_" + "a" * 30, id="supabase-publishable-key"),
    pytest.param("postgresql://<user>:<password>@<host>:5432/postgres", id="url-with-placeholders"),
    pytest.param("postgres://etl:${PGPASSWORD}@db:5432/postgres", id="url-with-variable"),
    pytest.param("postgres://etl:{password}@db:5432/postgres", id="url-template-in-code"),
    pytest.param("AK" + "IA" + "IOSFODNN7" + "EXAMPLE", id="aws-documentation-example"),
    pytest.param("arn:aws:secretsmanager:eu-central-1:111122223333:secret:kingtavo/etl/db-AbCdEf", id="arn"),
    pytest.param("<set-me>", id="placeholder"),
    pytest.param("changeme", id="changeme"),
    pytest.param("", id="empty"),
])
def test_allowed_look_alikes_are_not_secret_shaped(value):
    assert find_secret_values(value) == []


@pytest.mark.parametrize("value", ["<set-me>", "changeme", "CHANGE_ME", "example", "xxx", "XXXXXXXX", "", "  ",
                                   "${STRIPE_KEY}", "your-api-key", "placeholder", "***"])
def test_placeholders(value):
    assert is_placeholder(value)
