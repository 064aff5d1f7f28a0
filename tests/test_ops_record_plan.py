"""The ops record's stack side from the offline plan: the writers' credential (shape, rotation, who may read
it), the alert recorder Lambda (private subnets, narrow egress, SNS doors, function URL, least privilege),
Alertmanager's webhook and its token, and the other writers' access (rotation function, backup monitor)."""

from __future__ import annotations

import json

import pytest

from tests.support.plans import STACKS, plan
from tools.harness import is_secret_wrapper, stack_config, unwrap

FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def _statements(result, name: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(result.one(ROLE_POLICY, name).inputs["policy"])["Statement"]}


@pytest.mark.parametrize("stack", STACKS)
def test_the_recorder_credential_is_the_pooler_login_generated_and_rotated(stack):
    result = plan(stack)
    supabase = stack_config(stack)["kingtavo:supabase"]
    secret = result.one("aws:secretsmanager/secret:Secret", "ops-record-credential")
    assert secret.inputs["name"] == f"kingtavo/{stack}/ops-recorder"
    assert secret.inputs["kmsKeyId"] == result.one("aws:kms/key:Key", "secrets-key").outputs["arn"]
    version = result.one("aws:secretsmanager/secretVersion:SecretVersion", "ops-record-credential-initial")
    assert is_secret_wrapper(version.raw_inputs["secretString"])
    value = json.loads(unwrap(version.inputs["secretString"]))
    assert value["username"] == f"ops_recorder_login.{supabase['projectRef']}"
    assert value["host"].endswith(".pooler.supabase.com") and value["engine"] == "postgres"
    assert set(value) == {"engine", "host", "port", "dbname", "username", "password"}
    rotation = result.one("aws:secretsmanager/secretRotation:SecretRotation", "ops-record-credential-rotation")
    rotator = result.one(FUNCTION, "secrets-rotation-function")
    assert rotation.inputs["rotationLambdaArn"] == rotator.outputs["arn"]
    assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": stack_config(stack)[
        "kingtavo:secrets"].get("rotationDays", 30)}


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_three_writers_may_read_the_credential(stack):
    result = plan(stack)
    policy = json.loads(result.one("aws:secretsmanager/secretPolicy:SecretPolicy",
                                   "ops-record-credential-policy").inputs["policy"])
    readers = sorted(result.one("aws:iam/role:Role", name).outputs["arn"]
                     for name in ("ops-record-role", "secrets-rotation-role", "backup-monitor-role"))
    allow, deny = policy["Statement"]
    assert allow["Principal"] == {"AWS": readers}
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert set(readers) <= set(deny["Condition"]["StringNotLike"]["aws:PrincipalArn"])


@pytest.mark.parametrize("stack", STACKS)
def test_the_receiver_runs_in_the_private_subnets_and_may_only_reach_postgres_and_https(stack):
    result = plan(stack)
    function = result.one(FUNCTION, "ops-record-function")
    assert function.inputs["vpcConfig"]["subnetIds"] == result.outputs["privateSubnetIds"]
    group = result.one("aws:ec2/securityGroup:SecurityGroup", "ops-record-sg")
    assert group.inputs["ingress"] == []
    assert sorted(rule["fromPort"] for rule in group.inputs["egress"]) == [443, 5432, 6543]
    variables = function.inputs["environment"]["variables"]
    credential = result.one("aws:secretsmanager/secret:Secret", "ops-record-credential").outputs["arn"]
    token = result.one("aws:secretsmanager/secret:Secret", "ops-record-webhook-token").outputs["arn"]
    assert variables["OPS_RECORDER_SECRET_ARN"] == credential and variables["ALERTMANAGER_TOKEN_SECRET_ARN"] == token
    assert variables["PGSSLROOTCERT"] == "/var/task/certs/prod-ca-2021.crt" and variables["ENVIRONMENT"] == stack
    topics = {result.one("aws:sns/topic:Topic", f"alerts-{s}").outputs["arn"]: s for s in ("critical", "warning")}
    assert json.loads(variables["TOPIC_SEVERITIES"]) == topics
    statements = _statements(result, "ops-record-least-privilege")
    assert sorted(statements["ReadTheRecorderCredentialAndWebhookToken"]["Resource"]) == sorted([credential, token])
    assert not [s for s in statements.values() if s["Resource"] == "*" and s["Sid"] != "AttachToThePrivateSubnets"]
    alarm = result.one("aws:cloudwatch/metricAlarm:MetricAlarm", "ops-record-errors")
    assert alarm.inputs["alarmActions"] == [next(a for a, s in topics.items() if s == "warning")]


@pytest.mark.parametrize("stack", STACKS)
def test_both_topics_deliver_to_it_and_only_they_may_invoke_it_through_sns(stack):
    result = plan(stack)
    function = result.one(FUNCTION, "ops-record-function")
    for severity in ("critical", "warning"):
        topic = result.one("aws:sns/topic:Topic", f"alerts-{severity}").outputs["arn"]
        subscription = result.one("aws:sns/topicSubscription:TopicSubscription", f"ops-record-{severity}-subscription")
        assert subscription.inputs == {"topic": topic, "protocol": "lambda", "endpoint": function.outputs["arn"]}
        permission = result.one(PERMISSION, f"ops-record-invoked-by-{severity}-topic")
        assert (permission.inputs["principal"], permission.inputs["sourceArn"]) == ("sns.amazonaws.com", topic)


@pytest.mark.parametrize("stack", STACKS)
def test_alertmanager_posts_to_the_function_url_with_the_generated_token(stack):
    result = plan(stack)
    url = result.one("aws:lambda/functionUrl:FunctionUrl", "ops-record-webhook-url")
    assert url.inputs["authorizationType"] == "NONE"
    public = result.one(PERMISSION, "ops-record-webhook-url-public").inputs
    assert (public["action"], public["functionUrlAuthType"]) == ("lambda:InvokeFunctionUrl", "NONE")
    invoke = result.one(PERMISSION, "ops-record-webhook-url-invoke").inputs
    assert (invoke["action"], invoke["invokedViaFunctionUrl"]) == ("lambda:InvokeFunction", True)
    values = result.one("kubernetes:helm.sh/v3:Release", "monitoring-prometheus-stack").inputs["values"]
    (receiver,) = [r for r in values["alertmanager"]["config"]["receivers"] if r["name"] == "ops-record"]
    assert receiver["webhook_configs"][0]["url"] == url.outputs["functionUrl"]
    mounted = result.one("kubernetes:core/v1:Secret", "monitoring-receivers")
    token = result.one("aws:secretsmanager/secretVersion:SecretVersion", "ops-record-webhook-token-value")
    assert is_secret_wrapper(mounted.raw_inputs["stringData"]) and is_secret_wrapper(token.raw_inputs["secretString"])
    assert unwrap(mounted.inputs["stringData"])["ops-record-token"] == unwrap(token.inputs["secretString"])
    assert unwrap(token.inputs["secretString"]) not in json.dumps(values)


@pytest.mark.parametrize("stack", STACKS)
def test_the_rotation_function_and_the_backup_monitor_may_read_the_credential(stack):
    result = plan(stack)
    rotation = result.one(FUNCTION, "secrets-rotation-function").inputs["environment"]["variables"]
    assert rotation["OPS_RECORDER_SECRET_ID"] == f"kingtavo/{stack}/ops-recorder"
    assert rotation["ENVIRONMENT"] == stack and rotation["PGSSLROOTCERT"] == "/var/task/certs/prod-ca-2021.crt"
    read = _statements(result, "secrets-rotation-least-privilege")["ReadTheOpsRecorderCredential"]
    assert read["Resource"].endswith(f":secret:kingtavo/{stack}/ops-recorder-??????")
    credential = result.one("aws:secretsmanager/secret:Secret", "ops-record-credential").outputs["arn"]
    monitor = result.one(FUNCTION, "backup-monitor-function").inputs["environment"]["variables"]
    assert monitor["OPS_RECORDER_SECRET_ARN"] == credential
    statements = _statements(result, "backup-monitor-least-privilege")
    assert statements["ReadTheOpsRecorderCredential"]["Resource"] == credential
    assert statements["DecryptToken"]["Condition"]["StringEquals"]["kms:ViaService"].startswith("secretsmanager.")
