"""Typed, validated stack settings: the only place that reads `pulumi.Config`.

`load_settings()` reads every `kingtavo:*` key once, validates all of them before any
resource is declared, and either returns one frozen `Settings` object (a typed slice per
plane) or raises `SettingsError` listing every problem at once, each naming the full key:

    kingtavo:network.cidr: '10.0.0.0/33' is not an IPv4 CIDR

Non-secret planes are object-typed keys (`kingtavo:network`, `kingtavo:cluster`, ...), set
in `Pulumi.<stack>.yaml`. Secrets are their own top-level keys, declared `secret: true` in
`Pulumi.yaml` and set with `pulumi config set --secret`; they are held as `Secret` objects
whose repr is masked and which become Pulumi secret Outputs only where a resource uses them.
An error message never contains a secret's value.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

PROJECT = "kingtavo"
STACKS = ("staging", "production")
COLORS = ("blue", "green")

Color = Literal["blue", "green"]


@dataclass(frozen=True)
class Colors:
    """The live color (from `kingtavo:activeColor`) and the idle one, computed once."""

    live: Color
    idle: Color

    @staticmethod
    def of(active: Color) -> Colors:
        return Colors(live=active, idle="green" if active == "blue" else "blue")


class SettingsError(Exception):
    """Every problem found in the stack settings, one `kingtavo:<key>: <what was expected>` per line."""

    def __init__(self, problems: list[str]):
        self.problems = sorted(set(problems))
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"invalid stack settings ({len(self.problems)} problem(s)):\n{lines}")


# --- secrets ---------------------------------------------------------------------------------------------


class Secret:
    """A secret config value. Its repr is masked; `.output()` gives the Pulumi secret Output to pass on."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def __repr__(self) -> str:
        return "Secret(****)"

    __str__ = __repr__

    def output(self) -> pulumi.Output[str]:
        return pulumi.Output.secret(self._value)

    def reveal(self) -> str:
        """The plain value, for validation and for dynamic providers that must send it; never log it."""
        return self._value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _to_secret(value: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty secret string (set it with `pulumi config set --secret`)")
    return Secret(value)


ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _to_secret_map(value: Any) -> dict[str, Secret]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError("expected a JSON object of NAME: secret value") from None
    if not isinstance(value, Mapping):
        raise ValueError("expected an object of NAME: secret value")  # noqa: TRY004 - pydantic-style message
    result = {}
    for name, item in value.items():
        if not isinstance(name, str) or not ENV_NAME.match(name):
            raise ValueError(f"{name!r} is not an UPPER_SNAKE_CASE name")
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{name}: expected a non-empty secret string")
        result[name] = Secret(item)
    return result


# --- reusable field checks --------------------------------------------------------------------------------


def _ipv4_cidr(value: str) -> str:
    try:
        ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 CIDR") from None
    return value


Cidr = Annotated[str, AfterValidator(_ipv4_cidr)]


def _ipv6_cidr(value: str) -> str:
    try:
        ipaddress.IPv6Network(value, strict=True)
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv6 CIDR") from None
    return value


Ipv6Cidr = Annotated[str, AfterValidator(_ipv6_cidr)]

# An image reference pinned by tag or digest: `registry/repo:tag` or `registry/repo@sha256:<64 hex>`.
IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._/-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(?P<digest>sha256:[a-f0-9]{64}))$"
)


def _pinned_image(value: str) -> str:
    match = IMAGE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not an image pinned by tag or digest (registry/repo:tag or repo@sha256:...)")
    if match.group("tag") == "latest":
        raise ValueError(f"{value!r} uses the mutable tag 'latest'; pin a release tag or a digest")
    return value


PinnedImage = Annotated[str, AfterValidator(_pinned_image)]

def matching(pattern: str, expected: str) -> AfterValidator:
    """A string check by regular expression whose error says what was expected, e.g. `'x' is not a Git ref`."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"{value!r} is not {expected}")
        return value

    return AfterValidator(check)


CpuQuantity = Annotated[str, matching(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$", "a CPU quantity such as '250m' or '1'")]
MemoryQuantity = Annotated[str, matching(r"^[0-9]+(Ki|Mi|Gi|Ti)$", "a memory quantity such as '512Mi' or '2Gi'")]
GitRef = Annotated[str, matching(r"^(?!.*\.\.)(?!/)(?!.*/$)[A-Za-z0-9._/-]{1,200}$",
                                 "a Git ref (a branch, tag or commit SHA)")]
Hostname = Annotated[str, matching(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
                                   "a lower-case DNS name such as 'app.example.com'")]
HttpsUrl = Annotated[str, matching(r"^https://[^\s/$.?#][^\s]*$", "an https:// URL")]

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)


def _log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        raise ValueError(f"{value} is not a CloudWatch Logs retention period (one of {allowed})")
    return value


LogRetentionDays = Annotated[int, AfterValidator(_log_retention)]

# Names that look like they hold a secret. Shared with the frontend checks below.
SECRET_LOOKING_NAME = re.compile(
    r"(SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE|SERVICE_ROLE|CREDENTIAL|(^|_)AUTH($|_)|API_KEY|(^|_)KEY$|_KEY_)"
)
PUBLIC_NAME_ALLOWED = frozenset({"NEXT_PUBLIC_SUPABASE_ANON_KEY"})
# Vercel variables the program sets itself, and where from: a setting may not set them a second time.
PROGRAM_SET_VARIABLES = {
    "NEXT_PUBLIC_SUPABASE_URL": "kingtavo:supabase.url",
    "NEXT_PUBLIC_SUPABASE_ANON_KEY": "kingtavo:supabase.anonKey",
    "NEXT_PUBLIC_SENTRY_DSN": "the Sentry web project's key",
    "NEXT_PUBLIC_SENTRY_ENVIRONMENT": "the Sentry plane",
    "SUPABASE_SERVICE_ROLE_KEY": "kingtavo:supabaseServiceRoleKey",
    "SENTRY_AUTH_TOKEN": "kingtavo:sentryAuthToken",
}


def looks_secret(name: str) -> bool:
    """True for an environment variable name that suggests a secret value (public anon key excepted)."""
    return name not in PUBLIC_NAME_ALLOWED and bool(SECRET_LOOKING_NAME.search(name.upper()))


# --- the planes -------------------------------------------------------------------------------------------


class Plane(BaseModel):
    """A frozen settings object; config keys are camelCase, attributes snake_case; unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True,
                              arbitrary_types_allowed=True)


class NetworkSettings(Plane):
    cidr: Cidr = "10.0.0.0/16"
    az_count: int = Field(3, ge=2, le=6)
    nat_gateways: Literal["single", "per_az"] = "per_az"
    subnet_prefix_length: int = Field(20, ge=16, le=28)
    flow_log_retention_days: LogRetentionDays = 90

    @model_validator(mode="after")
    def _subnets_fit(self) -> NetworkSettings:
        vpc = ipaddress.IPv4Network(self.cidr)
        if self.subnet_prefix_length <= vpc.prefixlen:
            keyed([f"subnetPrefixLength: /{self.subnet_prefix_length} must be longer than the VPC's /{vpc.prefixlen}"])
        available = 2 ** (self.subnet_prefix_length - vpc.prefixlen)
        if available < 2 * self.az_count:
            keyed([(f"subnetPrefixLength: {self.cidr} holds {available} /{self.subnet_prefix_length} subnets but "
                    f"{2 * self.az_count} are needed (a public and a private one in each of {self.az_count} zones)")])
        return self


class ClusterSettings(Plane):
    name: str = Field("kingtavo", pattern=r"^[a-z][a-z0-9-]{1,30}$")
    kubernetes_version: str = Field(pattern=r"^1\.(2[89]|3[0-9])$")
    node_instance_types: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*\.[a-z0-9]+$")]] = Field(min_length=1)
    node_min_size: int = Field(ge=1, le=100)
    node_desired_size: int = Field(ge=1, le=100)
    node_max_size: int = Field(ge=1, le=100)
    node_disk_size_gb: int = Field(50, ge=20, le=1000)
    public_access_cidrs: list[Cidr] = Field(default_factory=list)
    log_retention_days: LogRetentionDays = 90

    @model_validator(mode="after")
    def _sizes_ordered(self) -> ClusterSettings:
        problems = []
        if not self.node_min_size <= self.node_desired_size <= self.node_max_size:
            problems.append(f"nodeDesiredSize: expected nodeMinSize <= nodeDesiredSize <= nodeMaxSize, got "
                            f"{self.node_min_size} <= {self.node_desired_size} <= {self.node_max_size}")
        if "0.0.0.0/0" in self.public_access_cidrs:
            problems.append("publicAccessCidrs: must not contain 0.0.0.0/0; list the operators' and CI's ranges")
        keyed(problems)
        return self


class ColorRelease(Plane):
    image: PinnedImage


class EtlSettings(Plane):
    namespace: str = Field("etl", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    blue: ColorRelease
    green: ColorRelease
    replicas: int = Field(ge=1, le=50)
    idle_replicas: int | None = Field(None, ge=0, le=50)
    port: int = Field(8080, ge=1024, le=65535)
    cpu_request: CpuQuantity = "250m"
    cpu_limit: CpuQuantity = "1"
    memory_request: MemoryQuantity = "256Mi"
    memory_limit: MemoryQuantity = "512Mi"
    api_key_names: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]] = Field(default_factory=list)
    database_user: str = Field("etl", pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    @property
    def idle_replica_count(self) -> int:
        """The idle color's replicas: as many as live unless set, so a rollback is instant."""
        return self.replicas if self.idle_replicas is None else self.idle_replicas

    def release(self, color: str) -> ColorRelease:
        return self.blue if color == "blue" else self.green


class FrontendColorRelease(Plane):
    ref: GitRef


VercelProjectRole = Literal["ADMIN", "PROJECT_DEVELOPER", "PROJECT_VIEWER"]


class VercelMember(Plane):
    """One person on the Vercel team, by Vercel user id (never an email): a Contributor with one project role."""

    user_id: str = Field(pattern=r"^[A-Za-z0-9]{20,32}$",
                         description="The person's Vercel user id (Account Settings > General > Vercel ID)")
    label: str = Field(pattern=r"^[a-z][a-z0-9-]{0,38}$",
                       description="A short lower-case handle for resource names and plans (not an email)")
    project_role: VercelProjectRole = Field(
        "PROJECT_VIEWER", description="Role on the web app's project: ADMIN (operators: may read and change "
        "production variables), PROJECT_DEVELOPER (preview and development only) or PROJECT_VIEWER")
    on_call: bool = Field(False, description="Member of the on-call access group")


class FrontendSettings(Plane):
    project_name: str = Field("kingtavo-web", pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    git_repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    production_branch: str = "main"
    root_directory: str | None = None
    node_version: Literal["18.x", "20.x", "22.x", "24.x"] = "22.x"
    skew_protection: Literal["30 minutes", "4 hours", "12 hours", "1 day", "7 days"] = "12 hours"
    domain: Hostname
    idle_domain: Hostname
    blue: FrontendColorRelease
    green: FrontendColorRelease
    public_env: dict[str, str] = Field(default_factory=dict)
    server_secret_names: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]] = Field(default_factory=list)
    web_analytics: bool = Field(True, description="Vercel Web Analytics on the project (the stack that owns it)")
    speed_insights: bool = Field(True, description="Vercel Speed Insights on the project (billed on Pro)")
    team_members: list[VercelMember] = Field(
        default_factory=list, description="People on the Vercel team, each a Contributor with one project role; "
        "declared by the stack that owns the project only")
    on_call_group: str = Field("on-call", pattern=r"^[a-z][a-z0-9-]{0,38}$",
                               description="Name of the Vercel access group of the on-call people")
    on_call_project_role: VercelProjectRole = Field(
        "PROJECT_VIEWER", description="The on-call access group's role on the project")

    @model_validator(mode="after")
    def _env_names(self) -> FrontendSettings:
        problems = []
        for name in self.public_env:
            if not ENV_NAME.match(name):
                problems.append(f"publicEnv.{name}: not an UPPER_SNAKE_CASE variable name")
            elif looks_secret(name):
                problems.append(f"publicEnv.{name}: looks like a secret; public values are shipped to every "
                                f"browser, so put it in serverSecretNames and its value in secret config")
        for name in self.public_env:
            if name in PROGRAM_SET_VARIABLES:
                problems.append(f"publicEnv.{name}: is set by the program from {PROGRAM_SET_VARIABLES[name]}; "
                                f"remove it here")
        for name in self.server_secret_names:
            if name in PROGRAM_SET_VARIABLES:
                problems.append(f"serverSecretNames: {name} is set by the program from {PROGRAM_SET_VARIABLES[name]}; "
                                f"remove it here")
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


class QueryLoggingSettings(Plane):
    """Slow-query logging for the roles that connect directly (Supabase documents it per role); off by default."""

    min_duration_ms: int = Field(-1, ge=-1, le=3_600_000, description="log_min_duration_statement in "
                                 "milliseconds for the listed roles: statements at least this slow are logged "
                                 "with their text; -1 is off")
    explain_min_duration_ms: int = Field(-1, ge=-1, le=3_600_000, description="auto_explain.log_min_duration in "
                                         "milliseconds: also log the plans of such statements; -1 is off")
    roles: list[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]] = Field(
        default_factory=lambda: ["postgres"], min_length=1, description="Database roles the settings apply to")


class SupabaseSettings(Plane):
    project_ref: str = Field(pattern=r"^[a-z]{20}$")
    url: HttpsUrl
    anon_key: str = Field(min_length=1)
    edge_function_secret_names: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]] = Field(
        default_factory=list)
    api_url: HttpsUrl = "https://api.supabase.com"
    # Where the database is reached (the ETL service and the backup dump job both connect here).
    database_host: str = Field(min_length=1)
    database_port: int = Field(5432, ge=1, le=65535)
    database_name: str = "postgres"
    pitr_retention_days: Literal[7, 14, 28] | None = Field(
        None, description="Point-in-time recovery add-on retention in days (pitr_7/14/28; needs Pro and Small "
        "compute); null is no add-on. Required when backups.pointInTimeRecovery is true")
    ssl_enforcement: bool = Field(True, description="Refuse non-TLS connections to Postgres and the pooler")
    restrict_network: bool = Field(True, description="Allow Postgres and the pooler only from the VPC's NAT "
                                   "addresses and allowedCidrs / allowedCidrsV6")
    allowed_cidrs: list[Cidr] = Field(default_factory=list, description="CI's and operators' IPv4 CIDRs allowed "
                                      "to reach the database, besides the NAT gateways' addresses")
    allowed_cidrs_v6: list[Ipv6Cidr] = Field(default_factory=list, description="IPv6 CIDRs allowed to reach the "
                                             "database (needed for IPv6 clients without the IPv4 add-on)")
    query_logging: QueryLoggingSettings = Field(default_factory=QueryLoggingSettings,
                                                description="Slow-query logging; off by default")
    vault_secret_names: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]] = Field(
        default_factory=list, description="Names of the Supabase Vault secrets for database functions; their "
        "values are in the secret vaultSecrets")

    @model_validator(mode="after")
    def _names(self) -> SupabaseSettings:
        reserved = [n for n in self.edge_function_secret_names if n.startswith("SUPABASE_")]
        problems = [(f"edgeFunctionSecretNames: {name} starts with SUPABASE_, a prefix Supabase reserves for its "
                     f"own secrets") for name in reserved]
        problems += [f"allowedCidrs: {cidr} allows every address; list CI's and the operators' ranges"
                     for cidr in self.allowed_cidrs if cidr == "0.0.0.0/0"]
        problems += [f"allowedCidrsV6: {cidr} allows every address; list the ranges that need access"
                     for cidr in self.allowed_cidrs_v6 if ipaddress.IPv6Network(cidr).prefixlen == 0]
        keyed(problems)
        return self


class SecretsSettings(Plane):
    rotation_days: int = Field(30, ge=1, le=365)
    recovery_window_days: int = Field(30, ge=7, le=30)
    kms_deletion_window_days: int = Field(30, ge=7, le=30)


class AlertingSettings(Plane):
    slack_team_id: str = Field(pattern=r"^T[A-Z0-9]{6,}$")
    slack_channel_id: str = Field(pattern=r"^[CG][A-Z0-9]{6,}$")
    slack_channel_name: str = Field(pattern=r"^#[a-z0-9_-]+$")
    etl_no_success_hours: int = Field(6, ge=1, le=168)
    runbook_base_url: HttpsUrl = "https://github.com/kingtavo/infrastructure/blob/main/docs/runbooks"
    prometheus_stack_version: str = Field("77.5.0", pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")


class BackupsSettings(Plane):
    point_in_time_recovery: bool
    daily_retention: int = Field(7, ge=1, le=35)
    weekly_retention: int = Field(4, ge=1, le=52)
    monthly_retention: int = Field(6, ge=1, le=120)
    dump_schedule: str = Field("17 3 * * *", pattern=r"^(\S+\s+){4}\S+$")
    max_backup_age_hours: int = Field(26, ge=1, le=168)


class SentrySettings(Plane):
    organization: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    team: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    web_platform: str = "javascript-nextjs"
    etl_platform: str = "python"
    error_rate_threshold_percent: float = Field(5.0, gt=0, le=100)
    error_burst_count: int = Field(50, ge=1)
    # Sentry's own ids for its PagerDuty integration and the PagerDuty service of the critical route
    # (GET /api/0/organizations/<org>/integrations/?provider_key=pagerduty: `id`, `configData.service_table[].id`).
    pagerduty_integration_id: int = Field(ge=1)
    pagerduty_service_id: int = Field(ge=1)


VercelLogSource = Literal["build", "edge", "external", "firewall", "lambda", "redirect", "static"]


class LogsSettings(Plane):
    """Where Vercel's logs are drained: one drain per stack (staging = preview, production = production)."""

    vercel_drain_endpoint: HttpsUrl
    vercel_drain_sources: list[VercelLogSource] = Field(
        default_factory=lambda: ["build", "edge", "external", "firewall", "lambda", "static"], min_length=1)
    vercel_drain_format: Literal["json", "ndjson"] = "ndjson"
    vercel_drain_sampling_rate: float = Field(1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _unique_sources(self) -> LogsSettings:
        repeated = sorted({s for s in self.vercel_drain_sources if self.vercel_drain_sources.count(s) > 1})
        keyed([f"vercelDrainSources: {', '.join(repeated)} listed more than once"] if repeated else [])
        return self


ECR_HOST = re.compile(r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")


class RegistrySettings(Plane):
    repository_name: str = Field("kingtavo/etl", pattern=r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$")
    ci_push_role_name: str = Field("kingtavo-ci-image-push", pattern=r"^[A-Za-z0-9+=,.@_-]{1,64}$")
    keep_release_images: int = Field(30, ge=2, le=1000)
    untagged_expiry_days: int = Field(7, ge=1, le=365)


@dataclass(frozen=True)
class StackSecrets:
    """The secret settings, each a masked `Secret` (or a map of them)."""

    supabase_service_role_key: Secret
    supabase_access_token: Secret
    sentry_auth_token: Secret
    pagerduty_integration_key: Secret
    pagerduty_cloudwatch_integration_key: Secret
    slack_webhook_url: Secret
    etl_api_keys: dict[str, Secret]
    frontend_server_secrets: dict[str, Secret]
    edge_function_secrets: dict[str, Secret]
    vault_secrets: dict[str, Secret]


@dataclass(frozen=True)
class Settings:
    """Everything the program reads from stack config, validated."""

    stack: str
    environment: Literal["staging", "production"]
    active_color: Color
    network: NetworkSettings
    cluster: ClusterSettings
    etl: EtlSettings
    frontend: FrontendSettings
    supabase: SupabaseSettings
    secrets: SecretsSettings
    alerting: AlertingSettings
    backups: BackupsSettings
    sentry: SentrySettings
    registry: RegistrySettings
    logs: LogsSettings
    secret_values: StackSecrets  # the secret config values (`secrets` is the rotation plane)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def idle_color(self) -> Color:
        return self.colors.idle

    @property
    def colors(self) -> Colors:
        return Colors.of(self.active_color)


# Object-typed plane keys -> their model. Every key here is declared in Pulumi.yaml (a test checks it).
PLANES: dict[str, type[Plane]] = {
    "network": NetworkSettings,
    "cluster": ClusterSettings,
    "etl": EtlSettings,
    "frontend": FrontendSettings,
    "supabase": SupabaseSettings,
    "secrets": SecretsSettings,
    "alerting": AlertingSettings,
    "backups": BackupsSettings,
    "sentry": SentrySettings,
    "registry": RegistrySettings,
    "logs": LogsSettings,
}
# Secret top-level keys (camelCase, as in Pulumi.yaml) -> the non-secret list that names their entries, if any.
SECRET_KEYS: dict[str, str | None] = {
    "supabaseServiceRoleKey": None,
    "supabaseAccessToken": None,
    "sentryAuthToken": None,
    "pagerdutyIntegrationKey": None,
    "pagerdutyCloudwatchIntegrationKey": None,
    "slackWebhookUrl": None,
    "etlApiKeys": "etl.apiKeyNames",
    "frontendServerSecrets": "frontend.serverSecretNames",
    "edgeFunctionSecrets": "supabase.edgeFunctionSecretNames",
    "vaultSecrets": "supabase.vaultSecretNames",
}
SCALAR_KEYS = ("activeColor",)


# --- loading ----------------------------------------------------------------------------------------------


ConfigReader = Callable[[str], Any]


def _runtime_reader(full_key: str) -> Any:
    return pulumi.runtime.get_config(full_key)


def _decode(raw: Any) -> Any:
    """Config values arrive as strings; objects and lists as JSON text."""
    if isinstance(raw, str):
        stripped = raw.strip()
        if stripped[:1] in ("{", "["):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                return raw
    return raw


def _format_error(prefix: str, error: Mapping[str, Any], secret: bool) -> list[str]:
    """One problem line per error; a model check may name several sub-keys, one `path: message` per line."""
    location = ".".join(str(part) for part in error["loc"])
    key = f"{prefix}.{location}" if location else prefix
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "is required" + (" (set it with `pulumi config set --secret`)" if secret else "")
    elif error["type"] == "extra_forbidden":
        message = "is not a known setting (check the spelling against Pulumi.yaml)"
    elif error["type"] == "value_error" and KEYED.match(message):
        return [f"{key}.{line}" for line in message.splitlines()]
    elif not secret and error["type"] not in ("value_error", "assertion_error") and "input" in error:
        message = f"{message} (got {error['input']!r})"
    return [f"{key}: {message}"]


# A model-level check reports `subKey: message` lines so that each problem names its own key.
KEYED = re.compile(r"^[a-z][A-Za-z0-9]*(\.[A-Za-z0-9_]+)*: ")


def keyed(problems: list[str]) -> None:
    """Raise the model check's problems (each `subKey: message`) as one error, or nothing."""
    if problems:
        raise ValueError("\n".join(problems))


def _validate_plane(name: str, model: type[Plane], raw: Any, problems: list[str]) -> Plane | None:
    key = f"{PROJECT}:{name}"
    if raw is None:
        problems.append(f"{key}: is required (an object in Pulumi.<stack>.yaml; see Pulumi.yaml for its fields)")
        return None
    value = _decode(raw)
    if not isinstance(value, Mapping):
        problems.append(f"{key}: expected an object, got {type(value).__name__}")
        return None
    try:
        return model.model_validate(value)
    except ValidationError as error:
        for e in error.errors():
            problems.extend(_format_error(key, e, secret=False))
        return None


def _validate_secrets(read: ConfigReader, planes: Mapping[str, Plane | None], problems: list[str]
                      ) -> StackSecrets | None:
    """Each secret key on its own, so that every missing or malformed secret is named in one run.

    Messages name the key and what was expected, never the value.
    """
    values: dict[str, Any] = {}
    for key, names_key in SECRET_KEYS.items():
        raw = read(f"{PROJECT}:{key}")
        if names_key is None:
            if raw is None:
                problems.append(f"{PROJECT}:{key}: is required (set it with `pulumi config set --secret {key}`)")
                continue
            try:
                values[_snake(key)] = _to_secret(raw)
            except ValueError as error:
                problems.append(f"{PROJECT}:{key}: {error}")
            continue
        try:
            secret_map = _to_secret_map({} if raw is None else raw)
        except ValueError as error:
            problems.append(f"{PROJECT}:{key}: {error}")
            continue
        values[_snake(key)] = secret_map
        # A secret map holds exactly the names its plane lists, so a missing secret is named.
        plane_name, names_field = names_key.split(".")
        plane = planes.get(plane_name)
        if plane is None:
            continue
        wanted, have = set(getattr(plane, _snake(names_field))), set(secret_map)
        for name in sorted(wanted - have):
            problems.append(f"{PROJECT}:{key}.{name}: is required by {PROJECT}:{names_key} "
                            f"(set it with `pulumi config set --secret --path '{key}.{name}'`)")
        for name in sorted(have - wanted):
            problems.append(f"{PROJECT}:{key}.{name}: is not listed in {PROJECT}:{names_key}; list it there or "
                            f"remove it")
    if len(values) != len(SECRET_KEYS):
        return None
    return StackSecrets(**values)


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def _cross_plane_checks(environment: str, planes: Mapping[str, Plane | None], problems: list[str]) -> None:
    backups = planes.get("backups")
    if environment == "production" and isinstance(backups, BackupsSettings) and not backups.point_in_time_recovery:
        problems.append(f"{PROJECT}:backups.pointInTimeRecovery: production requires point-in-time recovery "
                        f"(expected true)")
    cluster = planes.get("cluster")
    if environment == "production" and isinstance(cluster, ClusterSettings) and cluster.node_min_size < 2:
        problems.append(f"{PROJECT}:cluster.nodeMinSize: production needs at least 2 nodes for high "
                        f"availability, got {cluster.node_min_size}")
    etl, registry = planes.get("etl"), planes.get("registry")
    if isinstance(etl, EtlSettings) and isinstance(registry, RegistrySettings):
        for color in COLORS:
            image = etl.release(color).image
            host, _, path = IMAGE.match(image).group("repo").partition("/")
            if not ECR_HOST.match(host) or path != registry.repository_name:
                problems.append(f"{PROJECT}:etl.{color}.image: {image!r} is not in the stack's registry; expected "
                                f"<account>.dkr.ecr.<region>.amazonaws.com/{registry.repository_name}:<tag>")
    supabase = planes.get("supabase")
    if isinstance(backups, BackupsSettings) and isinstance(supabase, SupabaseSettings):
        if backups.point_in_time_recovery and supabase.pitr_retention_days is None:
            problems.append(f"{PROJECT}:supabase.pitrRetentionDays: backups.pointInTimeRecovery is true, so the "
                            f"PITR add-on's retention is required (7, 14 or 28)")
        if (not backups.point_in_time_recovery and supabase.pitr_retention_days is not None
                and environment != "production"):  # production is told PITR is required, above
            problems.append(f"{PROJECT}:supabase.pitrRetentionDays: is set but backups.pointInTimeRecovery is false; "
                            f"set both or neither")
    frontend = planes.get("frontend")
    if isinstance(frontend, FrontendSettings) and frontend.team_members and not owns_vercel_project(environment):
        problems.append(f"{PROJECT}:frontend.teamMembers: the Vercel team and project are declared by the stack that "
                        f"owns the project, not {environment}; leave this empty here")
    network = planes.get("network")
    if environment == "production" and isinstance(network, NetworkSettings) and network.nat_gateways != "per_az":
        problems.append(f"{PROJECT}:network.natGateways: production needs a NAT gateway per zone (expected "
                        f"'per_az'), got {network.nat_gateways!r}")


def owns_vercel_project(stack: str) -> bool:
    from components.core.environments import ENVIRONMENTS

    return stack in ENVIRONMENTS and ENVIRONMENTS[stack].owns_vercel_project


def check_against_account(settings: Settings, account_id: str, region: str) -> None:
    """Checks that need the caller's account and region (looked up, not declared): still before any resource."""
    problems = []
    for color in COLORS:
        image = settings.etl.release(color).image
        host = IMAGE.match(image).group("repo").split("/", 1)[0]
        match = ECR_HOST.match(host)
        if match and (match["account"], match["region"]) != (account_id, region):
            problems.append(f"{PROJECT}:etl.{color}.image: {image!r} is in account {match['account']} region "
                            f"{match['region']}, but this stack deploys to account {account_id} region {region}")
    if problems:
        raise SettingsError(problems)


def known_keys() -> set[str]:
    return {f"{PROJECT}:{key}" for key in (*PLANES, *SECRET_KEYS, *SCALAR_KEYS)}


def load_settings(stack: str | None = None, read: ConfigReader = _runtime_reader,
                  present_keys: Iterator[str] | None = None) -> Settings:
    """Read and validate every setting; raise SettingsError naming every bad key. Declares no resource."""
    stack = stack or pulumi.get_stack()
    problems: list[str] = []
    if stack not in STACKS:
        problems.append(f"stack {stack!r}: expected one of {', '.join(STACKS)} (the environment is the stack name)")
    for key in sorted(set(present_keys or ()) - known_keys()):
        if key.startswith(f"{PROJECT}:"):
            problems.append(f"{key}: is not a known setting (check the spelling against Pulumi.yaml)")

    active = read(f"{PROJECT}:activeColor")
    if active not in COLORS:
        shown = "is required" if active is None else f"{active!r} is not a color"
        problems.append(f"{PROJECT}:activeColor: {shown} (expected 'blue' or 'green')")

    planes = {name: _validate_plane(name, model, read(f"{PROJECT}:{name}"), problems)
              for name, model in PLANES.items()}
    secret = _validate_secrets(read, planes, problems)
    _cross_plane_checks(stack, planes, problems)

    if problems:
        raise SettingsError(problems)
    return Settings(stack=stack, environment=stack, active_color=active, secret_values=secret,  # type: ignore[arg-type]
                    **planes)  # type: ignore[arg-type]


def present_config_keys() -> list[str]:
    """The config keys this deployment was given (engine config and the PULUMI_CONFIG environment)."""
    from pulumi.runtime import config as runtime_config

    return sorted({*runtime_config.CONFIG.get().keys(), *runtime_config.get_config_env().keys()})
