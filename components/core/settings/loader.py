"""Reading and validating every setting: `load_settings()` returns one `Settings` or raises `SettingsError`.

It reads every `kingtavo:*` key once, validates all of them before any resource is declared, and
reports every problem at once, each naming the full key. On top of each plane's own checks it
checks what needs the stack or several planes: the environment table's minimums
(`components/core/environments.py`), the region's zones (`components/core/regions.py`), the ETL
images' registry, the pooler user's project, secret keys given in plaintext, and unknown keys in
every namespace (`providers.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
from pydantic import ValidationError

from components.core import environments, regions
from components.core.settings.errors import SettingsError, format_error
from components.core.settings.fields import IMAGE, Secret, to_secret, to_secret_map
from components.core.settings.planes import (
    BackupsSettings,
    BootstrapSettings,
    ClusterSettings,
    EtlSettings,
    NetworkSettings,
    Plane,
    RegistrySettings,
    SecretsSettings,
)
from components.core.settings.providers import unknown_key_problems
from components.core.settings.services import (
    AlertingSettings,
    FrontendSettings,
    LogsSettings,
    SentrySettings,
    SupabaseSettings,
)

PROJECT = "kingtavo"
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


# Object-typed plane keys -> their model. Every key here is declared in Pulumi.yaml (generated: tools/schema.py).
PLANES: dict[str, type[Plane]] = {
    "network": NetworkSettings, "cluster": ClusterSettings, "etl": EtlSettings, "frontend": FrontendSettings,
    "supabase": SupabaseSettings, "secrets": SecretsSettings, "alerting": AlertingSettings,
    "backups": BackupsSettings, "sentry": SentrySettings, "registry": RegistrySettings, "logs": LogsSettings,
    "bootstrap": BootstrapSettings,
}
# Secret top-level keys (camelCase, as in Pulumi.yaml) -> the non-secret list that names their entries, if any.
SECRET_KEYS: dict[str, str | None] = {
    "supabaseServiceRoleKey": None, "supabaseAccessToken": None, "sentryAuthToken": None,
    "pagerdutyIntegrationKey": None, "pagerdutyCloudwatchIntegrationKey": None, "slackWebhookUrl": None,
    "heartbeatUrl": None, "etlApiKeys": "etl.apiKeyNames", "frontendServerSecrets": "frontend.serverSecretNames",
    "edgeFunctionSecrets": "supabase.edgeFunctionSecretNames", "vaultSecrets": "supabase.vaultSecretNames",
}
SCALAR_KEYS = ("activeColor",)
# Provider credentials: like our own secrets, they must never be plaintext in a stack file.
PROVIDER_SECRET_KEYS = ("aws:secretKey", "aws:token", "vercel:apiToken", "sentry:token")


@dataclass(frozen=True)
class StackSecrets:
    """The secret settings, each a masked `Secret` (or a map of them)."""

    supabase_service_role_key: Secret
    supabase_access_token: Secret
    sentry_auth_token: Secret
    pagerduty_integration_key: Secret
    pagerduty_cloudwatch_integration_key: Secret
    slack_webhook_url: Secret
    heartbeat_url: Secret  # the dead man's switch Alertmanager's Watchdog pings (the URL holds its token)
    etl_api_keys: dict[str, Secret]
    frontend_server_secrets: dict[str, Secret]
    edge_function_secrets: dict[str, Secret]
    vault_secrets: dict[str, Secret]


@dataclass(frozen=True)
class Settings:
    """Everything the program reads from stack config, validated."""

    stack: str
    environment: str
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
    bootstrap: BootstrapSettings
    secret_values: StackSecrets  # the secret config values (`secrets` is the rotation plane)

    @property
    def env(self) -> environments.Environment:
        return environments.environment(self.environment)

    @property
    def is_production(self) -> bool:
        return self.env.protect

    @property
    def idle_color(self) -> Color:
        return self.colors.idle

    @property
    def colors(self) -> Colors:
        return Colors.of(self.active_color)


ConfigReader = Callable[[str], Any]


def _runtime_reader(full_key: str) -> Any:
    return pulumi.runtime.get_config(full_key)


def _decode(raw: Any) -> Any:
    """Config values arrive as strings; objects and lists as JSON text."""
    import json

    if isinstance(raw, str):
        stripped = raw.strip()
        if stripped[:1] in ("{", "["):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                return raw
    return raw


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
            problems.extend(format_error(key, e, secret=False, model=model))
        return None


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def _validate_secrets(read: ConfigReader, is_secret: Callable[[str], bool], planes: Mapping[str, Plane | None],
                      problems: list[str]) -> StackSecrets | None:
    """Each secret key on its own, so that every missing, plaintext or malformed secret is named in one run.

    Messages name the key and what was expected, never the value.
    """
    values: dict[str, Any] = {}
    for key, names_key in SECRET_KEYS.items():
        full = f"{PROJECT}:{key}"
        raw = read(full)
        if raw is not None and not is_secret(full):
            problems.append(f"{full}: is given in plaintext (a stack file or a plain ESC value); remove it there and "
                            f"set it with `pulumi config set --secret {key}` (or as an ESC secret)")
        if names_key is None:
            if raw is None:
                problems.append(f"{full}: is required (set it with `pulumi config set --secret {key}`)")
                continue
            try:
                values[_snake(key)] = to_secret(raw)
            except ValueError as error:
                problems.append(f"{full}: {error}")
            continue
        try:
            secret_map = to_secret_map({} if raw is None else raw)
        except ValueError as error:
            problems.append(f"{full}: {error}")
            continue
        values[_snake(key)] = secret_map
        # A secret map holds exactly the names its plane lists, so a missing secret is named.
        plane_name, names_field = names_key.split(".")
        plane = planes.get(plane_name)
        if plane is None:
            continue
        wanted, have = set(getattr(plane, _snake(names_field))), set(secret_map)
        for name in sorted(wanted - have):
            problems.append(f"{full}.{name}: is required by {PROJECT}:{names_key} "
                            f"(set it with `pulumi config set --secret --path '{key}.{name}'`)")
        for name in sorted(have - wanted):
            problems.append(f"{full}.{name}: is not listed in {PROJECT}:{names_key}; list it there or remove it")
    if len(values) != len(SECRET_KEYS):
        return None
    return StackSecrets(**values)


def _minimum_problems(env: environments.Environment, planes: Mapping[str, Plane | None]) -> list[str]:
    """The environment table's minimums (high availability, warm rollback, recovery)."""
    least, name, problems = env.minimums, env.name, []
    etl, cluster, network, backups = (planes.get(p) for p in ("etl", "cluster", "network", "backups"))
    if isinstance(etl, EtlSettings):
        if etl.replicas < least.etl_replicas:
            problems.append(f"{PROJECT}:etl.replicas: {name} needs at least {least.etl_replicas} replicas for high "
                            f"availability, got {etl.replicas}")
        if etl.idle_replica_count < least.etl_idle_replicas:
            problems.append(f"{PROJECT}:etl.idleReplicas: {name} keeps the idle color warm (at least "
                            f"{least.etl_idle_replicas} replica(s)) so that a rollback is instant, got "
                            f"{etl.idle_replica_count}")
    if isinstance(cluster, ClusterSettings) and cluster.node_min_size < least.node_min_size:
        problems.append(f"{PROJECT}:cluster.nodeMinSize: {name} needs at least {least.node_min_size} nodes for high "
                        f"availability, got {cluster.node_min_size}")
    if least.nat_per_zone and isinstance(network, NetworkSettings) and network.nat_gateways != "per_az":
        problems.append(f"{PROJECT}:network.natGateways: {name} needs a NAT gateway per zone (expected 'per_az'), "
                        f"got {network.nat_gateways!r}")
    if least.point_in_time_recovery and isinstance(backups, BackupsSettings) and not backups.point_in_time_recovery:
        problems.append(f"{PROJECT}:backups.pointInTimeRecovery: {name} requires point-in-time recovery "
                        f"(expected true)")
    supabase, frontend = planes.get("supabase"), planes.get("frontend")
    if isinstance(backups, BackupsSettings) and isinstance(supabase, SupabaseSettings):
        if backups.point_in_time_recovery and supabase.pitr_retention_days is None:
            problems.append(f"{PROJECT}:supabase.pitrRetentionDays: backups.pointInTimeRecovery is true, so the "
                            f"PITR add-on's retention is required (7, 14 or 28)")
        if (not backups.point_in_time_recovery and supabase.pitr_retention_days is not None
                and not least.point_in_time_recovery):  # where PITR is required, that message says it
            problems.append(f"{PROJECT}:supabase.pitrRetentionDays: is set but backups.pointInTimeRecovery is false; "
                            f"set both or neither")
    if isinstance(frontend, FrontendSettings) and frontend.team_members and not env.owns_vercel_project:
        problems.append(f"{PROJECT}:frontend.teamMembers: the Vercel team and project are declared by the stack that "
                        f"owns the project, not {name}; leave this empty here")
    return problems


def _cross_plane_problems(planes: Mapping[str, Plane | None], region: Any) -> list[str]:
    problems = []
    etl, registry, supabase, network = (planes.get(p) for p in ("etl", "registry", "supabase", "network"))
    if isinstance(etl, EtlSettings) and isinstance(registry, RegistrySettings):
        for color in COLORS:
            image = etl.release(color).image
            host, _, path = IMAGE.match(image).group("repo").partition("/")
            if not ECR_HOST.match(host) or path != registry.repository_name:
                problems.append(f"{PROJECT}:etl.{color}.image: {image!r} is not in the stack's registry; expected "
                                f"<account>.dkr.ecr.<region>.amazonaws.com/{registry.repository_name}:<tag>")
    if isinstance(etl, EtlSettings) and isinstance(supabase, SupabaseSettings) and "." in etl.database_user:
        ref = etl.database_user.split(".", 1)[1]
        if ref != supabase.project_ref:
            problems.append(f"{PROJECT}:etl.databaseUser: the pooler user {etl.database_user!r} names project "
                            f"{ref!r}, but supabase.projectRef is {supabase.project_ref!r}")
    if region is None:
        problems.append("aws:region: is required (the region the stack deploys to, in Pulumi.<stack>.yaml)")
    elif regions.zone_count(str(region)) is None:
        problems.append(f"aws:region: {region!r} is not a region components/core/regions.py knows; add its zone count")
    elif isinstance(network, NetworkSettings) and network.az_count > regions.zone_count(str(region)):
        problems.append(f"{PROJECT}:network.azCount: {network.az_count} zones, but {region} offers "
                        f"{regions.zone_count(str(region))}")
    return problems


ECR_HOST = re.compile(r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")


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
                  present_keys: Iterable[str] | None = None, is_secret: Callable[[str], bool] | None = None
                  ) -> Settings:
    """Read and validate every setting; raise SettingsError naming every bad key. Declares no resource.

    `is_secret(full_key)` says whether the engine marked a key secret; by default the engine's own marks
    (`pulumi.runtime.is_config_secret`) when reading the engine's config, and no plaintext check for a
    caller's own `read` (which carries no marks).
    """
    stack = stack or pulumi.get_stack()
    if is_secret is None:
        is_secret = pulumi.runtime.is_config_secret if read is _runtime_reader else (lambda _key: True)
    present = list(present_keys or ())
    problems: list[str] = unknown_key_problems(present, PROJECT, (*PLANES, *SECRET_KEYS, *SCALAR_KEYS))
    problems.extend(f"{key}: is a provider credential given in plaintext; set it with `pulumi config set --secret "
                    f"{key}` (or better, let the provider read it from the environment or OIDC)"
                    for key in PROVIDER_SECRET_KEYS if key in present and not is_secret(key))
    env = environments.ENVIRONMENTS.get(stack)
    if env is None:
        problems.append(f"stack {stack!r}: expected one of {', '.join(environments.STACKS)} (the environment is the "
                        f"stack name)")

    active = read(f"{PROJECT}:activeColor")
    if active not in COLORS:
        shown = "is required" if active is None else f"{active!r} is not a color"
        problems.append(f"{PROJECT}:activeColor: {shown} (expected 'blue' or 'green')")

    planes = {name: _validate_plane(name, model, read(f"{PROJECT}:{name}"), problems)
              for name, model in PLANES.items()}
    secret = _validate_secrets(read, is_secret, planes, problems)
    if env is not None:
        problems.extend(_minimum_problems(env, planes))
    problems.extend(_cross_plane_problems(planes, read("aws:region")))

    if problems:
        raise SettingsError(problems)
    return Settings(stack=stack, environment=stack, active_color=active, secret_values=secret,  # type: ignore[arg-type]
                    **planes)  # type: ignore[arg-type]


def present_config_keys() -> list[str]:
    """The config keys this deployment was given (engine config and the PULUMI_CONFIG environment)."""
    from pulumi.runtime import config as runtime_config

    return sorted({*runtime_config.CONFIG.get().keys(), *runtime_config.get_config_env().keys()})
