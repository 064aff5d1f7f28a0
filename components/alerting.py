"""Alert routing on AWS: critical pages through PagerDuty, warnings go to Slack.

One KMS-encrypted SNS topic per severity. `critical` is subscribed to PagerDuty (an HTTPS
subscription to the integration's enqueue URL, which embeds the integration key, so the
endpoint is a Pulumi secret) and both topics to the Slack channel through AWS Chatbot, so a
page is also visible where the team talks. CloudWatch alarms elsewhere in the program
(backups) publish to `critical_topic_arn` / `warning_topic_arn`. The cluster's Alertmanager
routes the same way (components/monitoring.py).

In production it also declares a Vercel custom alert rule on the production project's 5xx
share (above 5% over 5 minutes) that notifies the Slack channel; the provider has no way to
route a Vercel alert to PagerDuty without an account webhook of ours (see the README).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumiverse_vercel as vercel

from components.kms import AwsContext
from components.settings import AlertingSettings, Secret

SEVERITIES = ("critical", "warning")


def pagerduty_enqueue_url(integration_key: str) -> str:
    """The CloudWatch-integration endpoint PagerDuty gives for SNS: the key is part of the URL."""
    return f"https://events.pagerduty.com/integration/{integration_key}/enqueue"


@dataclass(frozen=True)
class AlertRoutingArgs:
    settings: AlertingSettings
    environment: str
    aws: AwsContext
    kms_key_arn: pulumi.Input[str]
    pagerduty_cloudwatch_integration_key: Secret
    vercel_project_id: pulumi.Input[str] | None = None  # production: the 5xx alert rule's project


class AlertRouting(pulumi.ComponentResource):
    """The AWS-side routes: an encrypted SNS topic per severity, PagerDuty and Slack subscribers, and the
    Vercel 5xx rule. Outputs: critical_topic_arn, warning_topic_arn."""

    def __init__(self, name: str, args: AlertRoutingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("kingtavo:alerting:AlertRouting", name, None, opts)
        self.topics = self._topics(name, args)
        self._pagerduty(name, args)
        self._slack(name, args)
        if args.vercel_project_id is not None:
            self._vercel_5xx_rule(name, args)
        self.critical_topic_arn = self.topics["critical"].arn
        self.warning_topic_arn = self.topics["warning"].arn
        self.register_outputs({"criticalTopicArn": self.critical_topic_arn,
                               "warningTopicArn": self.warning_topic_arn})

    # --- AWS ------------------------------------------------------------------------------------------------

    def _topics(self, name: str, args: AlertRoutingArgs) -> dict[str, aws.sns.Topic]:
        topics = {}
        for severity in SEVERITIES:
            topic = aws.sns.Topic(
                f"{name}-{severity}",
                name=f"kingtavo-{args.environment}-alerts-{severity}",
                kms_master_key_id=args.kms_key_arn,
                tags={"kingtavo:environment": args.environment, "kingtavo:severity": severity},
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
                         "Condition": {"StringEquals": {"aws:SourceAccount": args.aws.account_id}}},
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
        role = aws.iam.Role(
            f"{name}-chatbot-role",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "chatbot.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
            tags={"kingtavo:environment": args.environment},
            opts=pulumi.ResourceOptions(parent=self))
        aws.iam.RolePolicyAttachment(
            f"{name}-chatbot-read-alarms", role=role.name,
            policy_arn=f"arn:{args.aws.partition}:iam::aws:policy/CloudWatchReadOnlyAccess",
            opts=pulumi.ResourceOptions(parent=role))
        aws.chatbot.SlackChannelConfiguration(
            f"{name}-slack",
            configuration_name=f"kingtavo-{args.environment}-alerts",
            slack_team_id=args.settings.slack_team_id,
            slack_channel_id=args.settings.slack_channel_id,
            sns_topic_arns=[topic.arn for topic in self.topics.values()],
            iam_role_arn=role.arn,
            guardrail_policy_arns=[f"arn:{args.aws.partition}:iam::aws:policy/ReadOnlyAccess"],
            logging_level="ERROR",
            opts=pulumi.ResourceOptions(parent=self))

    # --- Vercel ---------------------------------------------------------------------------------------------

    def _vercel_5xx_rule(self, name: str, args: AlertRoutingArgs) -> None:
        """5xx share of the production project's requests above 5% over 5 minutes, with a traffic floor."""
        rule = vercel.CustomAlertRule(
            f"{name}-vercel-5xx",
            name="Production HTTP 5xx share above 5%",
            project_id=args.vercel_project_id,
            severity="high",
            tags=["kingtavo", args.environment],
            evaluation=vercel.CustomAlertRuleEvaluationArgs(
                window="5m",
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
                type="threshold", output="formula", operator="gt", threshold=0.05,
                # guard against thin traffic: a ratio is judged only once the window holds 5 errors
                minimum=vercel.CustomAlertRuleTriggerMinimumArgs(output="errors", threshold=5)),
            opts=pulumi.ResourceOptions(parent=self))
        vercel.AlertRuleSlackNotification(
            f"{name}-vercel-5xx-slack", alert_rule_id=rule.id, slack_channel_id=args.settings.slack_channel_id,
            opts=pulumi.ResourceOptions(parent=rule))
