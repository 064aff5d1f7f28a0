"""Vercel: environment variables that hold secrets are sensitive, stay off `development`, and never NEXT_PUBLIC_."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..catalogue import is_public_by_design, is_secret_name
from .base import SECRET, UNKNOWN, Subject, resource_policy, shaped

VERCEL_ENV_VAR = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"
VERCEL_ENV_VARS = "vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables"
VERCEL_SHARED_ENV_VAR = "vercel:index/sharedEnvironmentVariable:SharedEnvironmentVariable"
VERCEL_PROJECT = "vercel:index/project:Project"
VERCEL_ENV_TYPES = (VERCEL_ENV_VAR, VERCEL_ENV_VARS, VERCEL_SHARED_ENV_VAR, VERCEL_PROJECT)
PUBLIC_PREFIX = "NEXT_PUBLIC_"


@dataclass(frozen=True)
class VercelVariable:
    where: str  # "" for a single-variable resource, "variables[2]." for one entry of a list
    key: str
    value: Any
    sensitive: Any
    targets: Any

    @property
    def public(self) -> bool:
        return self.key.startswith(PUBLIC_PREFIX)

    def looks_secret(self) -> str | None:
        """Why this variable holds a secret (its name or the shape of its value), or None."""
        value = self.value if isinstance(self.value, str) else None
        if is_secret_name(self.key) and not is_public_by_design(self.key, value):
            return "its name looks secret"
        kind = shaped(self.value)
        return f"its value is secret-shaped: {kind}" if kind else None


def vercel_variables(subject: Subject) -> Iterator[VercelVariable]:
    """The variables a Vercel env resource declares (the deprecated inline `Project.environments` too)."""
    if subject.type in (VERCEL_ENV_VARS, VERCEL_PROJECT):
        prop = "variables" if subject.type == VERCEL_ENV_VARS else "environments"
        entries = subject.props.get(prop)
        entries = entries if isinstance(entries, list) else []
        candidates = [(f"{prop}[{i}].", entry) for i, entry in enumerate(entries)]
    elif subject.type in VERCEL_ENV_TYPES:
        candidates = [("", subject.props)]
    else:
        return
    for where, entry in candidates:
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            value = entry.get("value", entry.get("valueWo"))
            targets = entry.get("targets", entry.get("target"))
            yield VercelVariable(where, entry["key"], value, entry.get("sensitive"), targets)


def check_vercel_sensitive(subject: Subject) -> Iterator[str]:
    for var in vercel_variables(subject):
        if var.public or var.sensitive is True or var.sensitive is UNKNOWN or var.value is SECRET:
            continue
        why = var.looks_secret()
        if why:
            yield subject.say(
                f"{var.where}sensitive is {var.sensitive!r} for {var.key} ({why}), so anyone with access to the "
                "project can read the value back", f"set sensitive=True on {var.key}")


def check_vercel_not_development(subject: Subject) -> Iterator[str]:
    for var in vercel_variables(subject):
        if var.public or not isinstance(var.targets, list) or "development" not in var.targets:
            continue
        why = "it is sensitive" if var.sensitive is True else var.looks_secret()
        if why:
            yield subject.say(
                f"{var.where}targets includes 'development' for {var.key} ({why}), so `vercel env pull` copies it "
                "to developers' machines", f"target only 'preview' and/or 'production' with {var.key}; developers "
                "keep their own test keys in .env.local")


def check_vercel_public(subject: Subject) -> Iterator[str]:
    for var in vercel_variables(subject):
        if not var.public:
            continue
        value = var.value if isinstance(var.value, str) else None
        if is_secret_name(var.key) and not is_public_by_design(var.key, value) and not shaped(value):
            yield subject.say(
                f"{var.where}key {var.key} looks secret, and NEXT_PUBLIC_ variables are inlined into the JavaScript "
                "every browser downloads", "drop the NEXT_PUBLIC_ prefix, mark it sensitive=True and read it only "
                "on the server")
        kind = shaped(var.value)
        if kind:
            yield subject.say(
                f"{var.where}value of {var.key} is secret-shaped ({kind}), and NEXT_PUBLIC_ variables are shipped to "
                "every browser", "revoke that credential, ship only public values (the Supabase anon key, a Sentry "
                f"DSN) in {var.key}, and keep the secret in a sensitive server-side variable")


POLICIES = [
    resource_policy(
        "vercel-secret-env-sensitive",
        "Vercel environment variables that hold secrets (secret-looking names or secret-shaped values) are sensitive.",
        check_vercel_sensitive, "Set sensitive=True so the value cannot be read back through the API or dashboard."),
    resource_policy(
        "vercel-secret-env-not-development",
        "Vercel environment variables that hold secrets do not target the development environment.",
        check_vercel_not_development, "Target only preview and production; developers use their own keys locally."),
    resource_policy(
        "vercel-public-env-no-secrets",
        "NEXT_PUBLIC_ Vercel variables, shipped to every browser, have neither secret-looking names nor "
        "secret-shaped values.",
        check_vercel_public, "Rename without NEXT_PUBLIC_, mark sensitive and use it on the server only."),
]
