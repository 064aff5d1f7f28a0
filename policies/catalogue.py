"""The one catalogue of secret names and token shapes: the policy pack, `tools/repo_check.py` and settings use it.

A leaf module (standard library and detect-secrets only) with a small API:

- `is_secret_name(name)`: does a variable or key name announce a secret? `DB_PASS`, `MYSQL_PWD`,
  `GITHUB_PAT`, `GOOGLE_CREDENTIALS`, `adminPassword`, `routing_key` do; `KMS_KEY_ID`, `TOKEN_URL`,
  `OPENAI_TOKEN_LIMIT`, `KEY_ROTATION_DAYS`, `PASSWORD_POLICY`, `PRIVATE_BETA` do not.
- `is_public_by_design(name, value=None)`: a key made for the browser (`NEXT_PUBLIC_*` publishable, site and
  analytics keys: Stripe `pk_live_`, reCAPTCHA site keys, PostHog project keys, Supabase `sb_publishable_` and
  anon JWTs). A value that is itself secret-shaped is never public, whatever its name.
- `find_secret_values(text)`: every secret-shaped value inside a string, as `Finding(kind, start, end)`. The
  finding never holds the value; `redact(text)` replaces each by `[REDACTED <kind>]`.
- `looks_like_secret_value(value)`: a token shape, or a single high-entropy token (detect-secrets' Shannon
  entropy) that is not a URL, path, ARN, UUID or public key.

Token formats come from detect-secrets' maintained plugins (AWS, Stripe, GitHub, GitLab, Slack, OpenAI, npm,
PyPI, SendGrid, Twilio, Mailchimp, Discord, Telegram, Square, Azure, private keys) plus our own patterns for
what it lacks or gets wrong for us: Supabase service_role JWTs vs the public anon JWT (padding included),
`sb_secret_`/`sbp_`, Vercel, Sentry, PagerDuty, Pulumi tokens, credentials in URLs (placeholders allowed),
libpq keyword strings (`password=...`) and query strings (`?token=`). Every pattern is written so that this
file does not match itself: the repository check scans it too.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from functools import lru_cache

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

__all__ = ["Finding", "clear_cache", "find_secret_values", "is_placeholder", "is_public_by_design", "is_reference",
           "is_secret_name", "looks_like_secret_value", "name_words", "redact", "secret_kind"]


@dataclass(frozen=True)
class Finding:
    """One secret-shaped value inside a string: its kind and where it is (for redaction). Never the value."""

    kind: str
    start: int
    end: int


# --- names ------------------------------------------------------------------------------------------------

# A word that is, or ends with, one of these announces a secret (PGPASSWORD, CLIENTSECRET, APITOKEN).
SECRET_SUFFIXES = ("SECRET", "SECRETS", "TOKEN", "PASSWORD", "PASSWORDS", "PASSWD", "PASSPHRASE", "CREDENTIAL",
                   "CREDENTIALS", "APIKEY", "APIKEYS", "PRIVATEKEY", "CREDS")
# Whole words that announce a secret: DB_PASS, MYSQL_PWD, GITHUB_PAT, WIFI_PSK.
SECRET_WORDS = frozenset({"PASS", "PWD", "PW", "PAT", "PSK", "CREDS", "AUTHORIZATION", "COOKIE"})
# A name ending with one of these names a reference to, or a setting about, a secret: KMS_KEY_ID, SECRET_ARN,
# TOKEN_URL, OPENAI_TOKEN_LIMIT, KEY_ROTATION_DAYS, PASSWORD_POLICY.
NON_SECRET_SUFFIXES = frozenset({
    "ARN", "ARNS", "ID", "IDS", "NAME", "NAMES", "PATH", "FILE", "DIR", "URL", "URI", "ENDPOINT", "HOST", "PORT",
    "REF", "VERSION", "ALIAS", "REGION", "TYPE", "KIND", "TTL", "LENGTH", "ENABLED", "MANAGER", "STORE", "ROTATION",
    "FORMAT", "PREFIX", "COUNT", "MOUNT", "HEADER", "EXPIRY", "ISSUER", "AUDIENCE", "SCOPE", "SCOPES", "LIMIT",
    "LIMITS", "DAYS", "HOURS", "MINUTES", "SECONDS", "POLICY", "POLICIES", "MAX", "MIN", "SIZE", "BUDGET", "RULES",
    "AGE", "INTERVAL", "SCHEDULE", "REQUIRED", "DISABLED", "SELECTOR", "TEMPLATE", "HINT", "LABEL", "MODE",
    "ALGORITHM", "PROVIDER", "STRATEGY", "EXPIRES", "EXPIRATION", "DURATION", "RESET", "RESETS", "VALIDATION",
    "SPEC", "KEYRING"})
# KEY is a secret unless qualified as public or as a data-structure / key-management key.
NON_SECRET_KEY_QUALIFIERS = frozenset({
    "PUBLIC", "ANON", "PUBLISHABLE", "SITE", "PARTITION", "SORT", "PRIMARY", "CACHE", "OBJECT", "KMS", "S3",
    "IDEMPOTENCY", "FOREIGN", "HASH", "RANGE", "DEDUP", "DEDUPLICATION", "LOOKUP", "MAP", "GROUP", "ORDER", "SSH",
    "PUB", "TOPOLOGY", "LABEL", "SELECTOR", "REGISTRY", "NODE", "MATCH", "HOTKEY", "SHORTCUT"})
# Qualifiers before SECRET/TOKEN that make the name a reference in Helm/Kubernetes vocabulary (existingSecret).
REFERENCE_QUALIFIERS = frozenset({"EXISTING", "USE", "CREATE", "MOUNT", "AUTOMOUNT", "FROM"})
# PRIVATE announces a secret only as a key: PRIVATE_KEY, privateKeyPem; PRIVATE_BETA, PRIVATE_SUBNETS do not.
PRIVATE_SECRET_FOLLOWERS = frozenset({None, "KEY", "KEYS", "PEM", "CERT"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def name_words(name: str) -> list[str]:
    """`stripeSecretKey`, `STRIPE_SECRET_KEY`, `stripe-secret.key` -> ['STRIPE', 'SECRET', 'KEY']."""
    return [word.upper() for word in re.split(r"[^A-Za-z0-9]+", _CAMEL.sub("_", name)) if word]


def _secret_word_at(words: list[str], index: int, bare_key: bool) -> bool:
    word = words[index]
    before = words[index - 1] if index else None
    after = words[index + 1] if index + 1 < len(words) else None
    if word.endswith(SECRET_SUFFIXES) or word in SECRET_WORDS:
        return not (word in ("SECRET", "SECRETS") and before in REFERENCE_QUALIFIERS)
    if word == "PRIVATE":
        return after in PRIVATE_SECRET_FOLLOWERS
    if word == "SERVICE" and after == "ROLE":
        return True
    if word in ("AUTH", "BASICAUTH") and after is None:
        return True
    if word in ("KEY", "KEYS") and after is None:
        if before in ("API", "ACCESS", "SECRET", "MASTER", "ADMIN", "SIGNING", "ENCRYPTION", "PRIVATE", "ROUTING",
                      "INTEGRATION", "LICENSE", "WRITE", "SERVICE", "ROLE"):
            return True
        # a lone `key` names something (an S3 object's `Key=`, a map's `key:`), not a credential
        return bare_key and before is not None and before not in NON_SECRET_KEY_QUALIFIERS
    return False


def _announces_secret(name: str, bare_key: bool = True) -> bool:
    words = name_words(name)
    if not words or words[-1] in NON_SECRET_SUFFIXES:
        return False
    return any(_secret_word_at(words, i, bare_key) for i in range(len(words)))


def is_secret_name(name: str) -> bool:
    """Whether a variable or key name announces a secret (whole words, any case style, any separator).

    DSN is not judged by name: a Sentry DSN is public, and a DSN with credentials is caught by its value.
    """
    return _announces_secret(name)


# --- public by design ---------------------------------------------------------------------------------------

BROWSER_PREFIXES = ("NEXT_PUBLIC_", "NUXT_PUBLIC_", "VITE_", "EXPO_PUBLIC_", "REACT_APP_", "GATSBY_", "PUBLIC_")
PUBLIC_NAMES = frozenset({"SUPABASE_ANON_KEY", "SUPABASE_PUBLISHABLE_KEY", "STRIPE_PUBLISHABLE_KEY",
                          "RECAPTCHA_SITE_KEY", "POSTHOG_KEY", "POSTHOG_PROJECT_API_KEY", "POSTHOG_API_KEY"})
PUBLIC_VALUE_SHAPES: tuple[re.Pattern[str], ...] = (
    re.compile(r"pk_(?:live|test)_[A-Za-z0-9]{16,}"),          # Stripe publishable key
    re.compile(r"6L[A-Za-z0-9_-]{38}"),                         # reCAPTCHA site key
    re.compile(r"phc_[A-Za-z0-9]{32,}"),                        # PostHog project key
    re.compile(r"sb_publishable_[A-Za-z0-9_-]{16,}"),           # Supabase publishable key
    re.compile(r"https://[0-9a-f]{32}@[a-z0-9.-]+\.sentry\.io/\d+"),  # Sentry DSN
)


def _without_browser_prefix(name: str) -> str | None:
    upper = name.upper()
    return next((upper[len(p):] for p in BROWSER_PREFIXES if upper.startswith(p)), None)


def is_public_by_design(name: str, value: str | None = None) -> bool:
    """A key made to be shipped to browsers: a browser-prefixed name without a secret word beyond a bare KEY,
    a known publishable name, or a value of a publishable shape. A secret-shaped value is never public."""
    if value is not None and find_secret_values(value):
        return False
    if value is not None and (any(p.fullmatch(value.strip()) for p in PUBLIC_VALUE_SHAPES)
                              or _jwt_role(value.strip()) == "anon"):
        return True
    bare = _without_browser_prefix(name)
    if name.upper() in PUBLIC_NAMES or (bare is not None and bare in PUBLIC_NAMES):
        return True
    return bare is not None and not _announces_secret(bare, bare_key=False)


# --- values -------------------------------------------------------------------------------------------------

PLACEHOLDER = re.compile(
    r"""^(?:
        | <[^<>]*> | \$\{[^}]*\} | \$[A-Z_][A-Z0-9_]* | \{\{[^}]*\}\} | %\([a-z_]+\)s | %s
        | x{3,} | \*{3,} | \.{3} | -{1,3} | n/?a | tbd | todo | none | null | nil | empty | redacted | dummy
        | change[-_ ]?me | set[-_ ]?me | replace[-_ ]?me | example | placeholder | test | secret
        | your[-_ ][a-z0-9_ -]* | my[-_ ][a-z0-9_ -]* | pass | password | passwd | pwd | user | username | token
    )$""", re.IGNORECASE | re.VERBOSE)
TEMPLATE_STARTS = ("$", "{", "%", "<", "(", "[")
EXAMPLE_MARKER = re.compile(r"EXAMPLE", re.IGNORECASE)  # AWS documents its example keys with EXAMPLE in them
PULUMI_CONFIG_KEY = re.compile(r"[a-z][a-z0-9-]*:[a-z][A-Za-z0-9]*(\.[A-Za-z0-9_]+)*")
ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:.+$")


def is_placeholder(value: str) -> bool:
    """True for a value that stands in for a real one: empty, `<...>`, `${VAR}`, `changeme`, `xxx`, `n/a`..."""
    return bool(PLACEHOLDER.match(value.strip()))


def is_reference(value: str) -> bool:
    """A value that points at a secret instead of being one: an ARN (Secrets Manager, SSM), an SSM parameter
    reference (`{{resolve:secretsmanager:...}}`, `ssm:/...`), a file path under /run or /var/run/secrets."""
    text = value.strip()
    if PULUMI_CONFIG_KEY.fullmatch(text):  # names where the value comes from (`kingtavo:sentryAuthToken`)
        return True
    return bool(ARN.match(text)) or text.startswith(("{{resolve:", "ssm:/", "secretsmanager:", "/run/secrets/",
                                                     "/var/run/secrets/", "/etc/secrets/", "vault:"))


_DETECT_SECRETS = (
    ("AWS access key id", AWSKeyDetector()), ("PEM private key", PrivateKeyDetector()),
    ("Stripe secret key", StripeDetector()), ("Slack token", SlackDetector()), ("GitHub token", GitHubTokenDetector()),
    ("GitLab token", GitLabTokenDetector()), ("OpenAI API key", OpenAIDetector()), ("npm token", NpmDetector()),
    ("PyPI token", PypiTokenDetector()), ("SendGrid API key", SendGridDetector()),
    ("Twilio API key", TwilioKeyDetector()), ("Mailchimp API key", MailchimpDetector()),
    ("Discord bot token", DiscordBotTokenDetector()), ("Telegram bot token", TelegramBotTokenDetector()),
    ("Square OAuth secret", SquareOAuthDetector()), ("Azure storage account key", AzureStorageKeyDetector()),
)
OWN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("PEM private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("Supabase secret key", re.compile(r"\bsb_secret_[A-Za-z0-9_-]{16,}")),
    ("Supabase access token", re.compile(r"\bsbp_[A-Za-z0-9_]{32,}")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b")),
    ("Stripe secret key", re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}")),
    ("Stripe webhook signing secret", re.compile(r"\bwhsec_[A-Za-z0-9+/=]{24,}")),
    ("Slack webhook URL", re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/]{20,}")),
    ("Slack token", re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]{10,}")),
    ("Slack app token", re.compile(r"\bxapp-\d-[A-Za-z0-9-]{10,}")),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}")),
    ("GitHub fine-grained token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}")),
    ("OpenAI or Anthropic API key", re.compile(r"\bsk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_-]{32,}")),
    ("Google API key", re.compile(r"\bAIza[A-Za-z0-9_-]{35}\b")),
    ("Sentry auth token", re.compile(r"\bsntry[su]_[A-Za-z0-9+/=_-]{32,}")),
    ("Sentry auth token", re.compile(r"(?i)\bsentry[_-]?auth[_-]?token\b['\"]?\s*[:=]\s*['\"]?[a-f0-9]{64}\b")),
    ("Vercel token", re.compile(r"\b(?:vercel|vc)[_-]?(?:api[_-]?)?token\b['\"]?\s*[:=]\s*['\"]?[A-Za-z0-9]{24}\b",
                                re.IGNORECASE)),
    ("Pulumi access token", re.compile(r"\bpul-[a-f0-9]{40}\b")),
    ("npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
    ("SendGrid API key", re.compile(r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}")),
    ("AWS secret access key", re.compile(
        r"(?i)\b(?:aws_?)?secret_?access_?key\b['\"]?\s*[:=]\s*['\"]?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])")),
    ("PagerDuty integration URL", re.compile(
        r"https://events\.(?:eu\.)?pagerduty\.com/(?:integration|x-ere)/[A-Za-z0-9]{20,}(?:/enqueue)?")),
    ("PagerDuty routing key", re.compile(r"(?i)\b(?:routing|integration|service)_?key\b['\"]?\s*[:=]\s*['\"]?"
                                         r"[A-Za-z0-9]{32}\b")),
)
JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}={0,2}\.(eyJ[A-Za-z0-9_-]{8,}={0,2})\.[A-Za-z0-9_-]{8,}={0,2}")
URL_PASSWORD = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"?#]*:(?P<password>[^\s@/'\"?#]+)@[^\s'\"]")
# libpq keyword strings, query strings, CLI flags and properties: password=..., ?token=..., --api-key=...
ASSIGNMENT = re.compile(r"(?:^|(?<=[\s?&;,\"'(]))-{0,2}(?P<key>[A-Za-z][A-Za-z0-9_.-]{1,60})(?:=|: )(?![/=])"
                        r"(?P<value>'[^']*'|\"[^\"]*\"|[^\s&;,'\"()\[\]{}?#:`\\]+)(?![(\[:`\\])")
FAKE_PREFIXES = ("fake", "dummy", "example", "test-", "test_", "not-", "sample")


def _jwt_role(token: str) -> str | None:
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].startswith("eyJ"):
        return None
    payload = parts[1].rstrip("=")
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    return str(claims.get("role", "")) if isinstance(claims, dict) else None


def _credential_value(value: str) -> bool:
    """A literal credential rather than a placeholder, a template, a reference or a code identifier."""
    value = value.strip("'\"")
    if (len(value) < 6 or is_placeholder(value) or value.startswith(TEMPLATE_STARTS) or "<" in value or "(" in value
            or value.lower().startswith(FAKE_PREFIXES)):
        return False
    # `password=password_from_env` in code is an identifier; a literal credential has digits or symbols
    identifier = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", value) and not re.search(r"\d", value)
    return not (is_reference(value) or identifier)


ARN_PREFIX = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d*$")


def _inside_arn(text: str, start: int) -> bool:
    """`arn:aws:sns:eu-central-1:111122223333:topic` is an address: its `account:name` tail only looks like a
    Telegram bot token (digits, a colon, 30-odd characters)."""
    return bool(ARN_PREFIX.search(text[max(0, start - 80):start]))


@lru_cache(maxsize=16384)
def _find(text: str) -> tuple[Finding, ...]:
    found: list[Finding] = []
    for match in JWT.finditer(text):
        role = _jwt_role(match.group(0))
        if role is not None and role != "anon":
            found.append(Finding("Supabase service_role JWT" if role == "service_role" else "JWT",
                                 match.start(), match.end()))
    for match in URL_PASSWORD.finditer(text):
        password = match.group("password")
        if not (is_placeholder(password) or password.startswith(TEMPLATE_STARTS) or "<" in password):
            found.append(Finding("URL with an embedded password", match.start("password"), match.end("password")))
    for kind, pattern in OWN_PATTERNS:
        found.extend(Finding(kind, m.start(), m.end()) for m in pattern.finditer(text)
                     if not EXAMPLE_MARKER.search(m.group(0)))
    for kind, plugin in _DETECT_SECRETS:
        for secret in plugin.analyze_string(text):
            start = text.find(secret)
            if start >= 0 and not EXAMPLE_MARKER.search(secret) and not _inside_arn(text, start):
                found.append(Finding(kind, start, start + len(secret)))
    for match in ASSIGNMENT.finditer(text):
        key = match.group("key").rsplit(".", 1)[-1]
        if is_secret_name(key) and not is_public_by_design(key) and _credential_value(match.group("value")):
            found.append(Finding(f"credential in `{key}=`", match.start("value"), match.end("value")))
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start, -f.end)):
        if not any(k.start <= finding.start and finding.end <= k.end for k in kept):
            kept.append(finding)  # the widest finding at a position wins; nested ones add nothing
    return tuple(kept)


def find_secret_values(text: str) -> list[Finding]:
    """Every secret-shaped value inside `text`, in order. Placeholders and documented examples are skipped."""
    if not isinstance(text, str) or not text or is_placeholder(text):
        return []
    return list(_find(text))


def clear_cache() -> None:
    """Forget memoised findings (benchmarks time a cold pass)."""
    _find.cache_clear()


def secret_kind(text: str) -> str | None:
    """The kind of the first secret-shaped value in `text`, or None."""
    found = find_secret_values(text)
    return found[0].kind if found else None


def redact(text: str, findings: list[Finding] | None = None) -> str:
    """`text` with every secret-shaped value replaced by `[REDACTED <kind>]`, for messages and logs."""
    findings = find_secret_values(text) if findings is None else findings
    pieces, position = [], 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start < position:
            continue
        pieces.extend([text[position:finding.start], f"[REDACTED {finding.kind}]"])
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces)


_ENTROPY = Base64HighEntropyString()
NOT_A_TOKEN = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|/|arn:|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-|sha256:)", re.I)


def looks_like_secret_value(value: str) -> bool:
    """A known token shape, or one high-entropy token (letters and digits, 20+ characters, entropy above 4.0)."""
    if not isinstance(value, str) or is_placeholder(value):
        return False
    if find_secret_values(value):
        return True
    text = value.strip()
    if (len(text) < 20 or re.search(r"\s", text) or NOT_A_TOKEN.match(text) or is_reference(text)
            or is_public_by_design("", text) or not (re.search(r"\d", text) and re.search(r"[A-Za-z]", text))):
        return False
    return _ENTROPY.calculate_shannon_entropy(text) > 4.0
