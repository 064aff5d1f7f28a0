"""The offline plan as a person runs it (`python -m tools.plan`): both stacks, determinism, JSON, exit codes,
the comparison, and the policy gate over whole stacks."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import shutil

import pytest
import yaml

from tests.support.plans import STACKS
from tools import plan as plan_cli
from tools.harness import ROOT, run_stack
from tools.policy_gate import evaluate, load_pack_config


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = plan_cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("stack", STACKS)
def test_both_stacks_plan_with_no_policy_violation(capsys, stack):
    code, out, _ = _run(capsys, "--stack", stack)
    assert code == 0
    assert out.startswith(f"Offline plan for stack '{stack}'")
    for component in ("kingtavo:network:Network network", "kingtavo:compute:Cluster cluster",
                      "kingtavo:frontend:VercelFrontend frontend", "kingtavo:secrets:EtlSecrets secrets"):
        assert component in out
    assert "aws:ec2:Vpc " in out and "aws:ec2:NatGateway " in out
    assert "Policy pack kingtavo-secret-hygiene: no violations" in out
    assert "kubeconfig: [secret]" in out


@pytest.mark.parametrize("stack", STACKS)
def test_the_plan_output_is_deterministic(capsys, stack):
    first = _run(capsys, "--stack", stack, "--json")
    second = _run(capsys, "--stack", stack, "--json")
    assert first == second
    assert _run(capsys, "--stack", stack)[1] == _run(capsys, "--stack", stack)[1]


def test_json_output_masks_every_secret(capsys):
    code, out, _ = _run(capsys, "--stack", "production", "--json")
    document = json.loads(out)
    assert code == 0 and document["stack"] == "production" and document["violations"] == []
    assert document["outputs"]["kubeconfig"] == "[secret]"
    fakes = run_stack("production").secrets
    for value in fakes.values():
        for text in value.values() if isinstance(value, dict) else [value]:
            assert text not in out
    assert any(r["type"] == "aws:eks/cluster:Cluster" for r in document["resources"])


def test_invalid_settings_exit_2_with_every_problem(capsys):
    code, out, err = _run(capsys, "--stack", "staging", "--set", "network.cidr=10.0.0.0/33",
                          "--set", "activeColor=red")
    assert code == 2 and out == ""
    assert "kingtavo:network.cidr: '10.0.0.0/33' is not an IPv4 CIDR" in err
    assert "kingtavo:activeColor: 'red' is not a color (expected 'blue' or 'green')" in err


def test_compare_lists_what_a_flip_changes(capsys):
    code, out, _ = _run(capsys, "--stack", "production", "--compare", "activeColor=green")
    assert code == 0
    section = out.split("Compared with activeColor=green: ", 1)[1].splitlines()
    assert section[0] == "4 resource(s) change"
    assert sorted(line.split()[2] for line in section[1:5]) == [
        "etl-live-service", "etl-preview-service", "frontend-idle-alias", "frontend-live-alias"]


def _copy_with_stack_file(tmp_path, stack: str, edit) -> object:
    """A copy of the project with one stack file edited; components are imported from the real tree."""
    for name in ("Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.production.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    path = tmp_path / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text())
    edit(document["config"])
    path.write_text(yaml.safe_dump(document))
    return tmp_path


@pytest.mark.parametrize("stack", STACKS)
def test_the_gate_passes_both_stacks(stack):
    assert evaluate(run_stack(stack).resources, load_pack_config()) == []


def test_a_leak_planted_in_a_copy_of_the_stack_settings_fails_the_gate(tmp_path):
    # an AWS access key id shape, assembled here so no committed file holds one
    leaked = "AK" + "IA" + "Z7" * 8

    # Settings refuse a credential-shaped publicEnv value before the plan (tests/settings/test_setting_rules.py),
    # so the leak is planted in a setting whose value settings do not judge: the gate is the layer behind them.
    def plant(config):
        config["kingtavo:alerting"]["runbookBaseUrl"] = f"https://runbooks.example.com/{leaked}"

    root = _copy_with_stack_file(tmp_path, "staging", plant)
    violations = evaluate(run_stack("staging", root=root).resources, load_pack_config())
    assert violations, "the planted key was not caught"
    assert {v.policy_name for v in violations} >= {"no-secret-shaped-values"}
    assert all(v.mandatory for v in violations)
    assert not any(leaked in v.message for v in violations)


def test_routing_urns_are_exactly_the_four_resources_a_flip_changes(capsys):
    code, out, _ = _run(capsys, "--stack", "production", "--routing-urns")
    assert code == 0
    assert [urn.rsplit("::", 1)[1] for urn in out.split()] == [
        "etl-live-service", "etl-preview-service", "frontend-idle-alias", "frontend-live-alias"]


def test_against_an_exported_state_reports_drift_and_a_clean_one_passes(capsys, tmp_path):
    import json

    from tools.against import state_from_plan
    from tools.harness import run_stack

    state = state_from_plan(run_stack("staging"))
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps(state))
    assert _run(capsys, "--stack", "staging", "--against", str(clean))[0] == 0
    service = next(r for r in state["deployment"]["resources"] if r["urn"].endswith("::etl-live-service"))
    service["inputs"]["spec"]["selector"]["color"] = "green"
    drifted = tmp_path / "drifted.json"
    drifted.write_text(json.dumps(state))
    code, out, _ = _run(capsys, "--stack", "staging", "--against", str(drifted))
    assert code == 1 and "etl-live-service" in out


@functools.cache
def _plan_text(*argv: str) -> str:
    """The plan's text for these arguments, computed once per session (the plan is deterministic)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert plan_cli.main(list(argv)) == 0
    return buffer.getvalue()


def _summary(out: str) -> dict[str, str]:
    """The summary's fields, continuation lines joined."""
    block = out.split("\nSummary\n", 1)[1].split("\n\n", 1)[0]
    fields: dict[str, str] = {}
    for line in block.splitlines():
        if line[2] != " ":
            label, _, text = line.strip().partition(" ")
            fields[label] = text.strip()
        else:
            fields[label] += " " + line.strip()
    return fields


@pytest.mark.parametrize("stack", STACKS)
def test_the_plan_opens_with_a_summary_that_counts_what_follows(capsys, stack):
    from tools.planes import PlaneIndex, provider_of

    out = _plan_text("--stack", stack)
    assert out.splitlines()[2] == "Summary"
    fields = _summary(out)
    assert list(fields) == ["resources", "providers", "protected", "changes", "policy", "readiness", "cost"]
    plan = run_stack(stack)
    declared = [r for r in plan.resources if r.custom and not r.read]
    assert fields["resources"].startswith(f"{len(declared)} declared, ")
    per_plane = dict(item.rsplit(" ", 1) for item in fields["resources"].split("by plane: ")[1].split(", "))
    assert sum(map(int, per_plane.values())) == len(declared)
    index = PlaneIndex(plan)
    assert per_plane == {p: str(n) for p, n in
                         ((p, sum(len(index.declared(c.members)) for c in cs)) for p, cs in index.planes.items()) if n}
    providers = dict(item.rsplit(" ", 1) for item in fields["providers"].split(", "))
    assert providers["aws"] == str(sum(provider_of(r) == "aws" for r in declared))
    assert sum(map(int, providers.values())) == len(declared)
    protected = [r.name for r in declared if r.protect]
    if protected:
        assert fields["protected"].startswith(f"{len(protected)}: ")
        assert sorted(fields["protected"].split(": ", 1)[1].split(", ")) == sorted(protected)
    else:
        assert fields["protected"].startswith("none")
    assert fields["policy"] == "kingtavo-secret-hygiene: no violations"
    assert fields["changes"].startswith("not compared")
    assert "still hold a placeholder" in fields["readiness"]
    assert "ESTIMATE" in fields["cost"] and "eu-central-1" in fields["cost"] and "2026-12-01" in fields["cost"]


def test_production_protects_its_stateful_resources_and_staging_none():
    assert _summary(_plan_text("--stack", "staging"))["protected"].startswith("none")
    fields = _summary(_plan_text("--stack", "production"))
    assert {"network-vpc", "cluster-eks", "platform-key", "backups-bucket"} <= set(
        fields["protected"].split(": ", 1)[1].split(", "))


def test_the_summary_says_what_a_compare_changes():
    out = _plan_text("--stack", "production", "--compare", "activeColor=green")
    assert _summary(out)["changes"] == "with activeColor=green: 4 resource(s) (update 4); listed at the end"


@pytest.mark.parametrize("stack", STACKS)
def test_planes_follow_the_composition_root_and_every_row_fits_120_columns(stack):
    from tools.planes import composition_order

    out = _plan_text("--stack", stack)
    too_long = [line for line in out.splitlines() if len(line) > 120]
    assert too_long == []
    planes = [line.split()[1] for line in out.splitlines() if line.startswith("Plane ")]
    # the bootstrap StackReferences are lookups outside any component: the "(stack)" group, printed last
    assert planes[:4] == ["security", "network", "alerting", "compute"] and planes[-2:] == ["backups", "(stack)"]
    assert sorted(planes) == sorted(set(planes)), "a plane is printed twice"
    # top-level components appear in the order __main__.py builds them
    built = [f"{cls} {name}" for cls, name in composition_order()]
    shown = [" ".join(line.split()[:2]).split(":")[-1] for line in out.splitlines() if line.startswith("  kingtavo:")]
    top_level = [c for c in shown if c in built]
    by_plane = {}
    for line in out.splitlines():
        if line.startswith("Plane "):
            current = line.split()[1]
        elif line.startswith("  kingtavo:") and " ".join(line.split()[:2]).split(":")[-1] in built:
            by_plane.setdefault(current, []).append(" ".join(line.split()[:2]).split(":")[-1])
    for components in by_plane.values():
        assert components == sorted(components, key=built.index)
    assert len(top_level) == len(set(top_level)) >= 14
