"""AWS-side alert routing from the offline plan: severities reach the right receivers, no key in the clear."""

from __future__ import annotations

import json

import pytest

from tests.support.plans import STACKS, plan
from tools.harness import is_secret_wrapper

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
    subscriptions = result.by_type(SUBSCRIPTION)
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

    def leaks(value) -> bool:
        if is_secret_wrapper(value):
            return False
        if isinstance(value, dict):
            return any(leaks(v) for v in value.values())
        if isinstance(value, list):
            return any(leaks(v) for v in value)
        return isinstance(value, str) and key in value

    assert not [r.name for r in result.resources if leaks(r.raw_inputs)]
