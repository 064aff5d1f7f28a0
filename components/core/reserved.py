"""Names the program sets itself: settings may not set them a second time.

A leaf module (no imports from the rest of `components/`): the components that define these
names import them from here, and settings validation (`components/core/settings/`) reads the same
tables, so a new program-set name is reserved the moment it is added here. Each entry says where
its value comes from, and that text is what a settings error shows.
"""

from __future__ import annotations

# --- the ETL container's environment ---------------------------------------------------------------------

# Kubernetes Secret key (libpq's environment variables) -> property of the database credential's JSON.
DATABASE_KEYS = {"PGHOST": "host", "PGPORT": "port", "PGDATABASE": "dbname", "PGUSER": "username",
                 "PGPASSWORD": "password"}
# Every variable the ETL's Deployments set, and where from. An `etl.apiKeyNames` entry of the same name
# would replace the program's value in the container (the later `env` entry wins over `envFrom`).
ETL_ENV: dict[str, str] = {
    **{name: f"the database credential's {prop}" for name, prop in DATABASE_KEYS.items()},
    "ENVIRONMENT": "the stack's environment (ConfigMap)",
    "PORT": "kingtavo:etl.port (ConfigMap)",
    "SENTRY_DSN": "the Sentry ETL project's key (ConfigMap)",
    "SENTRY_ENVIRONMENT": "the Sentry plane (ConfigMap)",
    "RELEASE_COLOR": "the pod's color label",
}
# Prefixes owned by someone else inside the container: libpq reads every PG* variable (PGSSLMODE,
# PGOPTIONS...), the EKS pod identity webhook injects AWS_*, the kubelet injects KUBERNETES_*.
ETL_ENV_PREFIXES: dict[str, str] = {
    "PG": "libpq reads every PG* variable",
    "AWS_": "the EKS pod identity webhook injects AWS_* variables",
    "KUBERNETES_": "the kubelet injects KUBERNETES_* variables",
}
# Resource-name slugs the ETL's secrets component uses itself (`secrets-<slug>`): an API key whose slug
# is one of these would make a second resource with the same URN.
ETL_SECRET_SLUGS: dict[str, str] = {"database": "the ETL's database credential (secrets-database)"}

# --- the Vercel project's variables ----------------------------------------------------------------------

SUPABASE_URL = "NEXT_PUBLIC_SUPABASE_URL"
SUPABASE_ANON_KEY = "NEXT_PUBLIC_SUPABASE_ANON_KEY"
SUPABASE_SERVICE_ROLE_KEY = "SUPABASE_SERVICE_ROLE_KEY"
SENTRY_AUTH_TOKEN = "SENTRY_AUTH_TOKEN"  # noqa: S105 - a variable name, not a value
# Vercel variables the program sets itself, and where from.
PROGRAM_SET_VARIABLES: dict[str, str] = {
    SUPABASE_URL: "kingtavo:supabase.url",
    SUPABASE_ANON_KEY: "kingtavo:supabase.anonKey",
    "NEXT_PUBLIC_SENTRY_DSN": "the Sentry web project's key",
    "NEXT_PUBLIC_SENTRY_ENVIRONMENT": "the Sentry plane",
    SUPABASE_SERVICE_ROLE_KEY: "kingtavo:supabaseServiceRoleKey",
    SENTRY_AUTH_TOKEN: "kingtavo:sentryAuthToken",
}
# Names Vercel reserves for its function runtime (vercel.com/docs/environment-variables/reserved-environment-
# variables, 2025-12-10) and the prefix of its system variables (VERCEL_URL, VERCEL_ENV...).
VERCEL_RESERVED_NAMES = frozenset({
    "AWS_SECRET_KEY", "AWS_EXECUTION_ENV", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "NOW_REGION",
    "TZ", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"})
VERCEL_RESERVED_PREFIXES = ("VERCEL_", "NEXT_PUBLIC_VERCEL_")

# --- Supabase Edge Function secrets ----------------------------------------------------------------------

SUPABASE_RESERVED_PREFIX = "SUPABASE_"  # Supabase sets SUPABASE_URL, SUPABASE_DB_URL... itself

# --- Kubernetes namespaces -------------------------------------------------------------------------------

# Namespaces Kubernetes or another component owns: the ETL's namespace is created, labelled and deleted on
# destroy by the program, so it must be none of these.
RESERVED_NAMESPACES: dict[str, str] = {
    "default": "Kubernetes",
    "kube-system": "Kubernetes",
    "kube-public": "Kubernetes",
    "kube-node-lease": "Kubernetes",
    "external-secrets": "the External Secrets operator (components/secrets/external_secrets.py)",
    "monitoring": "cluster monitoring (components/alerting/monitoring.py)",
    "db-backup": "the backup dump job (components/backups/dump_job.py)",
}
