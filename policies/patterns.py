"""What a secret looks like: secret-shaped values (known token formats) and secret-looking names.

Shared by the policy pack (`policies/secret_hygiene.py`), which judges resource inputs, and by
the repository check (`tools/repo_check.py`), which judges committed files. Neither can tell
whether a value was a Pulumi secret (pulumi/pulumi-policy#241), so both judge by shape:

- `find_secret_values(text)` finds known credential formats inside any string (a JWT that is not
  Supabase's public anon key, Supabase secret and access keys, AWS access key ids, PEM private
  keys, Stripe, Slack, GitHub, OpenAI, Google, Sentry, Pulumi and npm tokens, SendGrid keys, Slack
  webhooks, PagerDuty integration URLs, and URLs that embed a password). Placeholders
  (`<password>`, `changeme`, `${VAR}`...) and documented example keys do not count.
- `looks_secret_name(name)` says whether a variable or key name announces a secret
  (`STRIPE_SECRET_KEY`, `PGPASSWORD`, `clientSecret`), while names of references to secrets
  (`KMS_KEY_ID`, `SECRET_ARN`, `TOKEN_URL`) and public keys (`NEXT_PUBLIC_SUPABASE_ANON_KEY`) do not.

Every pattern is written so that this file does not match itself: the repository check scans it too.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

# --- secret-shaped values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretMatch:
    """One secret-shaped value inside a string: what kind it is and where (for redaction)."""

    kind: str
    start: int
    end: int


# (kind, pattern). Token bodies are long enough that ordinary words and identifiers never match.
TOKEN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("PEM private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("Supabase secret key", re.compile(r"\bsb_secret_[A-Za-z0-9_-]{16,}")),
    ("Supabase access token", re.compile(r"\bsbp_[A-Za-z0-9_]{32,}")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b")),
    ("Stripe secret key", re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}")),
    ("Stripe webhook signing secret", re.compile(r"\bwhsec_[A-Za-z0-9+/=]{24,}")),
    ("Slack token", re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]{10,}")),
    ("Slack app token", re.compile(r"\bxapp-\d-[A-Za-z0-9-]{10,}")),
    ("Slack webhook URL", re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/]{20,}")),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}")),
    ("GitHub fine-grained token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}")),
    ("OpenAI or Anthropic API key", re.compile(r"\bsk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_-]{32,}")),
    ("Google API key", re.compile(r"\bAIza[A-Za-z0-9_-]{35}\b")),
    ("Sentry auth token", re.compile(r"\bsntry[su]_[A-Za-z0-9+/=_-]{32,}")),
    ("Pulumi access token", re.compile(r"\bpul-[a-f0-9]{40}\b")),
    ("npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
    ("SendGrid API key", re.compile(r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}")),
    ("AWS secret access key", re.compile(
        r"(?i)\b(?:aws_?)?secret_?access_?key\b['\"]?\s*[:=]\s*['\"]?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])")),
    ("PagerDuty integration URL", re.compile(
        r"https://events\.pagerduty\.com/(?:integration|x-ere)/[A-Za-z0-9]{20,}(?:/enqueue)?")),
)
JWT_PATTERN = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.(eyJ[A-Za-z0-9_-]{8,})\.[A-Za-z0-9_-]{8,}")
# scheme://user:password@host - the password group is judged separately (placeholders are fine).
URL_PASSWORD_PATTERN = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"]*:(?P<password>[^\s@/'\"]+)@[^\s'\"]")

# Whole values (or URL passwords) that stand for a value rather than being one.
PLACEHOLDER_PATTERN = re.compile(
    r"""^(?:
        | <[^<>]*>                              # <set-me>, <password>
        | \$\{[^}]*\} | \$[A-Z_][A-Z0-9_]*      # ${VAR}, $VAR
        | \{\{[^}]*\}\}                         # {{ template }}
        | x{3,} | \*{3,} | \.{3}                # xxx, ***, ...
        | change[-_ ]?me | set[-_ ]?me | replace[-_ ]?me | todo | tbd
        | example | placeholder | redacted | dummy | none | null | empty
        | your[-_ ][a-z0-9_ -]* | my[-_ ][a-z0-9_ -]*
        | pass | password | passwd | pwd | secret | user | username
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
TEMPLATE_STARTS = ("$", "{", "%", "<")
# AWS documents its example keys with EXAMPLE in them; treat any token that says so as an example.
EXAMPLE_MARKER = re.compile(r"EXAMPLE", re.IGNORECASE)


def is_placeholder(value: str) -> bool:
    """True for a value that stands in for a real one: empty, `<...>`, `${VAR}`, `changeme`, `xxx`..."""
    return bool(PLACEHOLDER_PATTERN.match(value.strip()))


def is_arn(value: str) -> bool:
    """ARNs name resources; they are never secrets themselves."""
    return value.startswith("arn:") and value.count(":") >= 5


def jwt_claims(token: str) -> dict | None:
    """The JSON payload of a JWT-shaped string, or None when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def _jwt_matches(text: str) -> list[SecretMatch]:
    """JWTs are bearer credentials, except Supabase's anon key, which every browser receives."""
    found = []
    for match in JWT_PATTERN.finditer(text):
        claims = jwt_claims(match.group(0))
        if claims is None or claims.get("role") == "anon":
            continue
        kind = "Supabase service_role JWT" if claims.get("role") == "service_role" else "JWT"
        found.append(SecretMatch(kind, match.start(), match.end()))
    return found


def _url_password_matches(text: str) -> list[SecretMatch]:
    found = []
    for match in URL_PASSWORD_PATTERN.finditer(text):
        password = match.group("password")
        if is_placeholder(password) or password.startswith(TEMPLATE_STARTS) or "<" in password:
            continue  # a placeholder, or a template in code (`{password}`, `%s`, `${PGPASSWORD}`)
        found.append(SecretMatch("URL with an embedded password", match.start("password"), match.end("password")))
    return found


def find_secret_values(text: str) -> list[SecretMatch]:
    """Every secret-shaped value inside `text`, in order. Placeholders and documented examples are skipped."""
    if not text or is_placeholder(text):
        return []
    found = [*_jwt_matches(text), *_url_password_matches(text)]
    for kind, pattern in TOKEN_PATTERNS:
        for match in pattern.finditer(text):
            if not EXAMPLE_MARKER.search(match.group(0)):
                found.append(SecretMatch(kind, match.start(), match.end()))
    return sorted(found, key=lambda m: (m.start, m.end))


def secret_kind(text: str) -> str | None:
    """The kind of the first secret-shaped value in `text`, or None."""
    found = find_secret_values(text)
    return found[0].kind if found else None


def redact(text: str, matches: list[SecretMatch] | None = None) -> str:
    """`text` with every secret-shaped value replaced by `[REDACTED <kind>]`, for messages and logs."""
    matches = find_secret_values(text) if matches is None else matches
    pieces, position = [], 0
    for match in sorted(matches, key=lambda m: m.start):
        if match.start < position:
            continue  # overlapping matches: the first one already covers it
        pieces.extend([text[position:match.start], f"[REDACTED {match.kind}]"])
        position = match.end
    pieces.append(text[position:])
    return "".join(pieces)


# --- secret-looking names ---------------------------------------------------------------------------------

# A word that is, or ends with, one of these announces a secret (PGPASSWORD, CLIENTSECRET, APITOKEN).
SECRET_WORD_SUFFIXES = ("SECRET", "SECRETS", "TOKEN", "PASSWORD", "PASSWORDS", "PASSWD", "PASSPHRASE",
                        "CREDENTIAL", "CREDENTIALS", "APIKEY", "PRIVATEKEY")
# A name ending with one of these names a reference to a secret, not the secret: KMS_KEY_ID, SECRET_ARN,
# TOKEN_URL (an endpoint; a URL that embeds a password is caught by its value instead).
REFERENCE_SUFFIXES = frozenset({"ARN", "ARNS", "ID", "IDS", "NAME", "NAMES", "PATH", "FILE", "DIR", "URL", "URI",
                                "ENDPOINT", "HOST", "PORT", "REF", "VERSION", "ALIAS", "REGION", "TYPE", "KIND",
                                "TTL", "LENGTH", "ENABLED", "MANAGER", "STORE", "ROTATION", "FORMAT", "PREFIX",
                                "COUNT", "MOUNT", "HEADER", "EXPIRY", "ISSUER", "AUDIENCE", "SCOPE", "SCOPES"})
# KEY is a secret unless qualified as public or as a data-structure / key-management key.
NON_SECRET_KEY_QUALIFIERS = frozenset({"PUBLIC", "ANON", "PUBLISHABLE", "PARTITION", "SORT", "PRIMARY", "CACHE",
                                       "OBJECT", "KMS", "S3", "IDEMPOTENCY", "FOREIGN", "HASH", "RANGE", "DEDUP",
                                       "DEDUPLICATION", "LOOKUP", "MAP", "GROUP", "ORDER"})
# PRIVATE announces a secret except in network vocabulary (PRIVATE_SUBNETS, PRIVATE_DNS).
PRIVATE_NETWORK_WORDS = frozenset({"SUBNET", "SUBNETS", "IP", "IPS", "DNS", "ENDPOINT", "NETWORK", "ZONE", "CIDR",
                                   "CIDRS", "LINK", "ACCESS", "REGISTRY", "REPO", "REPOSITORY", "BUCKET", "CLUSTER",
                                   "NODE", "NODES", "ROUTE", "ROUTES"})
# Publicly shipped keys that look like secrets by name.
PUBLIC_NAMES = frozenset({"NEXT_PUBLIC_SUPABASE_ANON_KEY", "SUPABASE_ANON_KEY", "NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY",
                          "SUPABASE_PUBLISHABLE_KEY"})
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def name_words(name: str) -> list[str]:
    """`stripeSecretKey`, `STRIPE_SECRET_KEY`, `stripe-secret.key` -> ['STRIPE', 'SECRET', 'KEY']."""
    spaced = _CAMEL_BOUNDARY.sub("_", name)
    return [word.upper() for word in re.split(r"[^A-Za-z0-9]+", spaced) if word]


def _announces_secret(words: list[str]) -> bool:
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else None
        if word.endswith(SECRET_WORD_SUFFIXES):
            return True
        if word == "PRIVATE" and following not in PRIVATE_NETWORK_WORDS:
            return True
        if word == "SERVICE" and following == "ROLE":
            return True
        if word in ("AUTH", "BASICAUTH") and following is None:
            return True
        if word in ("KEY", "KEYS") and following is None and (
                index == 0 or words[index - 1] not in NON_SECRET_KEY_QUALIFIERS):
            return True
    return False


def looks_secret_name(name: str) -> bool:
    """Whether a variable or key name announces a secret (whole words, any case style).

    DSN is not judged by name: a Sentry DSN is public, and a DSN with credentials is caught by
    its value (`URL with an embedded password`).
    """
    if name.upper() in PUBLIC_NAMES:
        return False
    words = name_words(name)
    if not words or words[-1] in REFERENCE_SUFFIXES:
        return False
    return _announces_secret(words)
