"""`tools.readiness`: today's committed placeholders fail it, each named by its full key; real-looking values pass."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.support.plans import STACKS
from tools import readiness
from tools.harness import ROOT

EXPECTED = {"kingtavo:cluster.publicAccessCidrs[0]", "kingtavo:etl.blue.image",
            "kingtavo:etl.green.image", "kingtavo:supabase.anonKey", "kingtavo:supabase.projectRef",
            "kingtavo:supabase.url", "kingtavo:alerting.slackTeamId",
            "kingtavo:alerting.slackChannelId", "kingtavo:sentry.pagerdutyIntegrationId",
            "kingtavo:sentry.pagerdutyServiceId", "kingtavo:logs.vercelDrainEndpoint",
            "lambdas/secret_rotation/certs/prod-ca-2021.crt", "kingtavo:supabase.allowedCidrs[0]",
            "kingtavo:supabase.allowedCidrs[1]"}


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
    (tmp_path / "bootstrap").mkdir()
    for name in {ref.rsplit("/", 1)[1] for ref in config["kingtavo:bootstrap"].values()}:
        text = (ROOT / "bootstrap" / f"Pulumi.{name}.yaml").read_text()
        (tmp_path / "bootstrap" / f"Pulumi.{name}.yaml").write_text(
            text.replace("111122223333", "210987654321").replace("# placeholder", ""))
    config["kingtavo:cluster"]["publicAccessCidrs"] = ["85.214.132.0/24"]
    for color in ("blue", "green"):
        image = config["kingtavo:etl"][color]["image"]
        config["kingtavo:etl"][color]["image"] = image.replace("111122223333", "210987654321")
    config["kingtavo:supabase"].update({
        "projectRef": ref, "url": f"https://{ref}.supabase.co", "anonKey": "sb_publishable_Zm9vYmFyYmF6cXV4",
        "allowedCidrs": ["85.214.132.0/24"]})
    for index, member in enumerate(config["kingtavo:frontend"].get("teamMembers") or []):
        member["userId"] = f"Vx7qT2mWcR9pL4kZ8nB3dF{index:02d}"
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    ca = tmp_path / readiness.DATABASE_CA
    ca.parent.mkdir(parents=True)
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB (a test stand-in)\n-----END CERTIFICATE-----\n")
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


def test_a_missing_bootstrap_stack_is_named(tmp_path):
    findings = readiness.bootstrap_findings({"stack": "kingtavo/kingtavo-bootstrap/qa"}, tmp_path)
    assert [str(f) for f in findings] == [
        "kingtavo:bootstrap.stack: names bootstrap stack 'qa', but bootstrap/Pulumi.qa.yaml does not exist"]


def test_a_comment_marks_a_placeholder_with_its_nested_key(tmp_path):
    shutil.copy(ROOT / "Pulumi.staging.yaml", tmp_path / "Pulumi.staging.yaml")
    text = "config:\n  kingtavo:alerting:\n    slackTeamId: T0ABCDEFG  # placeholder\n    etlNoSuccessHours: 6\n"
    assert [str(f) for f in readiness.commented_placeholders(text)] == [
        "kingtavo:alerting.slackTeamId: marked `# placeholder` in the stack file"]
