"""Fixtures for the policy pack's tests: secret-shaped values assembled at run time, and calling rules as the
engine does (props behind the SDK's unknown-checking proxy, unknown values as the SDK's own sentinels).

No committed file holds a secret-shaped value: every one is built here from pieces and random bytes.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
from collections.abc import Callable
from pathlib import Path

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policies.rules import POLICIES

ROOT = Path(__file__).resolve().parent.parent.parent
POLICY = {policy.name: policy for policy in POLICIES}
OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])

PEV = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"
PEVS = "vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables"
SEV = "vercel:index/sharedEnvironmentVariable:SharedEnvironmentVariable"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
KMS_ARN = "arn:aws:kms:eu-central-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


# --- secret-shaped values, assembled at run time ----------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    return ".".join([header, b64url(json.dumps(claims).encode()), b64url(secrets.token_bytes(32))])


def service_role_jwt() -> str:
    return jwt({"iss": "supabase", "ref": "abcdefghijklmnopqrst", "role": "service_role", "exp": 2000000000})


def anon_jwt() -> str:
    return jwt({"iss": "supabase", "ref": "abcdefghijklmnopqrst", "role": "anon", "exp": 2000000000})


def pem_private_key() -> str:
    body = base64.b64encode(secrets.token_bytes(48)).decode()
    return "-----BEGIN " + "RSA PRIVATE" + " KEY-----\n" + body + "\n-----END " + "RSA PRIVATE" + " KEY-----"


SECRET_SHAPED: dict[str, Callable[[], str]] = {
    "Supabase service_role JWT": service_role_jwt,
    "Supabase secret key": lambda: "sb_" + "secret_" + secrets.token_hex(16),
    "Supabase access token": lambda: "sb" + "p_" + secrets.token_hex(20),
    "AWS access key id": lambda: "AK" + "IA" + secrets.token_hex(8).upper(),
    "PEM private key": pem_private_key,
    "Stripe secret key": lambda: "sk_" + "live_" + secrets.token_hex(12),
    "Slack token": lambda: "xo" + "xb-" + secrets.token_hex(6) + "-" + secrets.token_hex(8),
    "GitHub token": lambda: "gh" + "p_" + secrets.token_hex(18),
    "Slack webhook URL": lambda: "https://hooks.slack.com/services/T" + secrets.token_hex(4).upper() + "/B"
                                 + secrets.token_hex(4).upper() + "/" + secrets.token_hex(12),
    "URL with an embedded password": lambda: f"postgresql://etl:{secrets.token_hex(10)}@db.example.com:5432/postgres",
    "PagerDuty integration URL": lambda: "https://events.pagerduty.com/integration/" + secrets.token_hex(16)
                                         + "/enqueue",
    "Sentry auth token": lambda: "sntry" + "s_" + secrets.token_hex(24),
}


def sentry_dsn() -> str:
    return f"https://{secrets.token_hex(16)}@o4507000000000000.ingest.us.sentry.io/4507000000000001"


# --- calling rules ----------------------------------------------------------------------------------------


def urn_of(type_token: str, name: str) -> str:
    return f"urn:pulumi:test::kingtavo::{type_token}::{name}"


def violations(policy_name: str, type_token: str, props: dict, name: str = "subject",
               config: dict | None = None) -> list[str]:
    """The messages one resource policy reports for one resource, with props as the engine hands them over."""
    messages: list[str] = []
    args = ResourceValidationArgs(type_token, unknown_checking_proxy(copy.deepcopy(props)), urn_of(type_token, name),
                                  name, OPTS, None, config)
    POLICY[policy_name].validate(args, lambda message, urn=None: messages.append(message))
    return messages


def stack_resource(type_token: str, name: str, props: dict) -> PolicyResource:
    return PolicyResource(type_token, unknown_checking_proxy(copy.deepcopy(props)), urn_of(type_token, name), name,
                          OPTS, None, None, [], {})


def stack_violations(policy_name: str, resources: list[PolicyResource],
                     config: dict | None = None) -> list[tuple[str, str]]:
    reported: list[tuple[str, str]] = []
    POLICY[policy_name].validate(StackValidationArgs(resources, config),
                                 lambda message, urn=None: reported.append((urn, message)))
    return reported


def vercel_var(key: str, value: object = "fake-value", sensitive: object = True,
               targets: object = ("preview", "production")) -> dict:
    return {"projectId": "prj_kingtavo", "key": key, "value": value, "sensitive": sensitive,
            "targets": list(targets) if isinstance(targets, tuple) else targets}


def secret_resource(name: str, tags: object = None) -> PolicyResource:
    props = {"name": f"kingtavo/staging/{name}", "kmsKeyId": KMS_ARN,
             "arn": f"arn:aws:secretsmanager:eu-central-1:111122223333:secret:kingtavo/staging/{name}-AbCdEf"}
    if tags is not None:
        props["tags"] = tags
    return stack_resource(SECRET, name, props)


def padded_jwt(role: str) -> str:
    """A JWT whose segments keep their base64 `=` padding (some libraries emit it)."""
    def pad(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode()

    claims = {"iss": "supabase", "ref": "abcdefghijklmnopqrst", "role": role, "exp": 2000000000, "x": "y"}
    return ".".join([pad(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()), pad(json.dumps(claims).encode()),
                     pad(secrets.token_bytes(31))])


def alnum(length: int) -> str:
    """Random letters and digits (always both), like most API tokens."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    body = "".join(secrets.choice(alphabet) for _ in range(length - 2))
    return body + secrets.choice("ABCDEFGHJK") + secrets.choice("23456789")


# More shapes, by the kind the catalogue reports (each a fresh fake value).
MORE_SHAPED: dict[str, Callable[[], str]] = {
    "Supabase service_role JWT (padded)": lambda: padded_jwt("service_role"),
    "Stripe restricted key": lambda: "rk_" + "live_" + alnum(24),
    "Stripe webhook signing secret": lambda: "wh" + "sec_" + alnum(32),
    "OpenAI project key": lambda: "sk-" + "proj-" + alnum(40),
    "Anthropic key": lambda: "sk-" + "ant-" + alnum(40),
    "Google API key": lambda: "AI" + "za" + alnum(35),
    "GitHub fine-grained token": lambda: "github" + "_pat_" + alnum(60),
    "GitLab token": lambda: "gl" + "pat-" + alnum(20),
    "Slack app token": lambda: "xa" + "pp-1-" + alnum(30),
    "npm token": lambda: "np" + "m_" + alnum(36),
    "Pulumi access token": lambda: "pu" + "l-" + secrets.token_hex(20),
    "SendGrid API key": lambda: "S" + "G." + alnum(22) + "." + alnum(43),
    "Sentry user token": lambda: "sntry" + "u_" + secrets.token_hex(32),
    "Vercel token": lambda: "VERCEL" + "_TOKEN=" + alnum(24),
    "PagerDuty EU URL": lambda: "https://events.eu.pagerduty.com/integration/" + alnum(32) + "/enqueue",
    "PagerDuty routing key": lambda: "routing" + "_key: " + alnum(32),
    "Twilio API key": lambda: "S" + "K" + secrets.token_hex(16),
    "Telegram bot token": lambda: "12345678" + "9:" + alnum(35),
    "AWS temporary key id": lambda: "AS" + "IA" + secrets.token_hex(8).upper(),
    "OpenSSH private key": lambda: "-----BEGIN " + "OPENSSH PRIVATE" + " KEY-----\n" + alnum(64),
    "libpq keyword password": lambda: "host=db port=5432 user=etl " + "pass" + "word=" + alnum(14) + " dbname=etl",
    "query-string token": lambda: "https://api.example.net/v1/feed?" + "to" + "ken=" + alnum(20) + "&page=1",
    "query-string api_key": lambda: "https://maps.example.net/x?" + "api" + "_key=" + alnum(20),
    "redis URL password": lambda: "rediss://default:" + alnum(24) + "@cache.example.net:6380/0",
    "AMQP URL password": lambda: "amqps://etl:" + alnum(18) + "@mq.example.net/vhost",
    "JWT (another issuer)": lambda: jwt({"sub": "ci", "aud": "deploy", "exp": 2000000000}),
}
