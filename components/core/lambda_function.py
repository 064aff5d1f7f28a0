"""The one way this program builds a Lambda function: `PythonFunction`.

Every function gets the same parts, so they cannot drift apart: an encrypted log group with a
retention, a role only Lambda can assume on behalf of this account, one least-privilege inline
policy (always including writing to its own log group), the function writing JSON logs there, and,
unless a caller says otherwise, an `Errors` alarm to a topic. Optional: VPC attachment, reserved
concurrency, application and system log levels.

The three functions (secret rotation, Vercel alert forwarder, backup monitor) existed before this
builder, as children of their planes' components. `moved_from` and `legacy_names` alias every part
to its old URN, so a real `pulumi up` moves them into the builder without replacing anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.core.context import StackContext

RUNTIME = "python3.12"
# Lambda's documented minimum to attach to a VPC; these EC2 actions take no resource-level scoping.
VPC_ACCESS_ACTIONS = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
                      "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]


def lambda_trust_policy(account_id: str) -> str:
    """Only Lambda may assume the role, and only on behalf of this account."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}}]})


@dataclass(frozen=True)
class ErrorsAlarm:
    """An alarm on the function's `Errors` metric: any error in `period` seconds notifies the topic."""

    topic_arn: pulumi.Input[str]
    description: str
    period: int = 300
    severity: str = "warning"


@dataclass(frozen=True)
class PythonFunctionArgs:
    ctx: StackContext
    plane: str
    function_name: str  # the physical name: kingtavo-<environment>-<function_name>
    code: pulumi.Input[pulumi.Archive]
    # The role's whole policy document, given the log group's ARN (its statement to write logs included).
    policy: Callable[[pulumi.Output[str]], pulumi.Input[dict]]
    log_retention_days: int
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    description: str | None = None
    role_description: str | None = None
    timeout: int = 60
    memory_size: int = 128
    reserved_concurrency: int | None = None
    # (subnet ids, security group ids) to run inside the VPC
    vpc: tuple[Sequence[pulumi.Input[str]], Sequence[pulumi.Input[str]]] | None = None
    application_log_level: str | None = None
    system_log_level: str | None = None
    errors_alarm: ErrorsAlarm | None = None
    # where these parts lived before the builder: their old parent (a resource or URN), per part
    moved_from: Mapping[str, pulumi.Input[str] | pulumi.Resource] = field(default_factory=dict)
    legacy_names: Mapping[str, str] = field(default_factory=dict)


def write_own_logs_statement(log_group_arn: str) -> dict:
    return {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*"}


class PythonFunction(pulumi.ComponentResource):
    """A Python Lambda function with its log group, role, policy and Errors alarm. Outputs: function, arn, name,
    role, log_group."""

    def __init__(self, name: str, args: PythonFunctionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:core:PythonFunction", name, None, opts)
        self._args = args
        ctx, tags = args.ctx, args.ctx.tags(args.plane)
        physical = f"kingtavo-{ctx.environment}-{args.function_name}"

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/aws/lambda/{physical}", retention_in_days=args.log_retention_days,
            kms_key_id=ctx.key_arn, tags=tags, opts=self._opts("logs", f"{name}-logs"))
        self.role = aws.iam.Role(
            f"{name}-role", description=args.role_description,
            assume_role_policy=lambda_trust_policy(ctx.aws.account_id), tags=tags,
            opts=self._opts("role", f"{name}-role"))
        policy = aws.iam.RolePolicy(
            f"{name}-least-privilege", role=self.role.id,
            policy=pulumi.Output.from_input(args.policy(self.log_group.arn)).apply(json.dumps),
            opts=self._opts("policy", f"{name}-least-privilege"))
        logging = {"log_format": "JSON", "log_group": self.log_group.name}
        if args.application_log_level:
            logging["application_log_level"] = args.application_log_level
        if args.system_log_level:
            logging["system_log_level"] = args.system_log_level
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=physical,
            description=args.description,
            runtime=RUNTIME,
            handler="handler.lambda_handler",
            code=args.code,
            role=self.role.arn,
            timeout=args.timeout,
            memory_size=args.memory_size,
            reserved_concurrent_executions=args.reserved_concurrency,
            vpc_config=({"subnet_ids": list(args.vpc[0]), "security_group_ids": list(args.vpc[1])}
                        if args.vpc else None),
            environment={"variables": dict(args.environment)} if args.environment else None,
            logging_config=logging,
            tags=tags,
            opts=self._opts("function", f"{name}-function", depends_on=[self.log_group, policy]))
        if args.errors_alarm is not None:
            alarm = args.errors_alarm
            aws.cloudwatch.MetricAlarm(
                f"{name}-errors", name=f"{physical}-errors", alarm_description=alarm.description,
                namespace="AWS/Lambda", metric_name="Errors", dimensions={"FunctionName": self.function.name},
                statistic="Sum", period=alarm.period, evaluation_periods=1, comparison_operator="GreaterThanThreshold",
                threshold=0, treat_missing_data="notBreaching", alarm_actions=[alarm.topic_arn],
                tags={**tags, "severity": alarm.severity}, opts=self._opts("errors", f"{name}-errors"))
        self.arn = self.function.arn
        self.name = self.function.name
        self.role_arn = self.role.arn
        self.register_outputs({"arn": self.arn, "name": self.name})

    def _opts(self, part: str, name: str, depends_on: list | None = None) -> pulumi.ResourceOptions:
        old_parent = self._args.moved_from.get(part)
        aliases = ([pulumi.Alias(name=self._args.legacy_names.get(part, name), parent=old_parent)]
                   if old_parent is not None else None)
        return pulumi.ResourceOptions(parent=self, aliases=aliases, depends_on=depends_on)


def moved_from_component(component: pulumi.Resource, role_name: str | None = None,
                         role_parts: Sequence[str] = ()) -> dict[str, pulumi.Input[str] | pulumi.Resource]:
    """`moved_from` for parts that were children of `component`; `role_parts` were children of its role."""
    moved: dict[str, pulumi.Input[str] | pulumi.Resource] = {
        part: component for part in ("logs", "role", "policy", "function", "errors")}
    if role_name is not None:
        old_role_urn = component.urn.apply(lambda urn: f"{urn.rsplit('::', 1)[0]}$aws:iam/role:Role::{role_name}")
        moved.update({part: old_role_urn for part in role_parts})
    return moved
