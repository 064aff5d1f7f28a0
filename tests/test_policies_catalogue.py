"""The catalogue (`policies/catalogue.py`): secret names, public-by-design keys, token shapes, placeholders."""

from __future__ import annotations

import pytest

from policies.catalogue import (
    find_secret_values,
    is_placeholder,
    is_public_by_design,
    is_secret_name,
    looks_like_secret_value,
    redact,
    secret_kind,
)
from tests.support.policy_fixtures import (
    MORE_SHAPED,
    ROOT,
    SECRET_SHAPED,
    alnum,
    anon_jwt,
    padded_jwt,
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


# --- the issue's names, and the verdicts settings must share ------------------------------------------------


@pytest.mark.parametrize("name", ["DB_PASS", "MYSQL_PWD", "REDIS_PWD", "GITHUB_PAT", "GOOGLE_CREDENTIALS",
                                  "AWS_CREDENTIALS", "adminPassword", "routing_key", "password", "db-pass",
                                  "Authorization", "SMTP_PASS", "proxyAuthorization", "existing_password"])
def test_issue_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["OPENAI_TOKEN_LIMIT", "MAX_TOKEN_LIMIT", "DB_ROTATION_DAYS", "KEY_ROTATION_DAYS",
                                  "PASSWORD_POLICY", "PRIVATE_BETA", "existingSecret", "password_file",
                                  "routing_key_file", "api_url_file", "PASSWORD_MIN_LENGTH", "TOKEN_TTL",
                                  "passwordSecretRef", "SECRET_NAME"])
def test_issue_names_that_are_not_secrets(name):
    assert not is_secret_name(name)


# name -> (is_secret_name, is_public_by_design, refused in a public or plaintext setting).
# Settings validation (components) must give the third verdict for every name here: refused exactly when the
# name announces a secret and is not public by design (`is_secret_name(n) and not is_public_by_design(n)`).
NAME_VERDICTS = {
    "NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY": (False, True, False),
    "NEXT_PUBLIC_AUTH_URL": (False, True, False),
    "NEXT_PUBLIC_SUPABASE_ANON_KEY": (False, True, False),
    "NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY": (False, True, False),
    "NEXT_PUBLIC_RECAPTCHA_SITE_KEY": (False, True, False),
    "NEXT_PUBLIC_POSTHOG_KEY": (True, True, False),
    "NEXT_PUBLIC_SENTRY_DSN": (False, True, False),
    "NEXT_PUBLIC_SITE_URL": (False, True, False),
    "NEXT_PUBLIC_ANALYTICS_ID": (False, True, False),
    "NEXT_PUBLIC_STRIPE_SECRET_KEY": (True, False, True),
    "NEXT_PUBLIC_OPENAI_API_KEY": (True, False, True),
    "NEXT_PUBLIC_SUPABASE_SERVICE_ROLE_KEY": (True, False, True),
    "NEXT_PUBLIC_ADMIN_PASSWORD": (True, False, True),
    "NEXT_PUBLIC_GITHUB_TOKEN": (True, False, True),
    "STRIPE_SECRET_KEY": (True, False, True),
    "SUPABASE_SERVICE_ROLE_KEY": (True, False, True),
    "SENTRY_AUTH_TOKEN": (True, False, True),
    "DB_PASS": (True, False, True),
    "MYSQL_PWD": (True, False, True),
    "GITHUB_PAT": (True, False, True),
    "GOOGLE_CREDENTIALS": (True, False, True),
    "PAYMENTS_SECRET_KEY": (True, False, True),
    "OPENAI_TOKEN_LIMIT": (False, False, False),
    "KEY_ROTATION_DAYS": (False, False, False),
    "PASSWORD_POLICY": (False, False, False),
    "PRIVATE_BETA": (False, False, False),
    "FEATURE_FLAGS": (False, False, False),
    "SUPABASE_URL": (False, False, False),
}


@pytest.mark.parametrize("name", sorted(NAME_VERDICTS))
def test_the_catalogue_verdict_per_name(name):
    secret, public, refused = NAME_VERDICTS[name]
    assert (is_secret_name(name), is_public_by_design(name)) == (secret, public)
    assert (is_secret_name(name) and not is_public_by_design(name)) == refused


@pytest.mark.parametrize(("name", "value"), [
    ("NEXT_PUBLIC_STRIPE_KEY", "pk_" + "live_" + "a1" * 12),
    ("NEXT_PUBLIC_RECAPTCHA_KEY", "6L" + "c" * 30 + "A1b2C3d4"),
    ("NEXT_PUBLIC_POSTHOG_KEY", "ph" + "c_" + "a1B2" * 10),
    ("NEXT_PUBLIC_SUPABASE_KEY", "sb_" + "publishable_" + "a1B2" * 6),
    ("NEXT_PUBLIC_SUPABASE_KEY", anon_jwt()),
    ("SUPABASE_ANON_KEY", padded_jwt("anon")),
])
def test_public_by_design_values(name, value):
    assert is_public_by_design(name, value)
    assert find_secret_values(value) == []


@pytest.mark.parametrize("kind", ["Supabase service_role JWT", "Stripe secret key", "Supabase secret key"])
def test_a_secret_shaped_value_is_never_public_whatever_its_name(kind):
    assert not is_public_by_design("NEXT_PUBLIC_SUPABASE_ANON_KEY", SECRET_SHAPED[kind]())


@pytest.mark.parametrize("kind", sorted(MORE_SHAPED))
def test_more_token_formats_are_found_and_redacted(kind):
    value = MORE_SHAPED[kind]()
    found = find_secret_values(f"before {value} after")
    assert found, kind
    assert value not in redact(f"before {value} after")
    assert all(set(vars(f)) == {"kind", "start", "end"} and value not in f.kind for f in found)


@pytest.mark.parametrize("value", [
    "smtp://mail.example.net?from=ops@example.net",        # a user but no password
    "smtp://mail.example.net:587?from=ops@example.net",    # a port is not a password
    "postgresql://etl@db.internal:5432/etl?sslmode=require",
    "host=db port=5432 user=etl dbname=etl sslmode=require",
    "host=db user=etl password=${PGPASSWORD}",
    "https://api.example.net/v1?page=2&token_limit=1000",
    "password: <set-me>", "password=changeme", "token: n/a",
    "sha256:" + "ab" * 32,
])
def test_more_look_alikes_are_not_secret_shaped(value):
    assert find_secret_values(value) == []


def test_looks_like_secret_value():
    assert looks_like_secret_value(SECRET_SHAPED["Stripe secret key"]())
    assert looks_like_secret_value(alnum(40))  # a high-entropy token of no known format
    for value in ["kingtavo-production", "https://kingtavo.com/path/to/x", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                  "arn:aws:secretsmanager:eu-central-1:111122223333:secret:x", "<set-me>", "12 hours", anon_jwt(),
                  "sb_" + "publishable_" + "a1B2" * 6, sentry_dsn()]:
        assert not looks_like_secret_value(value), value


def test_the_catalogue_is_a_leaf_module():
    """stdlib and detect-secrets only, so settings, the pack and the repository check can all import it."""
    import ast
    import sys

    tree = ast.parse((ROOT / "policies" / "catalogue.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert not any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree))
    assert imported - set(sys.stdlib_module_names) == {"detect_secrets"}


def test_an_arn_s_account_and_name_are_not_a_telegram_token():
    """`arn:aws:sns:<region>:<account>:<topic>` ends like a bot token (digits, colon, 35 characters): an address."""
    arn = "arn:aws:sns:eu-central-1:111122223333:kingtavo-production-alerts-critical"
    assert find_secret_values(f'TOPIC = "{arn}"') == []
    token = "12345" + "67890:" + "AAH" + "x" * 32
    assert [f.kind for f in find_secret_values(f"TELEGRAM_BOT={token}")] == ["Telegram bot token"]
