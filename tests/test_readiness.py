"""`tools.readiness`: today's committed placeholders fail it, each named by its full key; real-looking values pass."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.support.plans import STACKS
from tools import readiness
from tools.harness import ROOT

EXPECTED = {"kingtavo:bootstrap", "kingtavo:cluster.publicAccessCidrs[0]", "kingtavo:etl.blue.image",
            "kingtavo:etl.green.image", "kingtavo:supabase.anonKey", "kingtavo:supabase.projectRef",
            "kingtavo:supabase.url", "kingtavo:supabase.databaseHost", "kingtavo:alerting.slackTeamId",
            "kingtavo:alerting.slackChannelId", "kingtavo:sentry.pagerdutyIntegrationId",
            "kingtavo:sentry.pagerdutyServiceId", "kingtavo:logs.vercelDrainEndpoint",
            "kingtavo:supabase.allowedCidrs[0]", "kingtavo:supabase.allowedCidrs[1]"}


@pytest.mark.parametrize("stack", STACKS)
def test_committed_placeholders_fail_and_each_is_named_by_its_full_key(stack, capsys):
    assert readiness.main(["--stack", stack]) == 1
    named = {finding.key for finding in readiness.check(stack)}
    assert named >= EXPECTED, EXPECTED - named
    out = capsys.readouterr().out
    for key in EXPECTED:
        assert f"  - {key}: " in out


def _real_looking_copy(stack: str, tmp_path):
    """The stack file with every placeholder replaced by a value of the right shape, comments dropped."""
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    ref = "abcdefghijklmnopqrst"
    config["kingtavo:bootstrap"] = "kingtavo/kingtavo-bootstrap/main"
    config["kingtavo:cluster"]["publicAccessCidrs"] = ["85.214.132.0/24"]
    for color in ("blue", "green"):
        image = config["kingtavo:etl"][color]["image"]
        config["kingtavo:etl"][color]["image"] = image.replace("111122223333", "210987654321")
    config["kingtavo:supabase"].update({
        "projectRef": ref, "url": f"https://{ref}.supabase.co", "anonKey": "sb_publishable_Zm9vYmFyYmF6cXV4",
        "databaseHost": "aws-0-eu-central-1.pooler.supabase.com", "allowedCidrs": ["85.214.132.0/24"]})
    for index, member in enumerate(config["kingtavo:frontend"].get("teamMembers") or []):
        member["userId"] = f"Vx7qT2mWcR9pL4kZ8nB3dF{index:02d}"
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    return tmp_path


@pytest.mark.parametrize("stack", STACKS)
def test_a_copy_with_real_looking_values_is_ready(stack, tmp_path):
    assert readiness.check(stack, _real_looking_copy(stack, tmp_path)) == []


@pytest.mark.parametrize(("value", "reason"), [
    ("198.51.100.7/32", "documentation range"), ("2001:db8::/48", "documentation range"),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/x:1", "example account"),
    ("https://hooks.example.com/x", "placeholder marker"), ("CHANGEME", "placeholder marker"),
])
def test_each_placeholder_shape_is_caught(value, reason):
    [finding] = readiness.value_findings("kingtavo:x.y", value)
    assert reason in finding.reason and finding.key == "kingtavo:x.y"


def test_a_comment_marks_a_placeholder_with_its_nested_key(tmp_path):
    shutil.copy(ROOT / "Pulumi.staging.yaml", tmp_path / "Pulumi.staging.yaml")
    text = "config:\n  kingtavo:alerting:\n    slackTeamId: T0ABCDEFG  # placeholder\n    etlNoSuccessHours: 6\n"
    assert [str(f) for f in readiness.commented_placeholders(text)] == [
        "kingtavo:alerting.slackTeamId: marked `# placeholder` in the stack file"]
