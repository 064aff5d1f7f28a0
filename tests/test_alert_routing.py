"""AWS-side alert routing from the offline plan: severities reach the right receivers, no key in the clear."""

from __future__ import annotations

import json

import pytest

from tests.support.plans import STACKS, plan
from tests.support.secret_walk import find_leaks
from tools.harness import is_secret_wrapper, stack_config, vercel_project_id

TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"


def _topic_outputs(result):
    return {t.name.rsplit("-", 1)[-1]: t.outputs["arn"] for t in result.by_type(TOPIC)}


@pytest.mark.parametrize("stack", STACKS)
def test_one_encrypted_topic_per_severity(stack):
    result = plan(stack)
    topics = result.by_type(TOPIC)
    assert sorted(t.name for t in topics) == ["alerts-critical", "alerts-warning"]
    key_arn = result.one("aws:kms/key:Key", "platform-key").outputs["arn"]
    assert all(t.inputs["kmsMasterKeyId"] == key_arn for t in topics)


@pytest.mark.parametrize("stack", STACKS)
def test_critical_pages_pagerduty_and_warning_does_not(stack):
    result = plan(stack)
    arns = _topic_outputs(result)
    # the ops record's receiver (components/alerting/recorder.py) listens to both topics; it pages nobody
    subscriptions = [s for s in result.by_type(SUBSCRIPTION) if not s.name.startswith("ops-record-")]
    assert [(s.inputs["topic"], s.inputs["protocol"]) for s in subscriptions] == [(arns["critical"], "https")]
    endpoint = subscriptions[0].inputs["endpoint"]
    key = result.secrets["kingtavo:pagerdutyCloudwatchIntegrationKey"]
    assert endpoint == f"https://events.pagerduty.com/integration/{key}/enqueue"
    assert is_secret_wrapper(subscriptions[0].raw_inputs["endpoint"]), "the endpoint embeds the key: keep it secret"


@pytest.mark.parametrize("stack", STACKS)
def test_both_severities_reach_slack_through_chatbot(stack):
    result = plan(stack)
    slack = result.one("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration")
    assert sorted(slack.inputs["snsTopicArns"]) == sorted(_topic_outputs(result).values())
    alerting = {"staging": "C0STAGEALERTS", "production": "C0PRODALERTS"}[stack]
    assert slack.inputs["slackChannelId"] == alerting


@pytest.mark.parametrize("stack", STACKS)
def test_chatbot_may_read_only_this_stack_s_alarms_and_trusts_only_this_account(stack):
    result = plan(stack)
    role = result.one("aws:iam/role:Role", "alerts-chatbot-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}
    assert not result.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") or all(
        "ReadOnlyAccess" not in a.inputs["policyArn"] for a in result.by_type(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment"))
    policy = json.loads(result.one("aws:iam/rolePolicy:RolePolicy", "alerts-chatbot-read-alarms").inputs["policy"])
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert all(a.startswith("cloudwatch:") and a.split(":")[1].startswith(("Describe", "Get", "List")) for a in actions)
    [alarms] = [s["Resource"] for s in policy["Statement"] if "cloudwatch:DescribeAlarms" in s["Action"]]
    assert alarms == f"arn:aws:cloudwatch:eu-central-1:111122223333:alarm:kingtavo-{stack}-*"
    guardrail = result.one("aws:iam/policy:Policy", "alerts-chatbot-guardrail")
    slack = result.one("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration")
    assert slack.inputs["guardrailPolicyArns"] == [guardrail.outputs["arn"]]
    assert json.loads(guardrail.inputs["policy"]) == policy


@pytest.mark.parametrize("stack", STACKS)
def test_only_this_account_s_alarms_and_events_may_publish(stack):
    for policy in plan(stack).by_type("aws:sns/topicPolicy:TopicPolicy"):
        statements = json.loads(policy.inputs["policy"])["Statement"]
        allow = next(s for s in statements if s["Effect"] == "Allow")
        assert allow["Principal"] == {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]}
        assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}
        deny = next(s for s in statements if s["Effect"] == "Deny")
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("stack", STACKS)
def test_the_pagerduty_key_never_appears_unmarked(stack):
    result = plan(stack)
    key = result.secrets["kingtavo:pagerdutyCloudwatchIntegrationKey"]
    assert not [r.name for r in result.resources if find_leaks(r.raw_inputs, [key])]


# --- production's Vercel 5xx rule and its critical route (the forwarder Lambda) ---------------------------------

ALERT_RULE = "vercel:index/customAlertRule:CustomAlertRule"
WEBHOOK = "vercel:index/webhook:Webhook"
FORWARDER = "alerts-vercel-forwarder-function"  # built by PythonFunction("alerts-vercel-forwarder")
VERCEL_ALERTING_TYPES = (ALERT_RULE, WEBHOOK, "vercel:index/alertRuleWebhookNotification:AlertRuleWebhookNotification",
                         "vercel:index/alertRuleSlackNotification:AlertRuleSlackNotification")


def _production_project_id(result) -> str:
    project = result.one("vercel:index/project:Project")
    return vercel_project_id(project.inputs["name"])


def test_production_vercel_rule_fires_on_a_5xx_share_above_5_percent_over_5_minutes():
    result = plan("production")
    rule = result.one(ALERT_RULE, "alerts-vercel-5xx")
    assert rule.inputs["projectId"] == _production_project_id(result)
    evaluation = rule.inputs["evaluation"]
    assert evaluation["window"] == "5m"
    metrics = evaluation["query"]["metrics"]
    assert metrics["errors"] == {"metric": "vercel.request.count", "aggregation": "count",
                                 "filter": "httpStatus >= 500"}
    assert metrics["requests"] == {"metric": "vercel.request.count", "aggregation": "count"}
    assert evaluation["query"]["formulas"] == {"formula": "errors / requests"}
    trigger = rule.inputs["trigger"]
    assert (trigger["type"], trigger["output"], trigger["operator"], trigger["threshold"]) == (
        "threshold", "formula", "gt", 0.05)


def test_the_vercel_rule_s_threshold_and_window_are_the_alerting_settings():
    rule = plan("production", "alerting.serverErrorSharePercent=2.5", "alerting.serverErrorWindowMinutes=10").one(
        ALERT_RULE, "alerts-vercel-5xx")
    assert rule.inputs["trigger"]["threshold"] == 0.025 and rule.inputs["evaluation"]["window"] == "10m"
    assert rule.inputs["name"] == "Production HTTP 5xx share above 2.5% (runbook: vercel-high-http-5xx-rate)"


def test_the_forwarder_has_errors_and_throttles_alarms_to_the_warning_topic():
    result = plan("production")
    warning = result.one("aws:sns/topic:Topic", "alerts-warning").outputs["arn"]
    alarms = {a.inputs["metricName"]: a.inputs for a in result.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
              if a.inputs["name"].startswith("kingtavo-production-vercel-alert-forwarder")}
    assert set(alarms) == {"Errors", "Throttles"}
    for alarm in alarms.values():
        assert alarm["alarmActions"] == [warning] and alarm["threshold"] == 0
        assert alarm["dimensions"] == {"FunctionName": "kingtavo-production-vercel-alert-forwarder"}


def test_production_vercel_rule_notifies_slack_and_the_forwarder_webhook():
    result = plan("production")
    rule = result.one(ALERT_RULE, "alerts-vercel-5xx")
    slack = result.one("vercel:index/alertRuleSlackNotification:AlertRuleSlackNotification")
    assert slack.inputs["slackChannelId"] == "C0PRODALERTS"
    webhook_link = result.one("vercel:index/alertRuleWebhookNotification:AlertRuleWebhookNotification")
    assert slack.parent == webhook_link.parent == rule.urn
    assert slack.inputs["alertRuleId"] == webhook_link.inputs["alertRuleId"]
    webhook = result.one(WEBHOOK)
    assert webhook.inputs["events"] == ["alerts.triggered"]
    # An alert-rule destination must be an account-wide webhook; the forwarder filters on the project instead.
    assert "projectIds" not in webhook.inputs
    assert webhook_link.inputs["webhookId"].startswith("web_")


def test_the_webhook_points_at_the_forwarder_s_public_function_url():
    result = plan("production")
    function = result.one("aws:lambda/function:Function", FORWARDER)
    url = result.one("aws:lambda/functionUrl:FunctionUrl", "alerts-vercel-forwarder-url")
    assert (url.inputs["functionName"], url.inputs["authorizationType"]) == (function.inputs["name"], "NONE")
    assert result.one(WEBHOOK).inputs["endpoint"] == url.outputs["functionUrl"]
    permissions = [p for p in result.by_type("aws:lambda/permission:Permission")
                   if p.inputs["function"] == function.inputs["name"]]
    grants = {(p.inputs["action"], p.inputs.get("functionUrlAuthType"), p.inputs.get("invokedViaFunctionUrl"))
              for p in permissions}
    assert grants == {("lambda:InvokeFunctionUrl", "NONE", None), ("lambda:InvokeFunction", None, True)}


def test_the_forwarder_pages_the_critical_topic_with_the_secret_read_at_run_time():
    result = plan("production")
    function = result.one("aws:lambda/function:Function", FORWARDER)
    assert function.inputs["runtime"] == "python3.12"
    assert function.inputs["code"] == {"fileArchive": "build/lambdas/vercel_alert_forwarder.zip"}
    secret = result.one("aws:secretsmanager/secret:Secret", "alerts-vercel-webhook-secret")
    table = result.one("aws:dynamodb/table:Table", "alerts-vercel-forwarder-deliveries")
    assert function.inputs["environment"]["variables"] == {
        "CRITICAL_TOPIC_ARN": _topic_outputs(result)["critical"],
        "WEBHOOK_SECRET_ARN": secret.outputs["arn"],
        "VERCEL_PROJECT_IDS": _production_project_id(result),
        "DELIVERY_TABLE_NAME": table.inputs["name"],
    }
    # the handler's idempotency store: one claim per delivery id, expiring by TTL (lambdas/vercel_alert_forwarder)
    assert table.inputs["hashKey"] == "deliveryId"
    assert table.inputs["attributes"] == [{"name": "deliveryId", "type": "S"}]
    assert table.inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    platform_key = result.one("aws:kms/key:Key", "platform-key").outputs["arn"]
    assert table.inputs["serverSideEncryption"]["kmsKeyArn"] == platform_key
    # a flood of unsigned requests is refused before any AWS call; the cap bounds it without starving real ones
    assert (function.inputs["reservedConcurrentExecutions"], function.inputs["timeout"]) == (20, 5)
    assert function.inputs["loggingConfig"]["applicationLogLevel"] == "INFO", "botocore's DEBUG log prints secrets"


def test_the_forwarder_may_only_page_read_its_secret_and_write_its_logs():
    result = plan("production")
    policy = json.loads(result.one("aws:iam/rolePolicy:RolePolicy", "alerts-vercel-forwarder-least-privilege")
                        .inputs["policy"])
    secret_arn = result.one("aws:secretsmanager/secret:Secret", "alerts-vercel-webhook-secret").outputs["arn"]
    log_group_arn = result.one("aws:cloudwatch/logGroup:LogGroup", "alerts-vercel-forwarder-logs").outputs["arn"]
    topic_key = result.one("aws:kms/key:Key", "platform-key").outputs["arn"]
    secrets_key = result.one("aws:secretsmanager/secret:Secret", "alerts-vercel-webhook-secret").inputs["kmsKeyId"]
    grants = {(json.dumps(s["Action"]), s["Resource"], json.dumps(s.get("Condition"), sort_keys=True))
              for s in policy["Statement"]}
    assert all(s["Effect"] == "Allow" for s in policy["Statement"])
    table_arn = result.one("aws:dynamodb/table:Table", "alerts-vercel-forwarder-deliveries").outputs["arn"]
    assert grants == {
        ('["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]', table_arn, "null"),
        ('["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]', topic_key,
         '{"StringEquals": {"kms:ViaService": "dynamodb.eu-central-1.amazonaws.com"}}'),
        ('"sns:Publish"', _topic_outputs(result)["critical"], "null"),
        ('["kms:GenerateDataKey", "kms:Decrypt"]', topic_key,
         '{"StringEquals": {"kms:ViaService": "sns.eu-central-1.amazonaws.com"}}'),
        ('"secretsmanager:GetSecretValue"', secret_arn, "null"),
        ('"kms:Decrypt"', secrets_key,
         '{"StringEquals": {"kms:ViaService": "secretsmanager.eu-central-1.amazonaws.com"}}'),
        ('["logs:CreateLogStream", "logs:PutLogEvents"]', f"{log_group_arn}:*", "null"),
    }
    log_group = result.one("aws:cloudwatch/logGroup:LogGroup", "alerts-vercel-forwarder-logs")
    assert log_group.inputs["kmsKeyId"] == topic_key
    assert log_group.inputs["name"] == "/aws/lambda/kingtavo-production-vercel-alert-forwarder"


def test_the_webhook_secret_is_kept_as_a_pulumi_secret_in_secrets_manager():
    result = plan("production")
    secret = result.one("aws:secretsmanager/secret:Secret", "alerts-vercel-webhook-secret")
    # the secret store's key, the one every other Secrets Manager secret of the stack uses
    secrets_key = result.one("aws:secretsmanager/secret:Secret", "secrets-database").inputs["kmsKeyId"]
    assert secret.inputs["kmsKeyId"] == secrets_key
    assert secret.protect
    assert secret.inputs["tags"]["rotation"] == "manual" and secret.inputs["tags"]["rotation-reason"]
    version = result.one("aws:secretsmanager/secretVersion:SecretVersion", "alerts-vercel-webhook-secret-value")
    webhook_secret = result.one(WEBHOOK).outputs["secret"]
    assert version.inputs["secretString"] == webhook_secret
    assert is_secret_wrapper(version.raw_inputs["secretString"])

    assert not [r.name for r in result.resources if find_leaks(r.raw_inputs, [webhook_secret])]
    assert not [k for k, v in result.outputs.items() if webhook_secret in json.dumps(v, default=str)]


def test_staging_declares_no_vercel_rule_and_no_forwarder():
    result = plan("staging")
    assert not [r.name for r in result.resources if r.type in VERCEL_ALERTING_TYPES]
    assert not [r.name for r in result.resources if "vercel-forwarder" in r.name or "vercel-webhook" in r.name]


@pytest.mark.parametrize("stack", STACKS)
def test_every_lambda_keeps_its_logs_as_long_as_the_stack_and_every_secret_its_recovery_window(stack):
    """One retention for the three Lambdas (they had drifted: 90 days vs the setting) and one recovery window."""
    result, config = plan(stack), stack_config(stack)
    retention = config["kingtavo:cluster"]["logRetentionDays"]
    for group in result.by_type("aws:cloudwatch/logGroup:LogGroup"):
        if group.inputs["name"].startswith("/aws/lambda/"):
            assert group.inputs["retentionInDays"] == retention, group.name
    window = config["kingtavo:secrets"]["recoveryWindowDays"]
    for secret in result.by_type("aws:secretsmanager/secret:Secret"):
        assert secret.inputs["recoveryWindowInDays"] == window, secret.name
