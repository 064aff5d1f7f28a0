"""The ETL's secrets: a KMS key for secrets, the ETL's secrets in Secrets Manager, synced into Kubernetes.

Per environment:

- a customer-managed KMS key for secrets only (rotation on, a deletion window, a key policy
  with no `*` principal), separate from the platform key so that reading a log and reading a
  secret are separate permissions;
- one Secrets Manager secret per third-party API key of the ETL service (values from secret
  stack config) and one for its PostgreSQL credential (a password from `pulumi_random`, in
  the JSON shape AWS's rotation functions use), each encrypted with that key, with the recovery
  window of `secrets.recoveryWindowDays`, and with a resource policy that lets only the ETL's
  IRSA role read it: every other principal is denied `GetSecretValue`, except the rotation
  function (database credential only) and the identity that deploys the stack (the provider
  reads back what it writes);
- the credential's rotation: a `PostgresRotator` (components/secrets/rotation.py), which the
  backup dump job's credential uses too (`EtlSecrets.rotator`);
- the Kubernetes side through the External Secrets Operator: a `SecretStore` that signs in as
  the ETL's service account and an `ExternalSecret` that fills the `etl-secrets` Secret, so no
  secret value ever passes through a Kubernetes resource input. The ETL's Deployments read it
  with `secretKeyRef` (`EtlSecrets.secret_env`).

Secret values stay Pulumi secrets up to the one input that stores them (`secret_string`).
This component was called `SecretStore` (a name External Secrets uses for one of its kinds);
its old type token is an alias, so the deployed resources keep their URNs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.alerting.routing import AlarmTargets
from components.core.context import AwsContext, StackContext, manual_rotation_tags
from components.core.kms import account_admin_statement, customer_managed_key
from components.core.reserved import DATABASE_KEYS
from components.core.secret_policy import (  # noqa: F401 - re-exported: the secrets plane's names for them
    principal_arn_patterns,
    readable_only_by_policy,
    restrict_reads,
)
from components.core.settings import EtlSettings, Secret, SecretsSettings, SupabaseSettings
from components.secrets.external_secrets import SecretKey, SyncedSecret, SyncedSecretArgs
from components.secrets.rotation import PostgresRotator, PostgresRotatorArgs, database_credential

ETL_K8S_SECRET = "etl-secrets"
# Kubernetes Secret key (libpq's environment variables) -> property of the database credential's JSON:
# `DATABASE_KEYS`, reserved in components/core/reserved.py, which settings validation reads too.


# --- policies (pure functions, so tests can read them without running the program) -----------------------


def secrets_key_policy(aws_ctx: AwsContext) -> dict:
    """The account administers the key; roles use it through their own IAM policies. No `*` principal."""
    return {"Version": "2012-10-17", "Statement": [account_admin_statement(aws_ctx)]}


def api_key_rotation_tags(key_name: str) -> dict[str, str]:
    """A third-party key is issued by its provider: Secrets Manager cannot rotate it, a person does."""
    return manual_rotation_tags(f"Issued by the provider: roll it in the provider dashboard then set "
                                f"kingtavo:etlApiKeys.{key_name} with pulumi config set --secret and run pulumi up")


def resource_slug(env_name: str) -> str:
    """`STRIPE_API_KEY` -> `stripe-api-key`, for resource names."""
    return env_name.lower().replace("_", "-")


@dataclass(frozen=True)
class EtlSecretsArgs:
    ctx: StackContext
    settings: SecretsSettings
    etl: EtlSettings
    database: SupabaseSettings
    etl_api_keys: Mapping[str, Secret]
    # The ETL's IRSA role, created before this component; its read policy is attached after it.
    etl_reader_role_arn: pulumi.Input[str]
    k8s_provider: k8s.Provider
    etl_namespace: str
    etl_service_account_name: str
    private_subnet_ids: Sequence[pulumi.Input[str]]
    vpc_id: pulumi.Input[str]
    log_retention_days: int
    # What the Kubernetes objects wait for: the operator's CRDs, the namespace and its service account.
    k8s_depends_on: Sequence[pulumi.Resource] = ()
    rotation_code: pulumi.Archive | None = None  # the built zip by default; tests may pass another archive
    alarms: AlarmTargets | None = None  # the rotation's alarms: AlertRouting.targets


class EtlSecrets(pulumi.ComponentResource):
    """Outputs: kms_key_arn, etl_secret_arns, database_secret_arn, rotator, k8s_secret_name, secret_names,
    secret_env."""

    def __init__(self, name: str, args: EtlSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        renamed = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="kingtavo:secrets:SecretStore")])
        super().__init__("kingtavo:secrets:EtlSecrets", name, None, pulumi.ResourceOptions.merge(renamed, opts))
        ctx = args.ctx
        self._tags = ctx.tags("secrets")
        self._args = args

        self.key, _ = customer_managed_key(
            f"{name}-key", f"Kingtavo {ctx.environment}: secrets in Secrets Manager", secrets_key_policy(ctx.aws),
            args.settings.kms_deletion_window_days, self._tags, parent=self, protect=ctx.protect)
        self.kms_key_arn = self.key.arn

        api_key_secrets = {
            key_name: self._secret(f"{name}-{resource_slug(key_name)}", f"etl/{key_name}",
                                   f"ETL third-party API key {key_name}", value.output(),
                                   extra_tags=api_key_rotation_tags(key_name))
            for key_name, value in sorted(args.etl_api_keys.items())
        }
        self.database_secret = self._database_secret(name)
        self.rotator = PostgresRotator(f"{name}-rotation", PostgresRotatorArgs(
            ctx, first_secret=self.database_secret, secrets_key_arn=self.key.arn,
            rotation_days=args.settings.rotation_days, vpc_id=args.vpc_id, private_subnet_ids=args.private_subnet_ids,
            log_retention_days=args.log_retention_days, code=args.rotation_code, moved_from=self,
            alarms=args.alarms),
            opts=pulumi.ResourceOptions(parent=self))

        for key_name, secret in api_key_secrets.items():
            self._restrict_reads(f"{name}-{resource_slug(key_name)}", secret, [])
        self._restrict_reads(f"{name}-database", self.database_secret, [self.rotator.role_arn])

        keys = {k8s_key: SecretKey(self.database_secret.arn, prop) for k8s_key, prop in DATABASE_KEYS.items()}
        keys.update({key_name: SecretKey(secret.arn) for key_name, secret in api_key_secrets.items()})
        self.synced = SyncedSecret(f"{name}-etl-sync", SyncedSecretArgs(
            namespace=args.etl_namespace, service_account=args.etl_service_account_name, region=ctx.aws.region,
            target_name=ETL_K8S_SECRET, keys=keys, k8s_provider=args.k8s_provider,
            depends_on=list(args.k8s_depends_on)), opts=pulumi.ResourceOptions(parent=self))

        self.etl_secret_arns: list[pulumi.Output[str]] = [
            self.database_secret.arn, *(secret.arn for secret in api_key_secrets.values())]
        self.database_secret_arn = self.database_secret.arn
        self.k8s_secret_name = ETL_K8S_SECRET
        self.secret_names: list[str] = sorted(keys)
        self.secret_env: dict[str, tuple[str, str]] = self.synced.env()
        self.register_outputs({"kmsKeyArn": self.kms_key_arn, "databaseSecretArn": self.database_secret_arn,
                               "k8sSecretName": self.k8s_secret_name})

    def _secret(self, resource_name: str, path: str, description: str, value: pulumi.Input[str],
                keep_rotated_value: bool = False, extra_tags: Mapping[str, str] | None = None,
                ) -> aws.secretsmanager.Secret:
        """A secret under `kingtavo/<environment>/`, encrypted with the secrets key, and its value."""
        ctx = self._args.ctx
        secret = aws.secretsmanager.Secret(
            resource_name,
            name=f"kingtavo/{ctx.environment}/{path}",
            description=description,
            kms_key_id=self.key.arn,
            recovery_window_in_days=self._args.settings.recovery_window_days,
            tags={**self._tags, **(extra_tags or {})},
            opts=pulumi.ResourceOptions(parent=self, protect=ctx.protect))
        # After a rotation the rotation function owns the value: Pulumi must not write the initial one back.
        ignore = ["secretString"] if keep_rotated_value else None
        aws.secretsmanager.SecretVersion(
            f"{resource_name}-value", secret_id=secret.id, secret_string=pulumi.Output.secret(value),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=ignore))
        return secret

    def _database_secret(self, name: str) -> aws.secretsmanager.Secret:
        etl, database = self._args.etl, self._args.database
        password = random.RandomPassword(f"{name}-database-password", length=40, special=False,
                                         opts=pulumi.ResourceOptions(parent=self))
        # The engine marks `result` secret; say so here too, so no code path can see it in the clear.
        credential = pulumi.Output.secret(password.result).apply(
            lambda value: database_credential(database, etl.database_user, value))
        return self._secret(f"{name}-database", "etl/database",
                            f"PostgreSQL credential of the ETL service ({etl.database_user}), rotated",
                            credential, keep_rotated_value=True)

    def _restrict_reads(self, resource_name: str, secret: aws.secretsmanager.Secret,
                        other_excepted: list[pulumi.Input[str]]) -> None:
        restrict_reads(resource_name, secret, [self._args.etl_reader_role_arn], other_excepted,
                       self._args.ctx.aws.partition, parent=self)
