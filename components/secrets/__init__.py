"""The secrets plane: keys, the ETL's secrets and their rotation, External Secrets, Supabase's secrets."""

from components.secrets.edge_functions import SupabaseSecrets, SupabaseSecretsArgs
from components.secrets.etl_secrets import EtlSecrets, EtlSecretsArgs
from components.secrets.external_secrets import ExternalSecretsOperator, ExternalSecretsOperatorArgs
from components.secrets.platform_key import PlatformKey, PlatformKeyArgs
from components.secrets.rotation import POSTGRES_PORTS, PostgresRotator, PostgresRotatorArgs

__all__ = [
    "SupabaseSecrets", "SupabaseSecretsArgs", "EtlSecrets", "EtlSecretsArgs", "ExternalSecretsOperator",
    "ExternalSecretsOperatorArgs", "PlatformKey", "PlatformKeyArgs", "POSTGRES_PORTS", "PostgresRotator",
    "PostgresRotatorArgs",
]
