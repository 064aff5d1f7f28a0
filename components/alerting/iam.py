"""The alerting plane's IAM policy documents, as pure functions the tests read: Chatbot's read-only view of
this stack's alarms, and the Vercel alert forwarder's least privilege."""

from __future__ import annotations

from components.core.lambda_function import write_own_logs_statement


def chatbot_policy(partition: str, region: str, account_id: str, environment: str) -> dict:
    """Read this stack's alarms (by name prefix) and metrics; the metric reads take no resource-level scoping."""
    alarms = f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:kingtavo-{environment}-*"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadThisStacksAlarms", "Effect": "Allow",
         "Action": ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"], "Resource": alarms},
        {"Sid": "ReadMetricsForTheAlarmGraphs", "Effect": "Allow",
         "Action": ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"],
         "Resource": "*"},
    ]}


def vercel_forwarder_policy(critical_topic_arn: str, topic_key_arn: str, secret_arn: str, secrets_key_arn: str,
                            log_group_arn: str, region: str, deliveries_table_arn: str) -> dict:
    """Least privilege for the forwarder. The critical topic is KMS-encrypted, so publishing needs its key
    (through SNS only); reading the secret needs the secrets key (through Secrets Manager only); the
    deliveries table (encrypted with the platform key, through DynamoDB only) records which ids paged."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ClaimDeliveries", "Effect": "Allow",
         "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
         "Resource": deliveries_table_arn},
        {"Sid": "UseThePlatformKeyThroughDynamoDb", "Effect": "Allow",
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], "Resource": topic_key_arn,
         "Condition": {"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}}},
        {"Sid": "PageTheCriticalRoute", "Effect": "Allow", "Action": "sns:Publish", "Resource": critical_topic_arn},
        {"Sid": "UseTheTopicKeyThroughSns", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
         "Resource": topic_key_arn,
         "Condition": {"StringEquals": {"kms:ViaService": f"sns.{region}.amazonaws.com"}}},
        {"Sid": "ReadTheWebhookSecret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": secret_arn},
        {"Sid": "DecryptTheSecretThroughSecretsManager", "Effect": "Allow", "Action": "kms:Decrypt",
         "Resource": secrets_key_arn,
         "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}},
        write_own_logs_statement(log_group_arn),
    ]}
