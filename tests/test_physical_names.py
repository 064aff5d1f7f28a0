"""Both stacks in one AWS account: no two resources may claim the same account-scoped physical name.

AWS refuses a second ECR repository, IAM role, secret, KMS alias, log group, Lambda function, SNS
topic, alarm or Chatbot configuration with a name already taken in the account and region (and a
second S3 bucket name anywhere). The offline plan runs each stack alone, so nothing else would
notice that staging and production collide until the second stack's first `pulumi up`.
"""

from __future__ import annotations

from collections import defaultdict

from tests.support.plans import STACKS, plan
from tools.harness import PlannedResource

# type -> the input holding the name AWS keeps unique per account (and region)
NAME_INPUTS = {
    "aws:ecr/repository:Repository": "name",
    "aws:iam/role:Role": "name",
    "aws:iam/policy:Policy": "name",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "url",
    "aws:secretsmanager/secret:Secret": "name",
    "aws:kms/alias:Alias": "name",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:lambda/function:Function": "name",
    "aws:sns/topic:Topic": "name",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:cloudwatch/eventRule:EventRule": "name",
    "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration": "configurationName",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:s3/bucketV2:BucketV2": "bucket",
    "aws:eks/cluster:Cluster": "name",
    "aws:dynamodb/table:Table": "name",
}


def physical_names(resources: list[PlannedResource]) -> dict[tuple[str, str], list[str]]:
    names: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in resources:
        field = NAME_INPUTS.get(r.type)
        if field and not r.read and isinstance(r.inputs.get(field), str):
            names[(r.type, r.inputs[field])].append(r.urn)
    return names


def collisions(*plans) -> dict[tuple[str, str], list[str]]:
    merged: dict[tuple[str, str], list[str]] = defaultdict(list)
    for result in plans:
        for key, urns in physical_names(result.resources).items():
            merged[key].extend(urns)
    return {key: urns for key, urns in merged.items() if len(urns) > 1}


def test_both_stacks_in_one_account_claim_no_name_twice():
    assert collisions(*(plan(stack) for stack in STACKS)) == {}


def test_the_check_finds_a_collision():
    """Two stacks with the same cluster name would collide on the cluster, its log group and more."""
    twin = plan("production", "cluster.name=kingtavo-staging")
    found = collisions(plan("staging"), twin)
    assert ("aws:eks/cluster:Cluster", "kingtavo-staging") in found
    assert ("aws:cloudwatch/logGroup:LogGroup", "/aws/eks/kingtavo-staging/cluster") in found
