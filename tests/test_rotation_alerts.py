"""A failed rotation is heard of: the rotation function's Errors alarm (warning) and an EventBridge rule on Secrets
Manager's RotationFailed for the stack's secrets (critical). The rule's pattern is judged by moto's EventBridge
pattern matcher (`EventPattern`, the code that decides which rules an event reaches; the rule is also registered
with put_rule, which validates it) against RotationFailed events shaped like CloudTrail's, for this stack's
secrets and for others. moto implements neither TestEventPattern nor delivery to targets without `jsonpath-ng`
(moto's `events` extra, not installed here), so the matcher is called directly."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws
from moto.events.models import EventPattern

from components.secrets.rotation import rotation_failed_pattern
from tests.support.plans import STACKS, plan
from tools.harness import DEFAULT_REGION, FAKE_ACCOUNT_ID


def _event(secret_id: str, event_name: str = "RotationFailed", detail_type: str = "AWS Service Event via CloudTrail"):
    return {
        "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": detail_type,
        "source": "aws.secretsmanager", "account": FAKE_ACCOUNT_ID, "time": "2026-12-01T03:17:00Z",
        "region": DEFAULT_REGION, "resources": [],
        "detail": {"eventVersion": "1.08", "eventSource": "secretsmanager.amazonaws.com", "eventName": event_name,
                   "awsRegion": DEFAULT_REGION, "eventType": "AwsServiceEvent",
                   "additionalEventData": {"SecretId": secret_id}},
    }


def _arn(name: str, account: str = FAKE_ACCOUNT_ID) -> str:
    return f"arn:aws:secretsmanager:{DEFAULT_REGION}:{account}:secret:{name}-AbCdEf"


@pytest.fixture
def matches():
    with mock_aws():
        events = boto3.client("events", region_name=DEFAULT_REGION)

        def judge(stack: str, event: dict) -> bool:
            pattern = json.dumps(rotation_failed_pattern(stack, "aws", DEFAULT_REGION, FAKE_ACCOUNT_ID))
            events.put_rule(Name=f"kingtavo-{stack}-secret-rotation-failed", EventPattern=pattern, State="ENABLED")
            return EventPattern.load(pattern).matches_event(event)

        yield judge


@pytest.mark.parametrize("stack", STACKS)
def test_rotation_failed_for_the_stack_s_secrets_matches(matches, stack):
    assert matches(stack, _event(_arn(f"kingtavo/{stack}/etl/database")))
    assert matches(stack, _event(_arn(f"kingtavo/{stack}/db-backup")))
    assert matches(stack, _event(f"kingtavo/{stack}/db-backup"))  # an event naming the secret, not its ARN


@pytest.mark.parametrize(("event", "why"), [
    (_event(_arn("kingtavo/staging/etl/database")), "the other stack's secret"),
    (_event(_arn("someone-else/production/db")), "a secret this program does not own"),
    (_event(_arn("kingtavo/production/etl/database", account="999999999999")), "another account"),
    (_event(_arn("kingtavo/production/etl/database"), event_name="RotationSucceeded"), "a successful rotation"),
    (_event(_arn("kingtavo/production/etl/database"), event_name="RotationStarted"), "a rotation starting"),
    (_event(_arn("kingtavo/production/etl/database"), detail_type="AWS API Call via CloudTrail"), "an API call"),
])
def test_nothing_else_matches(matches, event, why):
    assert not matches("production", event), why


@pytest.mark.parametrize("stack", STACKS)
def test_the_rule_pages_the_critical_topic_and_links_its_runbook(stack):
    result = plan(stack)
    rule = result.one("aws:cloudwatch/eventRule:EventRule", "secrets-rotation-rotation-failed")
    assert json.loads(rule.inputs["eventPattern"]) == rotation_failed_pattern(stack, "aws", DEFAULT_REGION,
                                                                              FAKE_ACCOUNT_ID)
    assert rule.inputs["description"].endswith("/docs/runbooks/secret-rotation-failed.md")
    (target,) = [t for t in result.by_type("aws:cloudwatch/eventTarget:EventTarget")
                 if t.inputs.get("rule") == rule.inputs["name"]]
    assert target.inputs["arn"] == result.one("aws:sns/topic:Topic", "alerts-critical").outputs["arn"]


@pytest.mark.parametrize("stack", STACKS)
def test_events_may_publish_to_the_encrypted_critical_topic(stack):
    result = plan(stack)
    policy = json.loads(result.one("aws:sns/topicPolicy:TopicPolicy", "alerts-critical-publishers").inputs["policy"])
    publish = next(s for s in policy["Statement"] if s["Effect"] == "Allow")
    assert "events.amazonaws.com" in publish["Principal"]["Service"]
    key_policy = json.loads(result.one("aws:kms/key:Key", "platform-key").inputs["policy"])
    use = next(s for s in key_policy["Statement"] if s["Sid"] == "AlarmsAndEventsPublish")
    assert "events.amazonaws.com" in use["Principal"]["Service"] and "kms:GenerateDataKey*" in use["Action"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_rotation_function_has_an_errors_alarm_to_the_warning_topic(stack):
    result = plan(stack)
    function = result.one("aws:lambda/function:Function", "secrets-rotation-function")
    (alarm,) = [a for a in result.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
                if a.inputs["name"] == f"{function.inputs['name']}-errors"]
    assert (alarm.inputs["metricName"], alarm.inputs["threshold"], alarm.inputs["treatMissingData"]) == (
        "Errors", 0, "notBreaching")
    assert alarm.inputs["alarmActions"] == [result.one("aws:sns/topic:Topic", "alerts-warning").outputs["arn"]]
    assert alarm.inputs["alarmDescription"].endswith("/docs/runbooks/secret-rotation-errors.md")
