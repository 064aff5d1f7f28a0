"""Typed, validated stack settings: the only place that reads `pulumi.Config`.

`load_settings()` reads every `kingtavo:*` key once, validates all of them before any resource is
declared, and either returns one frozen `Settings` object (a typed slice per plane) or raises
`SettingsError` listing every problem at once, each naming the full key:

    kingtavo:network.cidr: '10.0.0.0/33' is not an IPv4 CIDR

Non-secret planes are object-typed keys (`kingtavo:network`, `kingtavo:cluster`, ...), set in
`Pulumi.<stack>.yaml`. Secrets are their own top-level keys, declared `secret: true` in `Pulumi.yaml`
and set with `pulumi config set --secret`; they are held as `Secret` objects whose repr is masked and
which become Pulumi secret Outputs only where a resource uses them. An error message never contains
a secret's value.

The package: `fields.py` (field types), `planes.py` and `services.py` (the plane models, whose field
descriptions generate `Pulumi.yaml`), `loader.py` (reading, cross-plane checks, the environment
table's minimums), `providers.py` (unknown keys per namespace), `errors.py` (error formatting),
`secret_names.py` (the shared secret catalogue). Every public name is re-exported here.
"""

from components.core.environments import STACKS
from components.core.reserved import PROGRAM_SET_VARIABLES
from components.core.settings.errors import KEYED, SettingsError, did_you_mean, format_error, keyed
from components.core.settings.fields import (
    ENV_NAME,
    IMAGE,
    LOG_RETENTION_DAYS,
    Cidr,
    CpuQuantity,
    CronSchedule,
    EnvName,
    GitRef,
    Hostname,
    HttpsUrl,
    KubernetesVersion,
    LogRetentionDays,
    MemoryQuantity,
    PinnedImage,
    Secret,
    VpcCidr,
    matching,
)
from components.core.settings.loader import (
    COLORS,
    ECR_HOST,
    PLANES,
    PROJECT,
    SCALAR_KEYS,
    SECRET_KEYS,
    Color,
    Colors,
    ConfigReader,
    Settings,
    StackSecrets,
    check_against_account,
    known_keys,
    load_settings,
    present_config_keys,
)
from components.core.settings.planes import (
    AddonVersions,
    BackupsSettings,
    BootstrapSettings,
    ClusterSettings,
    ColorRelease,
    EtlSettings,
    NetworkSettings,
    OperatorAccess,
    Plane,
    RegistrySettings,
    SecretsSettings,
)
from components.core.settings.secret_names import (
    looks_like_secret_value,
    looks_secret,
)
from components.core.settings.services import (
    SUPABASE_API_URLS,
    AlertingSettings,
    FrontendColorRelease,
    FrontendSettings,
    LogsSettings,
    SentrySettings,
    SupabaseSettings,
    VercelLogSource,
)

__all__ = [
    "COLORS", "ECR_HOST", "ENV_NAME", "IMAGE", "KEYED", "LOG_RETENTION_DAYS", "PLANES", "PROGRAM_SET_VARIABLES",
    "PROJECT", "SCALAR_KEYS", "SECRET_KEYS", "STACKS",
    "SUPABASE_API_URLS", "AlertingSettings", "BackupsSettings", "Cidr", "ClusterSettings", "Color", "ColorRelease",
    "Colors", "ConfigReader", "CpuQuantity", "CronSchedule", "EnvName", "EtlSettings", "FrontendColorRelease",
    "FrontendSettings", "GitRef", "Hostname", "HttpsUrl", "KubernetesVersion", "LogRetentionDays", "LogsSettings",
    "MemoryQuantity", "NetworkSettings", "PinnedImage", "Plane", "RegistrySettings", "AddonVersions",
    "BootstrapSettings", "OperatorAccess", "Secret", "SecretsSettings",
    "SentrySettings", "Settings", "SettingsError", "StackSecrets", "SupabaseSettings", "VercelLogSource", "VpcCidr",
    "check_against_account", "did_you_mean", "format_error", "keyed", "known_keys", "load_settings",
    "looks_like_secret_value", "looks_secret", "matching", "present_config_keys",
]
