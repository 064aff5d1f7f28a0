"""The real pack, as the CLI runs it: `policies/__main__.py` started as a process, driven over gRPC."""

from __future__ import annotations

import subprocess
import sys

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.rules import PACK_NAME, POLICIES
from tests.support.policy_fixtures import KMS_ARN, PEV, ROOT, ROTATION, SECRET, urn_of, vercel_var

# --- the real pack, as the CLI runs it --------------------------------------------------------------------


@pytest.fixture(scope="module")
def analyzer():
    """`policies/__main__.py` started as the CLI starts it: it prints its port and serves the Analyzer API."""
    process = subprocess.Popen([sys.executable, "-u", "__main__.py"], cwd=ROOT / "policies",
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read()
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


def struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    json_format.ParseDict(value, message)
    return message


def test_the_pack_serves_every_policy(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME
    assert [p.name for p in info.policies] == [p.name for p in POLICIES]
    assert all(p.enforcementLevel == analyzer_pb2.MANDATORY for p in info.policies)


def test_the_pack_reports_a_violation_and_honours_a_configured_exception(analyzer):
    type_token, name = "aws:sns/topic:Topic", "alerts"
    request = analyzer_pb2.AnalyzeRequest(type=type_token, urn=urn_of(type_token, name), name=name,
                                          properties=struct({"name": "alerts"}))
    response = analyzer.Analyze(request)
    assert [(d.policyName, d.enforcementLevel) for d in response.diagnostics] == [
        ("sns-topic-kms-encryption", analyzer_pb2.MANDATORY)]
    assert "Topic 'alerts': kmsMasterKeyId is not set" in response.diagnostics[0].message

    exception = {"exceptions": [{"urn": urn_of(type_token, name), "reason": "fixture: excepted on purpose"}]}
    analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
        "sns-topic-kms-encryption": analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.MANDATORY,
                                                              properties=struct(exception))}))
    try:
        assert list(analyzer.Analyze(request).diagnostics) == []
    finally:
        analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={}))


def test_the_pack_treats_an_unknown_value_as_no_violation(analyzer):
    type_token = PEV
    props = vercel_var("NEXT_PUBLIC_SUPABASE_ANON_KEY", UNKNOWN_STRING_VALUE, False)
    response = analyzer.Analyze(analyzer_pb2.AnalyzeRequest(type=type_token, urn=urn_of(type_token, "v"), name="v",
                                                            properties=struct(props)))
    assert list(response.diagnostics) == []


def test_the_pack_matches_a_rotation_by_property_dependency(analyzer):
    secret_urn, rotation_urn = urn_of(SECRET, "database"), urn_of(ROTATION, "rotation")
    resources = [
        analyzer_pb2.AnalyzerResource(type=SECRET, urn=secret_urn, name="database",
                                      properties=struct({"name": "db", "kmsKeyId": KMS_ARN})),
        analyzer_pb2.AnalyzerResource(type=SECRET, urn=urn_of(SECRET, "stripe"), name="stripe",
                                      properties=struct({"name": "stripe", "kmsKeyId": KMS_ARN})),
        analyzer_pb2.AnalyzerResource(
            type=ROTATION, urn=rotation_urn, name="rotation", properties=struct({"secretId": UNKNOWN_STRING_VALUE}),
            propertyDependencies={"secretId": analyzer_pb2.AnalyzerPropertyDependencies(urns=[secret_urn])}),
    ]
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources))
    assert [(d.policyName, d.urn) for d in response.diagnostics] == [
        ("secretsmanager-rotation", urn_of(SECRET, "stripe"))]
