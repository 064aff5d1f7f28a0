"""The Vercel log drain, from offline runs of the whole program: one per stack, signed with a generated secret."""

from __future__ import annotations

import pytest

from tests.support.plans import STACKS, plan
from tools.harness import PlanResult, is_secret_wrapper, stack_config
from tools.plan import compare
from tools.policy_gate import evaluate, load_pack_config

LOG_DRAIN = "vercel:index/logDrain:LogDrain"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
VERCEL_VARIABLE = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"
TARGETS = {"staging": "preview", "production": "production"}


def _drain(result: PlanResult):
    return result.one(LOG_DRAIN)


def _signing_secret(result: PlanResult):
    return result.one(RANDOM_PASSWORD, "logs-signing-secret")


@pytest.mark.parametrize("stack", STACKS)
def test_one_drain_for_the_stack_s_vercel_target_to_the_configured_endpoint(stack):
    drain = _drain(plan(stack)).inputs
    config = stack_config(stack)["kingtavo:logs"]
    assert drain["environments"] == [TARGETS[stack]]
    assert drain["endpoint"] == config["vercelDrainEndpoint"]
    assert drain["deliveryFormat"] == config["vercelDrainFormat"]
    assert drain["samplingRate"] == config["vercelDrainSamplingRate"]
    assert drain["name"] == f"kingtavo-{stack}"


@pytest.mark.parametrize("stack", STACKS)
def test_the_drain_takes_only_the_frontend_project(stack):
    result = plan(stack)
    project_ids = {r.inputs["projectId"] for r in result.by_type(VERCEL_VARIABLE)}
    assert len(project_ids) == 1, "the frontend's variables name its one project"
    assert _drain(result).inputs["projectIds"] == sorted(project_ids)


@pytest.mark.parametrize("stack", STACKS)
def test_function_edge_and_build_logs_are_drained_by_default(stack):
    sources = _drain(plan(stack)).inputs["sources"]
    assert {"lambda", "edge", "build", "static"} <= set(sources)
    assert len(sources) == len(set(sources))


def test_sources_and_format_follow_the_settings():
    drain = _drain(plan("staging", "logs.vercelDrainSources=[lambda]", "logs.vercelDrainFormat=json")).inputs
    assert drain["sources"] == ["lambda"] and drain["deliveryFormat"] == "json"


@pytest.mark.parametrize("stack", STACKS)
def test_the_signing_secret_is_generated_and_reaches_the_drain_only_as_a_secret(stack):
    result = plan(stack)
    generated = _signing_secret(result)
    assert generated.inputs["length"] >= 32 and generated.inputs["special"] is False
    secret_value = generated.outputs["result"]
    raw = _drain(result).raw_inputs["secret"]
    assert is_secret_wrapper(raw) and raw["value"] == secret_value
    # nowhere else, and never in a plain output
    elsewhere = [r.name for r in result.resources if r.name != _drain(result).name and secret_value in repr(r.inputs)]
    assert elsewhere == []
    assert "logDrainSigningSecret" in result.secret_outputs
    assert result.outputs["logDrainSigningSecret"] == secret_value
    plain_outputs = {k: v for k, v in result.outputs.items() if k not in result.secret_outputs}
    assert secret_value not in repr(plain_outputs)


def test_each_stack_drains_only_its_own_target():
    staging, production = _drain(plan("staging")).inputs, _drain(plan("production")).inputs
    assert not set(staging["environments"]) & set(production["environments"])
    assert staging["endpoint"] != production["endpoint"]


@pytest.mark.parametrize("stack", STACKS)
def test_flipping_the_active_color_leaves_the_drain_alone(stack):
    flipped = "activeColor=" + ("green" if stack_config(stack)["kingtavo:activeColor"] == "blue" else "blue")
    changes = compare(plan(stack), plan(stack, flipped))
    assert changes
    assert [c for c in changes if c.type in (LOG_DRAIN, RANDOM_PASSWORD)] == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_policy_pack_passes_the_drain(stack):
    result = plan(stack)
    ours = {_drain(result).urn, _signing_secret(result).urn}
    assert [v for v in evaluate(result.resources, load_pack_config()) if v.urn in ours] == []
