"""`AlertRecorder`: the ops record's writer credential and the alert receiver that fills `ops.alerts`.

- The credential of `ops_recorder_login` (supabase/migrations/*_ops_recorder.sql): a generated password in
  Secrets Manager, `kingtavo/<environment>/ops-recorder`, in the JSON shape `ops_record_core.url_from_secret`
  and the rotation function read (host, port, dbname of the pooler, user `ops_recorder_login.<ref>`), rotated
  by the ETL's `PostgresRotator`, encrypted with the secrets key, readable only by the writers
  (`restrict_reads`: this function, the rotation function, and the readers the root adds, e.g. the backup
  monitor). The migration creates the login without a password: once per database the operator sets it
  from this secret (`\\password ops_recorder_login`); from then on the rotation function keeps both in step.
- The receiver, lambdas/alert_recorder, built with `PythonFunction` in the private subnets (out to PostgreSQL
  5432/6543 and HTTPS only: it reaches Supabase's pooler through the NAT), subscribed to the critical and
  warning topics, and behind a function URL (auth NONE: the handler checks Alertmanager's bearer token before
  it reads the body). The token is generated here, kept in Secrets Manager for the function and handed to
  ClusterMonitoring (`webhook`) for the Kubernetes Secret Alertmanager mounts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.alerting.routing import AlarmTargets
from components.core.context import StackContext, manual_rotation_tags
from components.core.lambda_function import (
    VPC_ACCESS_ACTIONS,
    ErrorsAlarm,
    PythonFunction,
    PythonFunctionArgs,
    write_own_logs_statement,
)
from components.core.secret_policy import principal_arn_patterns, readable_only_by_policy
from components.core.settings import SupabaseSettings
from components.secrets.rotation import (
    HTTPS_PORT,
    PACKAGED_DATABASE_CA,
    POSTGRES_PORTS,
    READ_VALUE,
    PostgresRotator,
    database_credential,
    ops_recorder_secret_name,
)

RECORDER_ARCHIVE = "build/lambdas/alert_recorder.zip"
RECORDER_LOGIN = "ops_recorder_login"
# Alerts Alertmanager sends that are not history: the Watchdog fires forever (it is the heartbeat).
IGNORED_ALERTS = "Watchdog"


@dataclass(frozen=True)
class OpsRecordWebhook:
    """What Alertmanager needs to call the receiver: its URL and the bearer token (a Pulumi secret)."""

    url: pulumi.Input[str]
    token: pulumi.Output[str]


@dataclass(frozen=True)
class AlertRecorderArgs:
    ctx: StackContext
    database: SupabaseSettings  # where the database is (the pooler host, port, name; the login's user)
    secrets_kms_key_arn: pulumi.Input[str]
    rotator: PostgresRotator  # EtlSecrets.rotator: rotates the recorder's credential like the ETL's
    rotation_days: int  # secrets.rotationDays
    recovery_window_days: int  # secrets.recoveryWindowDays
    alarms: AlarmTargets  # AlertRouting.targets: the topics it listens to, and where its Errors alarm goes
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    log_retention_days: int
    code: pulumi.Archive | None = None  # the built zip by default; tests may pass another archive


def recorder_role_policy(secret_arns: Sequence[str], secrets_key_arn: str, log_group_arn: str, region: str) -> dict:
    """Least privilege for the receiver: read its two secrets (through the secrets key), write its logs, attach."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadTheRecorderCredentialAndWebhookToken", "Effect": "Allow", "Action": READ_VALUE,
         "Resource": sorted(secret_arns)},
        {"Sid": "DecryptThemThroughSecretsManager", "Effect": "Allow", "Action": "kms:Decrypt",
         "Resource": secrets_key_arn,
         "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}},
        write_own_logs_statement(log_group_arn),
        {"Sid": "AttachToThePrivateSubnets", "Effect": "Allow", "Action": VPC_ACCESS_ACTIONS, "Resource": "*"},
    ]}


def read_recorder_statements(secret_arn: str, secrets_key_arn: str, region: str) -> list[dict]:
    """What another writer's role needs to read the recorder credential (add to its policy)."""
    return [
        {"Sid": "ReadTheOpsRecorderCredential", "Effect": "Allow", "Action": READ_VALUE, "Resource": secret_arn},
        {"Sid": "DecryptTheOpsRecorderCredential", "Effect": "Allow", "Action": "kms:Decrypt",
         "Resource": secrets_key_arn,
         "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}},
    ]


class AlertRecorder(pulumi.ComponentResource):
    """Outputs: secret_arn (the recorder credential), function (PythonFunction), webhook (OpsRecordWebhook)."""

    def __init__(self, name: str, args: AlertRecorderArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:alerting:AlertRecorder", name, None, opts)
        ctx, self._name, self._args = args.ctx, name, args
        tags = ctx.tags("alerting")
        child = pulumi.ResourceOptions(parent=self)

        password = random.RandomPassword(f"{name}-db-password", length=40, special=False, opts=child)
        self.credential = aws.secretsmanager.Secret(
            f"{name}-credential", name=ops_recorder_secret_name(ctx.environment),
            description=f"PostgreSQL credential of the ops record writers ({RECORDER_LOGIN}), rotated",
            kms_key_id=args.secrets_kms_key_arn, recovery_window_in_days=args.recovery_window_days, tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=ctx.protect))
        aws.secretsmanager.SecretVersion(
            f"{name}-credential-initial", secret_id=self.credential.id,
            secret_string=pulumi.Output.secret(password.result).apply(
                lambda value: database_credential(args.database, RECORDER_LOGIN, value)),
            # After the first rotation the rotation function owns the value: never write the initial one back.
            opts=pulumi.ResourceOptions(parent=self.credential, ignore_changes=["secretString"]))
        args.rotator.rotate(f"{name}-credential", self.credential, args.rotation_days)

        token = random.RandomPassword(f"{name}-webhook-token", length=48, special=False, opts=child)
        self.token_secret = aws.secretsmanager.Secret(
            f"{name}-webhook-token", name=f"kingtavo/{ctx.environment}/alertmanager-webhook-token",
            description="Bearer token Alertmanager sends to the alert recorder's function URL",
            kms_key_id=args.secrets_kms_key_arn, recovery_window_in_days=args.recovery_window_days,
            tags={**tags, **manual_rotation_tags(
                "Generated by pulumi_random: pulumi up --replace its RandomPassword renews both copies at once")},
            opts=pulumi.ResourceOptions(parent=self, protect=ctx.protect))
        aws.secretsmanager.SecretVersion(
            f"{name}-webhook-token-value", secret_id=self.token_secret.id,
            secret_string=pulumi.Output.secret(token.result), opts=pulumi.ResourceOptions(parent=self.token_secret))

        self.function = self._function(name, args)
        self._subscribe(name, args.alarms)
        url = aws.lambda_.FunctionUrl(f"{name}-webhook-url", function_name=self.function.name,
                                      authorization_type="NONE", opts=child)
        # Auth NONE still needs the resource policy to allow the URL (and, since October 2025, the invoke behind
        # it); InvokeFunction is limited to calls that come through the URL.
        aws.lambda_.Permission(f"{name}-webhook-url-public", action="lambda:InvokeFunctionUrl",
                               function=self.function.name, principal="*", function_url_auth_type="NONE", opts=child)
        aws.lambda_.Permission(f"{name}-webhook-url-invoke", action="lambda:InvokeFunction",
                               function=self.function.name, principal="*", invoked_via_function_url=True, opts=child)
        self.webhook = OpsRecordWebhook(url=url.function_url, token=pulumi.Output.secret(token.result))
        self.secret_arn = self.credential.arn
        self._restrict(f"{name}-webhook-token", self.token_secret, [self.function.role_arn])
        self.register_outputs({"secretArn": self.secret_arn, "functionName": self.function.name,
                               "webhookUrl": url.function_url})

    def _function(self, name: str, args: AlertRecorderArgs) -> PythonFunction:
        ctx = args.ctx
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg", vpc_id=args.vpc_id,
            description="Alert recorder: out to PostgreSQL (5432, 6543) and HTTPS (Secrets Manager) only",
            ingress=[],
            egress=[{"protocol": "tcp", "from_port": port, "to_port": port, "cidr_blocks": ["0.0.0.0/0"],
                     "description": description}
                    for port, description in [*((p, "PostgreSQL (Supabase pooler)") for p in POSTGRES_PORTS),
                                              (HTTPS_PORT, "Secrets Manager API")]],
            tags={**ctx.tags("alerting"), "Name": f"kingtavo-{ctx.environment}-alert-recorder"},
            opts=pulumi.ResourceOptions(parent=self))
        severities = pulumi.Output.all(args.alarms.critical_topic_arn, args.alarms.warning_topic_arn).apply(
            lambda arns: json.dumps({arns[0]: "critical", arns[1]: "warning"}, sort_keys=True))
        return PythonFunction(name, PythonFunctionArgs(
            ctx, "alerting", "alert-recorder",
            code=args.code or pulumi.FileArchive(RECORDER_ARCHIVE),
            policy=lambda log_group_arn: pulumi.Output.all(
                self.credential.arn, self.token_secret.arn, args.secrets_kms_key_arn, log_group_arn).apply(
                lambda v: recorder_role_policy([v[0], v[1]], v[2], v[3], ctx.aws.region)),
            log_retention_days=args.log_retention_days,
            environment={"ENVIRONMENT": ctx.environment, "OPS_RECORDER_SECRET_ARN": self.credential.arn,
                         "ALERTMANAGER_TOKEN_SECRET_ARN": self.token_secret.arn, "TOPIC_SEVERITIES": severities,
                         "PGSSLROOTCERT": PACKAGED_DATABASE_CA, "IGNORED_ALERTS": IGNORED_ALERTS},
            description="Records CloudWatch, Vercel and Alertmanager alerts in ops.alerts",
            role_description="The ops record's alert receiver",
            timeout=30, memory_size=256, vpc=(args.private_subnet_ids, [security_group.id]),
            errors_alarm=ErrorsAlarm(args.alarms.warning_topic_arn, period=300, description=args.alarms.describe(
                "The alert recorder failed; alerts still page but may be missing from ops.alerts.",
                "alert-recorder-errors"))),
            opts=pulumi.ResourceOptions(parent=self))

    def _subscribe(self, name: str, alarms: AlarmTargets) -> None:
        for severity in ("critical", "warning"):
            topic_arn = alarms.topic(severity)
            allowed = aws.lambda_.Permission(
                f"{name}-invoked-by-{severity}-topic", action="lambda:InvokeFunction", function=self.function.name,
                principal="sns.amazonaws.com", source_arn=topic_arn, opts=pulumi.ResourceOptions(parent=self))
            aws.sns.TopicSubscription(
                f"{name}-{severity}-subscription", topic=topic_arn, protocol="lambda", endpoint=self.function.arn,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[allowed]))

    def restrict_reads(self, other_reader_arns: Sequence[pulumi.Input[str]] = ()) -> None:
        """The credential's resource policy: only this function, the rotation function and `other_reader_arns`
        (every other writer's role) may read it. Call once, after the other writers exist."""
        self._restrict(f"{self._name}-credential", self.credential,
                       [self.function.role_arn, self._args.rotator.role_arn, *other_reader_arns])

    def _restrict(self, name: str, secret: aws.secretsmanager.Secret, readers: list[pulumi.Input[str]]) -> None:
        caller = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self))
        deployer = principal_arn_patterns(caller.arn, self._args.ctx.aws.partition)
        policy = pulumi.Output.all(*readers).apply(lambda arns: json.dumps(readable_only_by_policy(arns, deployer)))
        aws.secretsmanager.SecretPolicy(f"{name}-policy", secret_arn=secret.arn, policy=policy,
                                        block_public_policy=True, opts=pulumi.ResourceOptions(parent=self))
