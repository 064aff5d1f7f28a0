"""Alert routing on AWS: critical pages through PagerDuty, warnings go to Slack.

One KMS-encrypted SNS topic per severity. `critical` is subscribed to PagerDuty (an HTTPS
subscription to the integration's enqueue URL, which embeds the integration key, so the
endpoint is a Pulumi secret) and both topics to the Slack channel through AWS Chatbot, so a
page is also visible where the team talks. CloudWatch alarms elsewhere in the program
(backups) publish to `critical_topic_arn` / `warning_topic_arn`. The cluster's Alertmanager
routes the same way (components/alerting/monitoring.py).

`targets` (an `AlarmTargets`) is what other planes' alarms need: both topic ARNs and the runbook base URL,
so every alarm description ends with its runbook page. The routing is built before the secrets plane (the
rotation function's alarms need it); `page_on_vercel_errors(...)` is called later, once the Vercel project
exists.

In production that declares a Vercel custom alert rule on the production project's 5xx share (above
`alerting.serverErrorSharePercent` over `alerting.serverErrorWindowMinutes`, 5% over 5 minutes by default).
Vercel notifies the Slack channel directly, and an account webhook reaches PagerDuty through a small forwarder
Lambda (lambdas/vercel_alert_forwarder) that verifies Vercel's signature and publishes to the critical topic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumiverse_vercel as vercel

from components.alerting.iam import chatbot_policy, vercel_forwarder_policy
from components.compute.identity import service_trust_policy
from components.core.context import StackContext, manual_rotation_tags
from components.core.lambda_function import (
    ErrorsAlarm,
    PythonFunction,
    PythonFunctionArgs,
    moved_from_component,
)
from components.core.secret_policy import restrict_reads
from components.core.settings import AlertingSettings, Secret

SEVERITIES = ("critical", "warning")


def pagerduty_enqueue_url(integration_key: str) -> str:
    """The CloudWatch-integration endpoint PagerDuty gives for SNS: the key is part of the URL."""
    return f"https://events.pagerduty.com/integration/{integration_key}/enqueue"


@dataclass(frozen=True)
class AlarmTargets:
    """Where an AWS alarm goes and where its runbook is: what other planes' alarms are given."""

    critical_topic_arn: pulumi.Input[str]
    warning_topic_arn: pulumi.Input[str]
    runbook_base_url: str

    def topic(self, severity: str) -> pulumi.Input[str]:
        if severity not in SEVERITIES:
            raise ValueError(f"severity {severity!r} is not one of {SEVERITIES}")
        return self.critical_topic_arn if severity == "critical" else self.warning_topic_arn

    def runbook(self, slug: str) -> str:
        return f"{self.runbook_base_url.rstrip('/')}/{slug}.md"

    def describe(self, text: str, slug: str) -> str:
        """An alarm description: what happened, then `Runbook: <url>` (docs/alerts.md reads it back)."""
        return f"{text} Runbook: {self.runbook(slug)}"


@dataclass(frozen=True)
class AlertRoutingArgs:
    ctx: StackContext
    settings: AlertingSettings
    pagerduty_cloudwatch_integration_key: Secret
    recovery_window_days: int  # secrets.recoveryWindowDays, for the forwarder's webhook secret
    log_retention_days: int  # cluster.logRetentionDays: the stack's log retention, for the forwarder's logs


class AlertRouting(pulumi.ComponentResource):
    """The AWS-side routes: an encrypted SNS topic per severity, PagerDuty and Slack subscribers, and (through
    `page_on_vercel_errors`) the Vercel 5xx rule. Outputs: critical_topic_arn, warning_topic_arn, targets."""

    def __init__(self, name: str, args: AlertRoutingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:alerting:AlertRouting", name, None, opts)
        self._name, self._args = name, args
        self.topics = self._topics(name, args)
        self._pagerduty(name, args)
        self._slack(name, args)
        self.critical_topic_arn = self.topics["critical"].arn
        self.warning_topic_arn = self.topics["warning"].arn
        self.targets = AlarmTargets(self.critical_topic_arn, self.warning_topic_arn, args.settings.runbook_base_url)
        self.register_outputs({"criticalTopicArn": self.critical_topic_arn,
                               "warningTopicArn": self.warning_topic_arn})

    def page_on_vercel_errors(self, vercel_project_id: pulumi.Input[str],
                              secrets_kms_key_arn: pulumi.Input[str]) -> None:
        """Production: the Vercel 5xx rule on `vercel_project_id`, paging through the forwarder, whose webhook
        secret and logs are encrypted with `secrets_kms_key_arn`."""
        self._vercel_5xx_rule(self._name, self._args, vercel_project_id, secrets_kms_key_arn)

    # --- AWS ------------------------------------------------------------------------------------------------

    def _topics(self, name: str, args: AlertRoutingArgs) -> dict[str, aws.sns.Topic]:
        topics = {}
        for severity in SEVERITIES:
            topic = aws.sns.Topic(
                f"{name}-{severity}",
                name=f"kingtavo-{args.ctx.environment}-alerts-{severity}",
                kms_master_key_id=args.ctx.key_arn,
                tags=args.ctx.tags(**{"kingtavo:severity": severity}),
                opts=pulumi.ResourceOptions(parent=self))
            aws.sns.TopicPolicy(
                f"{name}-{severity}-publishers",
                arn=topic.arn,
                policy=topic.arn.apply(lambda arn: json.dumps({
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Sid": "AlarmsAndEventsPublish", "Effect": "Allow",
                         "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                         "Action": "sns:Publish", "Resource": arn,
                         "Condition": {"StringEquals": {"aws:SourceAccount": args.ctx.aws.account_id}}},
                        {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*",
                         "Action": "sns:Publish", "Resource": arn,
                         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                    ],
                })),
                opts=pulumi.ResourceOptions(parent=topic))
            topics[severity] = topic
        return topics

    def _pagerduty(self, name: str, args: AlertRoutingArgs) -> None:
        aws.sns.TopicSubscription(
            f"{name}-critical-pagerduty",
            topic=self.topics["critical"].arn,
            protocol="https",
            endpoint=args.pagerduty_cloudwatch_integration_key.output().apply(pagerduty_enqueue_url),
            endpoint_auto_confirms=True,
            raw_message_delivery=False,
            opts=pulumi.ResourceOptions(parent=self.topics["critical"]))

    def _slack(self, name: str, args: AlertRoutingArgs) -> None:
        """Slack through Chatbot. Its role and the channel's guardrail allow only reading this stack's alarms and
        metrics (what Chatbot shows next to an alarm), not the account's logs or anything else."""
        ctx = args.ctx.aws
        role = aws.iam.Role(
            f"{name}-chatbot-role",
            # only on behalf of this account (confused deputy; AWS documents aws:SourceAccount for Chatbot)
            assume_role_policy=service_trust_policy("chatbot.amazonaws.com", ctx.account_id),
            tags=args.ctx.tags(),
            opts=pulumi.ResourceOptions(parent=self))
        document = json.dumps(chatbot_policy(ctx.partition, ctx.region, ctx.account_id, args.ctx.environment))
        aws.iam.RolePolicy(f"{name}-chatbot-read-alarms", role=role.id, policy=document,
                           opts=pulumi.ResourceOptions(parent=role))
        guardrail = aws.iam.Policy(
            f"{name}-chatbot-guardrail", name=f"kingtavo-{args.ctx.environment}-chatbot-guardrail",
            description="The most a Slack channel's Chatbot may do: read this stack's alarms and metrics",
            policy=document, tags=args.ctx.tags(), opts=pulumi.ResourceOptions(parent=self))
        aws.chatbot.SlackChannelConfiguration(
            f"{name}-slack",
            configuration_name=f"kingtavo-{args.ctx.environment}-alerts",
            slack_team_id=args.settings.slack_team_id,
            slack_channel_id=args.settings.slack_channel_id,
            sns_topic_arns=[topic.arn for topic in self.topics.values()],
            iam_role_arn=role.arn,
            guardrail_policy_arns=[guardrail.arn],
            logging_level="ERROR",
            opts=pulumi.ResourceOptions(parent=self))

    # --- Vercel ---------------------------------------------------------------------------------------------

    def _vercel_5xx_rule(self, name: str, args: AlertRoutingArgs, project_id: pulumi.Input[str],
                         secrets_kms_key_arn: pulumi.Input[str]) -> None:
        """5xx share of the production project's requests above the threshold over the window, with a traffic
        floor. Its name carries the runbook page: Vercel shows the name in Slack and in the webhook."""
        share, window = args.settings.server_error_share_percent, args.settings.server_error_window_minutes
        rule = vercel.CustomAlertRule(
            f"{name}-vercel-5xx",
            name=f"Production HTTP 5xx share above {share:g}% (runbook: vercel-high-http-5xx-rate)",
            project_id=project_id,
            severity="high",
            tags=["kingtavo", args.ctx.environment],
            evaluation=vercel.CustomAlertRuleEvaluationArgs(
                window=f"{window}m",
                query=vercel.CustomAlertRuleEvaluationQueryArgs(
                    metrics={
                        "errors": vercel.CustomAlertRuleEvaluationQueryMetricsArgs(
                            metric="vercel.request.count", aggregation="count", filter="httpStatus >= 500"),
                        "requests": vercel.CustomAlertRuleEvaluationQueryMetricsArgs(
                            metric="vercel.request.count", aggregation="count"),
                    },
                    formulas={"formula": "errors / requests"},
                    outputs=["formula"],
                ),
            ),
            trigger=vercel.CustomAlertRuleTriggerArgs(
                type="threshold", output="formula", operator="gt", threshold=share / 100,
                # guard against thin traffic: a ratio is judged only once the window holds 5 errors
                minimum=vercel.CustomAlertRuleTriggerMinimumArgs(output="errors", threshold=5)),
            opts=pulumi.ResourceOptions(parent=self))
        vercel.AlertRuleSlackNotification(
            f"{name}-vercel-5xx-slack", alert_rule_id=rule.id, slack_channel_id=args.settings.slack_channel_id,
            opts=pulumi.ResourceOptions(parent=rule))
        self._vercel_alert_to_pagerduty(name, args, rule, project_id, secrets_kms_key_arn)

    def _vercel_alert_to_pagerduty(self, name: str, args: AlertRoutingArgs, rule: vercel.CustomAlertRule,
                                   project_id: pulumi.Input[str], secrets_kms_key_arn: pulumi.Input[str]) -> None:
        """The critical route for the Vercel rule: Vercel's webhook -> the forwarder Lambda -> `alerts-critical`.

        Vercel notifies only Slack or an account webhook, and PagerDuty listens on the critical SNS topic, so
        a small function (lambdas/vercel_alert_forwarder) verifies Vercel's signature and publishes there.
        """
        if secrets_kms_key_arn is None:
            raise ValueError("page_on_vercel_errors: secrets_kms_key_arn is required (the Vercel alert forwarder's "
                             "secret is encrypted with the secrets key)")
        tags = args.ctx.tags("alerting")
        webhook_secret = aws.secretsmanager.Secret(
            f"{name}-vercel-webhook-secret",
            name=f"kingtavo/{args.ctx.environment}/vercel-alert-webhook-secret",
            description="Signing secret of the Vercel alert webhook; the forwarder verifies x-vercel-signature with it",
            kms_key_id=secrets_kms_key_arn,
            recovery_window_in_days=args.recovery_window_days,
            tags={**tags, **manual_rotation_tags("Vercel generates it with the webhook: replace the vercel.Webhook "
                                                 "with pulumi up --replace and the new value is stored here")},
            opts=pulumi.ResourceOptions(parent=self, protect=True))  # only production declares it
        function = self._vercel_forwarder_function(name, args, webhook_secret, project_id, secrets_kms_key_arn)
        url = self._public_function_url(name, function)
        webhook = vercel.Webhook(
            f"{name}-vercel-alert-webhook",
            endpoint=url.function_url,
            events=["alerts.triggered"],
            # No project_ids: Vercel accepts an alert-rule destination only on an account-wide webhook. The
            # forwarder pages only for the production project (VERCEL_PROJECT_IDS) and ignores other projects.
            opts=pulumi.ResourceOptions(parent=self))
        aws.secretsmanager.SecretVersion(
            f"{name}-vercel-webhook-secret-value", secret_id=webhook_secret.id,
            secret_string=pulumi.Output.secret(webhook.secret),
            opts=pulumi.ResourceOptions(parent=self))
        vercel.AlertRuleWebhookNotification(
            f"{name}-vercel-5xx-pagerduty", alert_rule_id=rule.id, webhook_id=webhook.id,
            opts=pulumi.ResourceOptions(parent=rule))

    def _vercel_forwarder_function(self, name: str, args: AlertRoutingArgs, webhook_secret: aws.secretsmanager.Secret,
                                   project_id: pulumi.Input[str], secrets_kms_key_arn: pulumi.Input[str]
                                   ) -> aws.lambda_.Function:
        """The forwarder: publish to the critical topic, read its one secret, write its own logs."""
        region, forwarder = args.ctx.aws.region, f"{name}-vercel-forwarder"
        # Each delivery id pages once: the forwarder claims it here (a conditional put), expiring with its TTL.
        deliveries = aws.dynamodb.Table(
            f"{forwarder}-deliveries", name=f"kingtavo-{args.ctx.environment}-vercel-alert-deliveries",
            billing_mode="PAY_PER_REQUEST", hash_key="deliveryId",
            attributes=[aws.dynamodb.TableAttributeArgs(name="deliveryId", type="S")],
            ttl=aws.dynamodb.TableTtlArgs(attribute_name="expiresAt", enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True,
                                                                               kms_key_arn=args.ctx.key_arn),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=False),
            tags=args.ctx.tags("alerting"), opts=pulumi.ResourceOptions(parent=self))
        built = PythonFunction(forwarder, PythonFunctionArgs(
            args.ctx, "alerting", "vercel-alert-forwarder",
            code=pulumi.FileArchive("build/lambdas/vercel_alert_forwarder.zip"),
            policy=lambda log_group_arn: pulumi.Output.all(
                self.topics["critical"].arn, args.ctx.key_arn, webhook_secret.arn, secrets_kms_key_arn,
                log_group_arn, deliveries.arn).apply(
                lambda v: vercel_forwarder_policy(v[0], v[1], v[2], v[3], v[4], region, deliveries_table_arn=v[5])),
            log_retention_days=args.log_retention_days,
            environment={
                "CRITICAL_TOPIC_ARN": self.topics["critical"].arn,
                "WEBHOOK_SECRET_ARN": webhook_secret.arn,
                "VERCEL_PROJECT_IDS": project_id,  # comma-separated: only these projects page
                "DELIVERY_TABLE_NAME": deliveries.name,
            },
            description="Verifies Vercel alert webhooks and pages the critical route",
            role_description="The Vercel alert forwarder Lambda",
            timeout=5, memory_size=128,
            # Unsigned requests are refused before any AWS call (milliseconds each), so a flood costs little; the
            # cap bounds it without starving real deliveries, which arrive a few at a time.
            reserved_concurrency=20,
            # INFO, not DEBUG: botocore's debug log would print the secret it fetched.
            application_log_level="INFO", system_log_level="WARN",
            errors_alarm=ErrorsAlarm(
                self.topics["warning"].arn, period=300,
                description=self.targets.describe(
                    "The Vercel alert forwarder failed, so a Vercel alert may not have paged; Slack still got it.",
                    "vercel-forwarder-errors")),
            moved_from=moved_from_component(self, role_name=f"{forwarder}-role", role_parts=("policy",)),
            legacy_names={"function": forwarder}),
            opts=pulumi.ResourceOptions(parent=self))
        # Its reserved concurrency can reject invocations: a throttled delivery is a page that did not happen.
        aws.cloudwatch.MetricAlarm(
            f"{forwarder}-throttles", name=f"kingtavo-{args.ctx.environment}-vercel-alert-forwarder-throttles",
            alarm_description=self.targets.describe(
                "The Vercel alert forwarder was throttled at its reserved concurrency, so a Vercel alert may not "
                "have paged.", "vercel-forwarder-throttled"),
            namespace="AWS/Lambda", metric_name="Throttles", dimensions={"FunctionName": built.function.name},
            statistic="Sum", period=300, evaluation_periods=1, comparison_operator="GreaterThanThreshold",
            threshold=0, treat_missing_data="notBreaching", alarm_actions=[self.topics["warning"].arn],
            tags={**args.ctx.tags("alerting"), "severity": "warning"}, opts=pulumi.ResourceOptions(parent=built))
        restrict_reads(f"{name}-vercel-webhook-secret", webhook_secret, [built.role_arn], [],
                       args.ctx.aws.partition, parent=self)  # only the forwarder reads the signing secret
        return built.function

    def _public_function_url(self, name: str, function: aws.lambda_.Function) -> aws.lambda_.FunctionUrl:
        """The forwarder's HTTPS endpoint. Authorization NONE on purpose: Vercel cannot sign AWS (SigV4)
        requests, so AWS_IAM would reject every delivery. The handler authenticates each request itself:
        it answers 403 unless x-vercel-signature is the HMAC-SHA1 of the body under the webhook's secret."""
        url = aws.lambda_.FunctionUrl(
            f"{name}-vercel-forwarder-url", function_name=function.name, authorization_type="NONE",
            opts=pulumi.ResourceOptions(parent=function))
        # A NONE-auth URL still needs both grants in the function's resource policy to be reachable.
        aws.lambda_.Permission(
            f"{name}-vercel-forwarder-url-invoke", action="lambda:InvokeFunctionUrl", function=function.name,
            principal="*", function_url_auth_type="NONE", opts=pulumi.ResourceOptions(parent=function))
        aws.lambda_.Permission(
            f"{name}-vercel-forwarder-url-function-invoke", action="lambda:InvokeFunction", function=function.name,
            principal="*", invoked_via_function_url=True, opts=pulumi.ResourceOptions(parent=function))
        return url
