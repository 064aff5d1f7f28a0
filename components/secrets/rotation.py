"""`PostgresRotator`: the Lambda that rotates PostgreSQL credentials in Secrets Manager, and `.rotate(secret)`.

A credential is a Secrets Manager secret in the JSON shape AWS's PostgreSQL rotation functions
read and write (`database_credential`). The rotator is built for its first credential (the ETL's)
and `.rotate(name, secret)` hands it more (the backup dump job's, the ops recorder's): each gets a policy on exactly
that secret, Secrets Manager's permission to invoke the function on behalf of that secret only,
and a schedule. The function (lambdas/secret_rotation) runs in the private subnets and may reach
PostgreSQL and HTTPS only. Each finished rotation is recorded in `ops.key_rotations` as the ops recorder
login (its secret named by `OPS_RECORDER_SECRET_ID`); a failed write never fails the rotation.

A failed rotation is heard of twice: the function's `Errors` alarm (warning topic: the function raised), and an
EventBridge rule on Secrets Manager's `RotationFailed` for this stack's secrets (`kingtavo/<environment>/...`,
critical topic: the secret is stuck with a pending version and the next rotation will not run until someone
looks). The critical topic's policy and key let events.amazonaws.com publish (components/alerting/routing.py,
components/secrets/platform_key.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.alerting.routing import AlarmTargets
from components.core.context import StackContext
from components.core.lambda_function import (
    VPC_ACCESS_ACTIONS,
    ErrorsAlarm,
    PythonFunction,
    PythonFunctionArgs,
    moved_from_component,
    write_own_logs_statement,
)
from components.core.settings import SupabaseSettings

ROTATION_ARCHIVE = "build/lambdas/secret_rotation.zip"
# Supabase: 5432 direct and session pooler, 6543 transaction pooler.
POSTGRES_PORTS = (5432, 6543)
HTTPS_PORT = 443
READ_VALUE = "secretsmanager:GetSecretValue"
# The ops record's writer credential (components/alerting/recorder.py). The rotation function records each rotation
# with it, and is built before that secret exists (the secret is rotated by this function): it names the secret by
# name, and its policy matches the ARN Secrets Manager gives that name (the name and a 6-character suffix).
OPS_RECORDER_SECRET = "ops-recorder"
# Where build_lambdas puts Supabase's CA in every archive that writes the ops record (LAMBDA_TASK_ROOT/certs/...).
PACKAGED_DATABASE_CA = "/var/task/certs/prod-ca-2021.crt"
ROTATION_SECRET_ACTIONS = ["secretsmanager:DescribeSecret", READ_VALUE, "secretsmanager:PutSecretValue",
                           "secretsmanager:UpdateSecretVersionStage"]


def database_credential(database: SupabaseSettings, user: str, password: str) -> str:
    """The credential's JSON, in the shape AWS's PostgreSQL rotation functions read and write."""
    return json.dumps({"engine": "postgres", "host": database.host, "port": database.database_port,
                       "dbname": database.database_name, "username": database.login_user(user), "password": password})


def ops_recorder_secret_name(environment: str) -> str:
    return f"kingtavo/{environment}/{OPS_RECORDER_SECRET}"


def ops_recorder_secret_arn_pattern(partition: str, region: str, account_id: str, environment: str) -> str:
    """The ARN of `ops_recorder_secret_name`, whatever its random suffix (`?` matches one character in IAM)."""
    return (f"arn:{partition}:secretsmanager:{region}:{account_id}:secret:"
            f"{ops_recorder_secret_name(environment)}-??????")


def rotation_failed_pattern(environment: str, partition: str, region: str, account_id: str) -> dict:
    """EventBridge pattern: Secrets Manager's RotationFailed (a CloudTrail service event) for this stack's secrets.

    The event names the secret in `detail.additionalEventData.SecretId`, as its ARN; the name prefix is matched too
    in case an event carries the name."""
    arn_prefix = f"arn:{partition}:secretsmanager:{region}:{account_id}:secret:kingtavo/{environment}/"
    return {
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {
            "eventSource": ["secretsmanager.amazonaws.com"],
            "eventName": ["RotationFailed"],
            "additionalEventData": {"SecretId": [{"prefix": arn_prefix},
                                                 {"prefix": f"kingtavo/{environment}/"}]},
        },
    }


def rotation_role_policy(database_secret_arn: str, secrets_key_arn: str, log_group_arn: str, region: str,
                         ops_recorder_secret_arn: str | None = None) -> dict:
    """Least privilege for the rotation function: this one secret, this key (via Secrets Manager), its logs, and
    reading the ops record's writer credential (to record each rotation in ops.key_rotations)."""
    policy = {
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
            write_own_logs_statement(log_group_arn),
            {"Sid": "AttachToThePrivateSubnets", "Effect": "Allow", "Action": VPC_ACCESS_ACTIONS, "Resource": "*"},
        ],
    }
    if ops_recorder_secret_arn:
        policy["Statement"].append({"Sid": "ReadTheOpsRecorderCredential", "Effect": "Allow", "Action": READ_VALUE,
                                    "Resource": ops_recorder_secret_arn})
    return policy


@dataclass(frozen=True)
class PostgresRotatorArgs:
    ctx: StackContext
    first_secret: aws.secretsmanager.Secret  # the credential the rotator is built for
    secrets_key_arn: pulumi.Input[str]
    rotation_days: int
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    log_retention_days: int
    code: pulumi.Archive | None = None  # the built zip by default; tests may pass another archive
    # the component these resources were children of before the rotator existed (aliases keep their URNs)
    moved_from: pulumi.Resource | None = None
    # where its alarms go: Errors to warning, RotationFailed to critical (AlertRouting.targets)
    alarms: AlarmTargets | None = None


class PostgresRotator(pulumi.ComponentResource):
    """The rotation function and the first credential's schedule. Outputs: function_arn, role_arn."""

    def __init__(self, name: str, args: PostgresRotatorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:secrets:PostgresRotator", name, None, opts)
        ctx, self._ctx, self._moved_from = args.ctx, args.ctx, args.moved_from
        tags = ctx.tags("secrets")
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg", vpc_id=args.vpc_id,
            description="Secret rotation: out to PostgreSQL (5432, 6543) and HTTPS (Secrets Manager) only",
            ingress=[],
            egress=[{"protocol": "tcp", "from_port": port, "to_port": port, "cidr_blocks": ["0.0.0.0/0"],
                     "description": description}
                    for port, description in [*((p, "PostgreSQL (Supabase)") for p in POSTGRES_PORTS),
                                              (HTTPS_PORT, "Secrets Manager API")]],
            tags={**tags, "Name": f"kingtavo-{ctx.environment}-secret-rotation"}, opts=self._opts(f"{name}-sg"))
        self.function = PythonFunction(name, PythonFunctionArgs(
            ctx, "secrets", "secret-rotation",
            code=args.code or pulumi.FileArchive(ROTATION_ARCHIVE),
            policy=lambda log_group_arn: pulumi.Output.all(
                args.first_secret.arn, args.secrets_key_arn, log_group_arn).apply(
                lambda v: rotation_role_policy(v[0], v[1], v[2], ctx.aws.region, ops_recorder_secret_arn_pattern(
                    ctx.aws.partition, ctx.aws.region, ctx.aws.account_id, ctx.environment))),
            log_retention_days=args.log_retention_days,
            # the rotation is recorded in ops.key_rotations as the recorder login (lambdas/secret_rotation)
            environment={"SECRETS_MANAGER_ENDPOINT": f"https://secretsmanager.{ctx.aws.region}.amazonaws.com",
                         "ENVIRONMENT": ctx.environment, "PGSSLROOTCERT": PACKAGED_DATABASE_CA,
                         "OPS_RECORDER_SECRET_ID": ops_recorder_secret_name(ctx.environment)},
            description="Rotates the ETL service's PostgreSQL credential in Secrets Manager",
            role_description="The ETL database credential's rotation function",
            timeout=60, memory_size=256, vpc=(args.private_subnet_ids, [security_group.id]),
            errors_alarm=ErrorsAlarm(args.alarms.warning_topic_arn, period=300, description=args.alarms.describe(
                "The secret rotation function failed; a database credential may be left with a pending version.",
                "secret-rotation-errors")) if args.alarms else None,
            moved_from=moved_from_component(args.moved_from) if args.moved_from else {}),
            opts=pulumi.ResourceOptions(parent=self))
        if args.alarms is not None:
            self._page_on_rotation_failed(name, args.alarms)
        self.function_arn = self.function.arn
        self.role_arn = self.function.role_arn
        permission = aws.lambda_.Permission(
            f"{name}-invoked-by-secrets-manager", action="lambda:InvokeFunction", function=self.function.name,
            principal="secretsmanager.amazonaws.com", source_arn=args.first_secret.arn,
            source_account=ctx.aws.account_id, opts=self._opts(f"{name}-invoked-by-secrets-manager"))
        first = args.first_secret._name  # noqa: SLF001 - the secret's resource name names its schedule
        aws.secretsmanager.SecretRotation(
            # by name (as good as the ARN for Secrets Manager): the offline policy gate matches the secret by it
            f"{first}-rotation", secret_id=args.first_secret.name, rotation_lambda_arn=self.function.arn,
            rotation_rules={"automatically_after_days": args.rotation_days},
            # The first rotation waits a full interval: the database must first learn the generated password.
            rotate_immediately=False,
            opts=self._opts(f"{first}-rotation", depends_on=[permission]))
        self.register_outputs({"functionArn": self.function_arn, "roleArn": self.role_arn})

    def _page_on_rotation_failed(self, name: str, alarms: AlarmTargets) -> None:
        ctx = self._ctx
        rule = aws.cloudwatch.EventRule(
            f"{name}-rotation-failed", name=f"kingtavo-{ctx.environment}-secret-rotation-failed",
            description=alarms.describe(f"Secrets Manager could not rotate a kingtavo/{ctx.environment}/ secret.",
                                        "secret-rotation-failed"),
            event_pattern=json.dumps(rotation_failed_pattern(ctx.environment, ctx.aws.partition, ctx.aws.region,
                                                             ctx.aws.account_id)),
            tags={**ctx.tags("secrets"), "severity": "critical"}, opts=pulumi.ResourceOptions(parent=self))
        aws.cloudwatch.EventTarget(f"{name}-rotation-failed-page", rule=rule.name, arn=alarms.critical_topic_arn,
                                   opts=pulumi.ResourceOptions(parent=rule))

    def rotate(self, name: str, secret: aws.secretsmanager.Secret, days: int) -> aws.secretsmanager.SecretRotation:
        """Let the function rotate another PostgreSQL credential of the same JSON shape, every `days`.

        The function's role gets the rotation actions on exactly that secret, and Secrets Manager may
        invoke it only on behalf of that secret.
        """
        access = aws.iam.RolePolicy(
            f"{name}-rotation-access", role=self.function.role.id,
            policy=secret.arn.apply(lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [
                {"Sid": "RotateThisCredential", "Effect": "Allow", "Action": ROTATION_SECRET_ACTIONS,
                 "Resource": arn}]})),
            opts=self._opts(f"{name}-rotation-access"))
        invoke = aws.lambda_.Permission(
            f"{name}-rotation-invoke", action="lambda:InvokeFunction", function=self.function.name,
            principal="secretsmanager.amazonaws.com", source_arn=secret.arn, source_account=self._ctx.aws.account_id,
            opts=self._opts(f"{name}-rotation-invoke"))
        return aws.secretsmanager.SecretRotation(
            f"{name}-rotation", secret_id=secret.id, rotation_lambda_arn=self.function.arn,
            rotate_immediately=False, rotation_rules={"automatically_after_days": days},
            opts=self._opts(f"{name}-rotation", depends_on=[access, invoke]))

    def _opts(self, name: str, depends_on: list | None = None) -> pulumi.ResourceOptions:
        aliases = [pulumi.Alias(name=name, parent=self._moved_from)] if self._moved_from is not None else None
        return pulumi.ResourceOptions(parent=self, aliases=aliases, depends_on=depends_on)
