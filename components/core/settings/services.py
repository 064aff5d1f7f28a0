"""The service planes' settings: the Vercel frontend, Supabase, alerting, Sentry, log collection.

Like `planes.py`: one model per object-typed config key, each field described for `Pulumi.yaml`.
Names and values that look like secrets are judged by the shared catalogue (`secret_names.py`).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from components.core import reserved
from components.core.settings.errors import keyed
from components.core.settings.fields import (
    ENV_NAME,
    Cidr,
    EnvName,
    GitRef,
    Hostname,
    HttpsUrl,
    Ipv6Cidr,
    Number,
    Unique,
    matching,
)
from components.core.settings.planes import Plane
from components.core.settings.secret_names import looks_like_secret_value, looks_secret

RelativePath = Annotated[str, matching(r"^(?!/)(?!.*(^|/)\.\.(/|$))[A-Za-z0-9._/-]+$",
                                       "a relative folder inside the repository, such as 'apps/web'")]


class FrontendColorRelease(Plane):
    """One color's release of the web app."""

    ref: GitRef = Field(description="the Git ref (branch, tag or commit SHA) this color builds")


def vercel_name_conflicts(name: str) -> list[str]:
    """Why a variable name may not be set by settings: the program or Vercel sets it."""
    if name in reserved.PROGRAM_SET_VARIABLES:
        return [f"is set by the program from {reserved.PROGRAM_SET_VARIABLES[name]}"]
    if name in reserved.VERCEL_RESERVED_NAMES or name.startswith(reserved.VERCEL_RESERVED_PREFIXES):
        return ["is reserved by Vercel (its runtime or system variables)"]
    return []


VercelProjectRole = Literal["ADMIN", "PROJECT_DEVELOPER", "PROJECT_VIEWER"]


class VercelMember(Plane):
    """One person on the Vercel team, by Vercel user id (never an email): a Contributor with one project role."""

    user_id: str = Field(pattern=r"^[A-Za-z0-9]{20,32}$",
                         description="the person's Vercel user id (Account Settings > General > Vercel ID)")
    label: str = Field(pattern=r"^[a-z][a-z0-9-]{0,38}$",
                       description="a short lower-case handle for resource names and plans (not an email)")
    project_role: VercelProjectRole = Field(
        "PROJECT_VIEWER", description="role on the web app's project: ADMIN (operators: may read and change "
        "production variables), PROJECT_DEVELOPER (preview and development only) or PROJECT_VIEWER")
    on_call: bool = Field(False, description="member of the on-call access group")


class FrontendSettings(Plane):
    """The Vercel project of the Next.js app, its variables for this stack's target, blue/green aliases."""

    project_name: str = Field("kingtavo-web", pattern=r"^[a-z0-9][a-z0-9-]{0,99}$", description="the Vercel project")
    git_repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", description="owner/repo on GitHub")
    production_branch: GitRef = Field("main", description="the repository's production branch")
    root_directory: RelativePath | None = Field(None, description="the app's folder inside the repository "
                                                "(relative, no ..)")
    node_version: Literal["18.x", "20.x", "22.x", "24.x"] = Field("22.x", description="Node.js version of builds")
    skew_protection: Literal["30 minutes", "4 hours", "12 hours", "1 day", "7 days"] = Field(
        "12 hours", description="how long old deployments keep serving their clients")
    domain: Hostname = Field(description="the live alias")
    idle_domain: Hostname = Field(description="the idle color's alias (must differ from domain)")
    blue: FrontendColorRelease = Field(description="the blue color's release (Git ref)")
    green: FrontendColorRelease = Field(description="the green color's release (Git ref)")
    public_env: dict[str, str] = Field(default_factory=dict, description="NAME: value shipped to every browser; no "
                                       "name or value that looks like a secret")
    server_secret_names: Annotated[list[EnvName], Unique] = Field(
        default_factory=list, description="names of the server-side secrets in frontendServerSecrets, each once; "
        "never NEXT_PUBLIC_")
    web_analytics: bool = Field(True, description="Vercel Web Analytics on the project (the stack that owns it)")
    speed_insights: bool = Field(True, description="Vercel Speed Insights on the project (billed on Pro)")
    team_members: list[VercelMember] = Field(
        default_factory=list, description="people on the Vercel team, each a Contributor with one project role; "
        "declared by the stack that owns the project only")
    on_call_group: str = Field("on-call", pattern=r"^[a-z][a-z0-9-]{0,38}$",
                               description="name of the Vercel access group of the on-call people")
    on_call_project_role: VercelProjectRole = Field(
        "PROJECT_VIEWER", description="the on-call access group's role on the project")

    @model_validator(mode="after")
    def _env_names(self) -> FrontendSettings:
        problems = []
        for name, value in self.public_env.items():
            if not ENV_NAME.match(name):
                problems.append(f"publicEnv.{name}: not an UPPER_SNAKE_CASE variable name")
                continue
            if looks_secret(name, value):
                problems.append(f"publicEnv.{name}: looks like a secret; public values are shipped to every "
                                f"browser, so put it in serverSecretNames and its value in secret config")
            elif looks_like_secret_value(value):
                problems.append(f"publicEnv.{name}: its value looks like a credential; public values are shipped to "
                                f"every browser and committed in git: revoke it, put the name in serverSecretNames and "
                                f"the value in secret config")
            problems.extend(f"publicEnv.{name}: {why}; remove it here" for why in vercel_name_conflicts(name))
        for name in self.server_secret_names:
            problems.extend(f"serverSecretNames: {name} {why}; remove it here" for why in vercel_name_conflicts(name))
        for name in sorted(set(self.public_env) & set(self.server_secret_names)):
            problems.append(f"serverSecretNames: {name} is also in publicEnv; a variable is public or secret, not both")
        for name in self.server_secret_names:
            if name.startswith("NEXT_PUBLIC_"):
                problems.append(f"serverSecretNames: {name} starts with NEXT_PUBLIC_ and would be shipped to every "
                                f"browser; a server-side secret must not be NEXT_PUBLIC_")
        if self.domain == self.idle_domain:
            problems.append(f"idleDomain: must differ from domain ({self.domain!r})")
        for attribute, key in (("user_id", "userId"), ("label", "label")):
            values = [getattr(member, attribute) for member in self.team_members]
            problems += [f"teamMembers: {key} {value!r} is listed more than once"
                         for value in sorted({v for v in values if values.count(v) > 1})]
        keyed(problems)
        return self

    def release(self, color: str) -> FrontendColorRelease:
        return self.blue if color == "blue" else self.green


# A project's direct database host; the pooler's hosts (`*.pooler.supabase.com`) are shared by projects.
DIRECT_DATABASE_HOST = re.compile(r"^db\.(?P<ref>[a-z]{20})\.supabase\.co$")
# Where the Supabase Management API may be: the access token and every Edge Function secret are sent there.
SUPABASE_API_URLS = ("https://api.supabase.com",)


def jwt_claims(token: str) -> dict | None:
    """The payload of a JWT (base64url, padded or not), or None if the token is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    body = parts[1].rstrip("=")
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def anon_key_problems(key: str, project_ref: str) -> list[str]:
    """The anon key is public by design; a service_role key or a secret key in its place is a leak."""
    if key.startswith("sb_secret_"):
        return ["is a Supabase secret key (sb_secret_...), not the publishable key; revoke it and use the "
                "sb_publishable_ key or the anon JWT"]
    if key.startswith("sb_publishable_"):
        return []
    claims = jwt_claims(key)
    if claims is None:
        return ["is not a Supabase anon key (an sb_publishable_ key or a JWT with role anon)"]
    if claims.get("role") != "anon":
        return [f"is a JWT with role {claims.get('role')!r}, not 'anon'; it would be shipped to every browser: "
                f"revoke it and use the anon key"]
    if "ref" in claims and claims["ref"] != project_ref:
        return [f"is the anon key of project {claims['ref']!r}, not projectRef {project_ref!r}"]
    return []


class QueryLoggingSettings(Plane):
    """Slow-query logging for the roles that connect directly (Supabase documents it per role); off by default."""

    min_duration_ms: int = Field(-1, ge=-1, le=3_600_000, description="log_min_duration_statement in "
                                 "milliseconds for the listed roles: statements at least this slow are logged "
                                 "with their text; -1 is off")
    explain_min_duration_ms: int = Field(-1, ge=-1, le=3_600_000, description="auto_explain.log_min_duration in "
                                         "milliseconds: also log the plans of such statements; -1 is off")
    roles: list[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]] = Field(
        default_factory=lambda: ["postgres"], min_length=1, description="database roles the settings apply to")


class SupabaseSettings(Plane):
    """The Supabase project: its API, the Edge Function secrets and where the database is reached."""

    project_ref: str = Field(pattern=r"^[a-z]{20}$", description="the project's ref (20 lower-case letters)")
    url: HttpsUrl = Field(description="the project's URL, exactly https://<projectRef>.supabase.co")
    anon_key: str = Field(min_length=1, description="the public anon key (sb_publishable_... or the anon JWT; never "
                          "the service_role key)")
    edge_function_secret_names: Annotated[list[EnvName], Unique] = Field(
        default_factory=list, description="names of the Edge Function secrets in edgeFunctionSecrets, each once; "
        "never SUPABASE_*")
    api_url: HttpsUrl = Field("https://api.supabase.com", description="the Management API (only "
                              f"{', '.join(SUPABASE_API_URLS)})")
    # The VPC is IPv4 and `db.<ref>.supabase.co` is IPv6-only, so by default the ETL, the dump job and the
    # rotation reach the database through Supabase's pooler (session mode), as `<role>.<projectRef>`.
    region: str = Field(pattern=r"^[a-z]{2}-[a-z]+-[0-9]$", description="the project's AWS region (its pooler's)")
    connection: Literal["pooler", "direct"] = Field(
        "pooler", description="pooler (Supavisor, session mode, IPv4) or direct (db.<ref>.supabase.co, IPv6)")
    database_host: Hostname | None = Field(None, description="overrides the host; default the region's pooler, "
                                           "aws-0-<region>.pooler.supabase.com (or the direct host)")
    database_port: int = Field(5432, ge=1, le=65535, description="the database port")
    database_name: str = Field("postgres", pattern=r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$", description="the database")
    pitr_retention_days: Literal[7, 14, 28] | None = Field(
        None, description="point-in-time recovery add-on retention in days (pitr_7/14/28; needs Pro and Small "
        "compute); null is no add-on. Required when backups.pointInTimeRecovery is true")
    ssl_enforcement: bool = Field(True, description="refuse non-TLS connections to Postgres and the pooler")
    restrict_network: bool = Field(True, description="allow Postgres and the pooler only from the VPC's NAT "
                                   "addresses and allowedCidrs / allowedCidrsV6")
    allowed_cidrs: list[Cidr] = Field(default_factory=list, description="CI's and operators' IPv4 CIDRs allowed "
                                      "to reach the database, besides the NAT gateways' addresses")
    allowed_cidrs_v6: list[Ipv6Cidr] = Field(default_factory=list, description="IPv6 CIDRs allowed to reach the "
                                             "database (needed for IPv6 clients without the IPv4 add-on)")
    query_logging: QueryLoggingSettings = Field(default_factory=QueryLoggingSettings,
                                                description="slow-query logging; off by default")
    vault_secret_names: Annotated[list[EnvName], Unique] = Field(
        default_factory=list, description="names of the Supabase Vault secrets for database functions; their "
        "values are in the secret vaultSecrets")

    @property
    def host(self) -> str:
        """The database host: `databaseHost` if set, else the pooler of the project's region (or the direct host)."""
        if self.database_host:
            return self.database_host
        if self.connection == "pooler":
            return f"aws-0-{self.region}.pooler.supabase.com"
        return f"db.{self.project_ref}.supabase.co"

    def login_user(self, role: str) -> str:
        """The user name to log in as `role`: the pooler needs `<role>.<projectRef>` (unless already given)."""
        if self.connection != "pooler" or role.endswith(f".{self.project_ref}"):
            return role
        return f"{role}.{self.project_ref}"

    @model_validator(mode="after")
    def _checks(self) -> SupabaseSettings:
        problems = [(f"edgeFunctionSecretNames: {name} starts with {reserved.SUPABASE_RESERVED_PREFIX}, a prefix "
                     f"Supabase reserves for its own secrets") for name in self.edge_function_secret_names
                    if name.startswith(reserved.SUPABASE_RESERVED_PREFIX)]
        expected_url = f"https://{self.project_ref}.supabase.co"
        if self.url.rstrip("/") != expected_url:
            problems.append(f"url: {self.url!r} is not projectRef's URL; expected {expected_url!r}")
        problems.extend(f"anonKey: {p}" for p in anon_key_problems(self.anon_key, self.project_ref))
        direct = DIRECT_DATABASE_HOST.match(self.database_host or "")
        if direct and direct["ref"] != self.project_ref:
            problems.append(f"databaseHost: {self.database_host!r} is project {direct['ref']!r}'s database, not "
                            f"projectRef {self.project_ref!r}'s")
        problems += [f"allowedCidrs: {cidr} allows every address; list CI's and the operators' ranges"
                     for cidr in self.allowed_cidrs if cidr == "0.0.0.0/0"]
        problems += [f"allowedCidrsV6: {cidr} allows every address; list the ranges that need access"
                     for cidr in self.allowed_cidrs_v6 if ipaddress.IPv6Network(cidr).prefixlen == 0]
        if self.api_url.rstrip("/") not in SUPABASE_API_URLS:
            problems.append(f"apiUrl: {self.api_url!r} is not Supabase's Management API; the access token and every "
                            f"Edge Function secret are sent there (expected one of {', '.join(SUPABASE_API_URLS)})")
        keyed(problems)
        return self


class AlertingSettings(Plane):
    """Alert routing: PagerDuty for critical alerts, Slack for warnings, runbooks, the Prometheus stack."""

    slack_team_id: str = Field(pattern=r"^T[A-Z0-9]{6,}$", description="the Slack workspace id (T...)")
    slack_channel_id: str = Field(pattern=r"^[CG][A-Z0-9]{6,}$", description="the warning channel's id (C... or G...)")
    slack_channel_name: str = Field(pattern=r"^#[a-z0-9_-]+$", description="the warning channel (#name)")
    etl_no_success_hours: int = Field(6, ge=1, le=168, description="hours without a successful ETL run before alerting")
    runbook_base_url: HttpsUrl = Field("https://github.com/kingtavo/infrastructure/blob/main/docs/runbooks",
                                       description="where the alerts' runbooks live")
    prometheus_stack_version: str = Field("91.5.0", pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$", description=(
        "kube-prometheus-stack chart version; its CRDs are applied by the chart's upgrade job"))
    server_error_share_percent: float = Field(
        5.0, gt=0, le=100,
        description="page when more than this percent of requests fail with 5xx (ETL in Prometheus, Vercel)")
    server_error_window_minutes: int = Field(
        5, ge=1, le=60, description="the window the 5xx share is measured over, and how long it must hold")
    database_cpu_threshold_percent: float = Field(
        80.0, gt=0, lt=100, description="warn when the Supabase database host's CPU stays above this percent")
    database_cpu_for_minutes: int = Field(
        10, ge=1, le=120, description="how long the database CPU must stay above its threshold")
    database_disk_free_threshold_percent: float = Field(
        10.0, gt=0, lt=100, description="page when less than this percent of the database disk (/data) is free")
    heartbeat_interval_minutes: int = Field(
        5, ge=1, le=60,
        description="how often Alertmanager re-sends the Watchdog to the heartbeat URL; set the dead man's "
                    "switch's period to this and its grace to at least twice this")


class SentrySettings(Plane):
    """Sentry error tracking: the projects, their public DSNs and the alerts that page the critical route."""

    organization: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="the organization slug")
    team: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="the team slug")
    web_platform: str = Field("javascript-nextjs", description="the web project's platform")
    etl_platform: str = Field("python", description="the ETL project's platform")
    error_rate_threshold_percent: Number = Field(5.0, gt=0, le=100, description="error rate that pages (percent)")
    error_burst_count: int = Field(50, ge=1, description="errors in a burst that page")
    # Sentry's own ids for its PagerDuty integration and the PagerDuty service of the critical route
    # (GET /api/0/organizations/<org>/integrations/?provider_key=pagerduty: `id`, `configData.service_table[].id`).
    pagerduty_integration_id: int = Field(ge=1, description="Sentry's id of its PagerDuty integration")
    pagerduty_service_id: int = Field(ge=1, description="Sentry's id of the critical route's PagerDuty service")


VercelLogSource = Literal["build", "edge", "external", "firewall", "lambda", "redirect", "static"]


class LogsSettings(Plane):
    """Log collection: the Vercel log drain of this stack's target (signed with a generated secret)."""

    vercel_drain_endpoint: HttpsUrl = Field(description="the https URL receiving the drain; it must answer Vercel's "
                                            "verification with the x-vercel-verify header")
    vercel_drain_sources: Annotated[list[VercelLogSource], Unique] = Field(
        default_factory=lambda: ["build", "edge", "external", "firewall", "lambda", "static"], min_length=1,
        description="the log sources drained, each once")
    vercel_drain_format: Literal["json", "ndjson"] = Field("ndjson", description="the drain's format")
    vercel_drain_sampling_rate: Number = Field(1.0, gt=0, le=1, description="share of logs drained (0-1]")
