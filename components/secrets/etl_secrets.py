"""The secrets plane: a KMS key for secrets, the ETL's secrets in Secrets Manager, and their rotation.

Per environment:

- a customer-managed KMS key for secrets only (rotation on, a deletion window, a key policy
  with no `*` principal), separate from the platform key so that reading a log and reading a
  secret are separate permissions;
- one Secrets Manager secret per third-party API key of the ETL service (values from secret
  stack config) and one for its PostgreSQL credential (a password from `pulumi_random`, in
  the JSON shape AWS's rotation functions use), each encrypted with that key, with a recovery
  window, and with a resource policy that lets only the ETL's IRSA role read it: every other
  principal is denied `GetSecretValue`, except the rotation function (database credential
  only) and the identity that deploys the stack (the provider reads back what it writes);
- the rotation of the database credential: a Lambda in the private subnets (it connects to
  the database and to Secrets Manager, nothing else), a role that may touch only that secret,
  its own encrypted log group, Secrets Manager's permission to invoke it, and the schedule;
- the Kubernetes side through the External Secrets Operator: a `SecretStore` that signs in as
  the ETL's service account and an `ExternalSecret` that fills the `etl-secrets` Secret, so no
  secret value ever passes through a Kubernetes resource input. The ETL's Deployments read it
  with `secretKeyRef` (`SecretStore.secret_env`).

Secret values stay Pulumi secrets up to the one input that stores them (`secret_string`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.compute.identity import service_trust_policy
from components.core.context import AwsContext, StackContext, manual_rotation_tags
from components.core.kms import account_admin_statement, customer_managed_key
from components.core.settings import EtlSettings, Secret, SecretsSettings
from components.secrets.external_secrets import SecretKey, SyncedSecret, SyncedSecretArgs

ESO_CHART = "external-secrets"
ESO_CHART_VERSION = "1.0.0"  # serves external-secrets.io/v1, the API components/secrets/external_secrets.py uses
ESO_REPOSITORY = "https://charts.external-secrets.io"
ESO_NAMESPACE = "external-secrets"

ETL_K8S_SECRET = "etl-secrets"
# Kubernetes Secret key (libpq's environment variables) -> property of the database credential's JSON.
DATABASE_KEYS = {"PGHOST": "host", "PGPORT": "port", "PGDATABASE": "dbname", "PGUSER": "username",
                 "PGPASSWORD": "password"}
ROTATION_ARCHIVE = "build/lambdas/secret_rotation.zip"
# Supabase: 5432 direct and session pooler, 6543 transaction pooler.
POSTGRES_PORTS = (5432, 6543)
HTTPS_PORT = 443

READ_VALUE = "secretsmanager:GetSecretValue"
ROTATION_SECRET_ACTIONS = ["secretsmanager:DescribeSecret", READ_VALUE, "secretsmanager:PutSecretValue",
                           "secretsmanager:UpdateSecretVersionStage"]
# Lambda's documented minimum to attach to a VPC; these EC2 actions take no resource-level scoping.
VPC_ACCESS_ACTIONS = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
                      "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]


# --- policies (pure functions, so tests can read them without running the program) -----------------------


def secrets_key_policy(aws_ctx: AwsContext) -> dict:
    """The account administers the key; roles use it through their own IAM policies. No `*` principal."""
    return {"Version": "2012-10-17", "Statement": [account_admin_statement(aws_ctx)]}


def principal_arn_patterns(caller_arn: str, partition: str) -> list[str]:
    """`aws:PrincipalArn` patterns that match the caller: an assumed role's session maps to its role (any path)."""
    if ":assumed-role/" not in caller_arn:
        return [caller_arn]  # an IAM user or the account root: the caller ARN is the principal ARN
    account = caller_arn.split(":")[4]
    role_name = caller_arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
    base = f"arn:{partition}:iam::{account}:role"
    return [f"{base}/{role_name}", f"{base}/*/{role_name}"]


def readable_only_by_policy(reader_arns: Sequence[str], also_excepted: Sequence[str]) -> dict:
    """A secret's resource policy: the readers may read it; every other principal is denied its value.

    `also_excepted` are principals that the deny spares but the policy does not grant anything
    (the rotation function and the deployer get their access from their own IAM policies).
    """
    readers = sorted(reader_arns)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadersMayRead", "Effect": "Allow", "Principal": {"AWS": readers},
             "Action": [READ_VALUE, "secretsmanager:DescribeSecret"], "Resource": "*"},
            {"Sid": "NobodyElseMayRead", "Effect": "Deny", "Principal": "*", "Action": READ_VALUE, "Resource": "*",
             "Condition": {"StringNotLike": {"aws:PrincipalArn": [*readers, *sorted(also_excepted)]}}},
        ],
    }


def rotation_role_policy(database_secret_arn: str, secrets_key_arn: str, log_group_arn: str, region: str) -> dict:
    """Least privilege for the rotation function: this one secret, this key (via Secrets Manager), its logs."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "RotateTheDatabaseCredential", "Effect": "Allow", "Action": ROTATION_SECRET_ACTIONS,
             "Resource": database_secret_arn},
            # GetRandomPassword acts on no resource, so IAM accepts only "*" here.
            {"Sid": "GeneratePasswords", "Effect": "Allow", "Action": "secretsmanager:GetRandomPassword",
             "Resource": "*"},
            {"Sid": "UseTheSecretsKeyThroughSecretsManager", "Effect": "Allow",
             "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": secrets_key_arn,
             "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}},
            {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"{log_group_arn}:*"},
            {"Sid": "AttachToThePrivateSubnets", "Effect": "Allow", "Action": VPC_ACCESS_ACTIONS, "Resource": "*"},
        ],
    }


def database_credential(etl: EtlSettings, password: str) -> str:
    """The credential's JSON, in the shape AWS's PostgreSQL rotation functions read and write."""
    return json.dumps({"engine": "postgres", "host": etl.database_host, "port": etl.database_port,
                       "dbname": etl.database_name, "username": etl.database_user, "password": password})


def api_key_rotation_tags(key_name: str) -> dict[str, str]:
    """A third-party key is issued by its provider: Secrets Manager cannot rotate it, a person does."""
    return manual_rotation_tags(f"Issued by the provider: roll it in the provider dashboard then set "
                                f"kingtavo:etlApiKeys.{key_name} with pulumi config set --secret and run pulumi up")


def resource_slug(env_name: str) -> str:
    """`STRIPE_API_KEY` -> `stripe-api-key`, for resource names."""
    return env_name.lower().replace("_", "-")


# --- the External Secrets Operator --------------------------------------------------------------------------


@dataclass(frozen=True)
class ExternalSecretsOperatorArgs:
    ctx: StackContext
    k8s_provider: k8s.Provider


class ExternalSecretsOperator(pulumi.ComponentResource):
    """The External Secrets Operator (pinned Helm chart, its CRDs included). `release` is what CRs depend on."""

    def __init__(self, name: str, args: ExternalSecretsOperatorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:secrets:ExternalSecretsOperator", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": ESO_NAMESPACE, "labels": {
                "app.kubernetes.io/part-of": "kingtavo",
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            }},
            opts=k8s_opts)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=ESO_CHART,
            chart=ESO_CHART,
            version=ESO_CHART_VERSION,
            namespace=ESO_NAMESPACE,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=ESO_REPOSITORY),
            values={"installCRDs": True, "replicaCount": 2, "podDisruptionBudget": {"enabled": True}},
            atomic=True,
            cleanup_on_fail=True,
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=[namespace]))
        self.register_outputs({"namespace": ESO_NAMESPACE})


# --- the secret store ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretStoreArgs:
    ctx: StackContext
    settings: SecretsSettings
    etl: EtlSettings
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


class SecretStore(pulumi.ComponentResource):
    """Outputs: kms_key_arn, etl_secret_arns, database_secret_arn, rotation_function_arn, k8s_secret_name,
    secret_names, secret_env."""

    def __init__(self, name: str, args: SecretStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:secrets:SecretStore", name, None, opts)
        ctx = args.ctx.aws
        self._tags = args.ctx.tags("secrets")
        self._args = args

        self.key, _ = customer_managed_key(
            f"{name}-key", f"Kingtavo {args.ctx.environment}: secrets in Secrets Manager", secrets_key_policy(ctx),
            args.settings.kms_deletion_window_days, self._tags, parent=self, protect=args.ctx.protect)
        self.kms_key_arn = self.key.arn

        caller = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self))
        self._deployer = principal_arn_patterns(caller.arn, ctx.partition)

        api_key_secrets = {
            key_name: self._secret(f"{name}-{resource_slug(key_name)}", f"etl/{key_name}",
                                   f"ETL third-party API key {key_name}", value.output(),
                                   extra_tags=api_key_rotation_tags(key_name))
            for key_name, value in sorted(args.etl_api_keys.items())
        }
        self.database_secret = self._database_secret(name)
        self.rotation_function, rotation_role = self._rotation(name)
        self._rotation_role = rotation_role

        for key_name, secret in api_key_secrets.items():
            self._restrict_reads(f"{name}-{resource_slug(key_name)}", secret, [])
        self._restrict_reads(f"{name}-database", self.database_secret, [rotation_role.arn])

        keys = {k8s_key: SecretKey(self.database_secret.arn, prop) for k8s_key, prop in DATABASE_KEYS.items()}
        keys.update({key_name: SecretKey(secret.arn) for key_name, secret in api_key_secrets.items()})
        self.synced = SyncedSecret(f"{name}-etl-sync", SyncedSecretArgs(
            namespace=args.etl_namespace, service_account=args.etl_service_account_name, region=ctx.region,
            target_name=ETL_K8S_SECRET, keys=keys, k8s_provider=args.k8s_provider,
            depends_on=list(args.k8s_depends_on)), opts=pulumi.ResourceOptions(parent=self))

        self.etl_secret_arns: list[pulumi.Output[str]] = [
            self.database_secret.arn, *(secret.arn for secret in api_key_secrets.values())]
        self.database_secret_arn = self.database_secret.arn
        self.rotation_function_arn = self.rotation_function.arn
        self.k8s_secret_name = ETL_K8S_SECRET
        self.secret_names: list[str] = sorted(keys)
        self.secret_env: dict[str, tuple[str, str]] = self.synced.env()
        self.register_outputs({"kmsKeyArn": self.kms_key_arn, "databaseSecretArn": self.database_secret_arn,
                               "k8sSecretName": self.k8s_secret_name})

    def rotate(self, name: str, secret: aws.secretsmanager.Secret, days: int) -> aws.secretsmanager.SecretRotation:
        """Let the rotation function rotate another PostgreSQL credential of the same JSON shape, every `days`.

        The function's role gets the rotation actions on exactly that secret, and Secrets Manager may
        invoke it only on behalf of that secret.
        """
        args = self._args
        access = aws.iam.RolePolicy(
            f"{name}-rotation-access", role=self._rotation_role.id,
            policy=secret.arn.apply(lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [
                {"Sid": "RotateThisCredential", "Effect": "Allow", "Action": ROTATION_SECRET_ACTIONS,
                 "Resource": arn}]})),
            opts=pulumi.ResourceOptions(parent=self))
        invoke = aws.lambda_.Permission(
            f"{name}-rotation-invoke", action="lambda:InvokeFunction", function=self.rotation_function.name,
            principal="secretsmanager.amazonaws.com", source_arn=secret.arn, source_account=args.ctx.aws.account_id,
            opts=pulumi.ResourceOptions(parent=self))
        return aws.secretsmanager.SecretRotation(
            f"{name}-rotation", secret_id=secret.id, rotation_lambda_arn=self.rotation_function.arn,
            rotate_immediately=False, rotation_rules={"automatically_after_days": days},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access, invoke]))

    def _secret(self, resource_name: str, path: str, description: str, value: pulumi.Input[str],
                keep_rotated_value: bool = False, extra_tags: Mapping[str, str] | None = None,
                ) -> aws.secretsmanager.Secret:
        """A secret under `kingtavo/<environment>/`, encrypted with the secrets key, and its value."""
        args = self._args
        secret = aws.secretsmanager.Secret(
            resource_name,
            name=f"kingtavo/{args.ctx.environment}/{path}",
            description=description,
            kms_key_id=self.key.arn,
            recovery_window_in_days=args.settings.recovery_window_days,
            tags={**self._tags, **(extra_tags or {})},
            opts=pulumi.ResourceOptions(parent=self, protect=args.ctx.protect))
        # After a rotation the rotation function owns the value: Pulumi must not write the initial one back.
        ignore = ["secretString"] if keep_rotated_value else None
        aws.secretsmanager.SecretVersion(
            f"{resource_name}-value", secret_id=secret.id, secret_string=pulumi.Output.secret(value),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=ignore))
        return secret

    def _database_secret(self, name: str) -> aws.secretsmanager.Secret:
        etl = self._args.etl
        password = random.RandomPassword(f"{name}-database-password", length=40, special=False,
                                         opts=pulumi.ResourceOptions(parent=self))
        # The engine marks `result` secret; say so here too, so no code path can see it in the clear.
        credential = pulumi.Output.secret(password.result).apply(lambda value: database_credential(etl, value))
        return self._secret(f"{name}-database", "etl/database",
                            f"PostgreSQL credential of the ETL service ({etl.database_user}), rotated",
                            credential, keep_rotated_value=True)

    def _restrict_reads(self, resource_name: str, secret: aws.secretsmanager.Secret,
                        other_excepted: list[pulumi.Input[str]]) -> None:
        policy = pulumi.Output.all(self._args.etl_reader_role_arn, *other_excepted).apply(
            lambda arns: json.dumps(readable_only_by_policy([arns[0]], [*arns[1:], *self._deployer])))
        aws.secretsmanager.SecretPolicy(f"{resource_name}-policy", secret_arn=secret.arn, policy=policy,
                                        block_public_policy=True, opts=pulumi.ResourceOptions(parent=self))

    def _rotation(self, name: str) -> tuple[aws.lambda_.Function, aws.iam.Role]:
        """The rotation function for the database credential (and its role), and the schedule that calls it."""
        args, ctx = self._args, self._args.ctx.aws
        child = pulumi.ResourceOptions(parent=self)
        function_name = f"kingtavo-{args.ctx.environment}-secret-rotation"
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-rotation-logs", name=f"/aws/lambda/{function_name}", retention_in_days=args.log_retention_days,
            kms_key_id=args.ctx.key_arn, tags=self._tags, opts=child)
        rotation_role = aws.iam.Role(
            f"{name}-rotation-role", description="The ETL database credential's rotation function",
            assume_role_policy=service_trust_policy("lambda.amazonaws.com", ctx.account_id), tags=self._tags,
            opts=child)
        role_policy = aws.iam.RolePolicy(
            f"{name}-rotation-least-privilege", role=rotation_role.id,
            policy=pulumi.Output.all(self.database_secret.arn, self.key.arn, log_group.arn).apply(
                lambda v: json.dumps(rotation_role_policy(v[0], v[1], v[2], ctx.region))),
            opts=child)
        security_group = aws.ec2.SecurityGroup(
            f"{name}-rotation-sg", vpc_id=args.vpc_id,
            description="Secret rotation: out to PostgreSQL (5432, 6543) and HTTPS (Secrets Manager) only",
            ingress=[],
            egress=[{"protocol": "tcp", "from_port": port, "to_port": port, "cidr_blocks": ["0.0.0.0/0"],
                     "description": description}
                    for port, description in [*((p, "PostgreSQL (Supabase)") for p in POSTGRES_PORTS),
                                              (HTTPS_PORT, "Secrets Manager API")]],
            tags={**self._tags, "Name": f"kingtavo-{args.ctx.environment}-secret-rotation"}, opts=child)
        function = aws.lambda_.Function(
            f"{name}-rotation-function",
            name=function_name,
            description="Rotates the ETL service's PostgreSQL credential in Secrets Manager",
            runtime="python3.12",
            handler="handler.lambda_handler",
            code=args.rotation_code or pulumi.FileArchive(ROTATION_ARCHIVE),
            role=rotation_role.arn,
            timeout=60,
            memory_size=256,
            vpc_config={"subnet_ids": list(args.private_subnet_ids), "security_group_ids": [security_group.id]},
            environment={"variables": {
                "SECRETS_MANAGER_ENDPOINT": f"https://secretsmanager.{ctx.region}.amazonaws.com"}},
            logging_config={"log_format": "JSON", "log_group": log_group.name},
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, role_policy]))
        permission = aws.lambda_.Permission(
            f"{name}-rotation-invoked-by-secrets-manager", action="lambda:InvokeFunction", function=function.name,
            principal="secretsmanager.amazonaws.com", source_arn=self.database_secret.arn,
            source_account=ctx.account_id, opts=child)
        aws.secretsmanager.SecretRotation(
            # by name (as good as the ARN for Secrets Manager): the offline policy gate matches the secret by it
            f"{name}-database-rotation", secret_id=self.database_secret.name, rotation_lambda_arn=function.arn,
            rotation_rules={"automatically_after_days": args.settings.rotation_days},
            # The first rotation waits a full interval: the database must first learn the generated password.
            rotate_immediately=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]))
        return function, rotation_role
