"""The release train: the deploy workflows' steps in order, and the scripts they call, run for real.

Parsed workflows prove the order (production's gate first; image check, backup, migrations, migration
check before `pulumi up`; smoke and e2e before the flip; verification after it; a flip-back path). The
step scripts run under bash with a stand-in `pulumi` that records its arguments (the CLI cannot be
installed here) and everything else real: `tools.plan --routing-urns` under the mock engine, `tools.smoke`
and `tools.e2e` (Debian chromium) against a local server that behaves like a protected Vercel deployment,
`tools.verify_flip` against local Sentry and live stand-ins, and the ops record in the real PostgreSQL as
the recorder login, read back by `tools.release_gate`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.recorder import recorder_db  # noqa: F401 - the fixture
from tests.support.workflows import ROOT, is_pulumi, jobs_of, load_all, runs, step_index, uses_of
from tools import release, release_gate
from tools.harness import run_stack
from tools.plan import routing_urns

PYTHON = str(ROOT / ".venv" / "bin" / "python")
STACK_URL, STACK_KEY = "https://stackrefabcdef.supabase.co", "sb_publishable_fake-stack-key"
IMAGE = "111122223333.dkr.ecr.eu-central-1.amazonaws.com/kingtavo/etl"


@pytest.fixture(scope="module")
def workflows():
    return load_all()


def deploy_job(workflows, name: str) -> dict:
    return jobs_of(workflows[f"deploy-{name}.yml"])["deploy"]


def step(job: dict, step_id: str) -> dict:
    (found,) = [s for s in job["steps"] if s.get("id") == step_id]
    return found


# --- the order of the steps ------------------------------------------------------------------------------

def test_production_runs_the_release_gate_before_anything_else(workflows):
    job = deploy_job(workflows, "production")
    gate = step_index(job, runs("tools.release_gate"))
    before = job["steps"][:gate]
    assert [uses_of(s) or s["run"] for s in before] == ["actions/checkout", "actions/setup-python", "make venv"]
    gate_step = job["steps"][gate]
    assert "--stack-file Pulumi.production.yaml --require-e2e" in gate_step["run"]
    # it reads staging's record, through production's environment secret (no new long-lived credential)
    assert gate_step["env"] == {"OPS_RECORDER_DATABASE_URL": "${{ secrets.STAGING_OPS_RECORDER_DATABASE_URL }}"}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_one_order_image_check_backup_migrations_check_then_update(workflows, stack):
    job = deploy_job(workflows, stack)
    backup = "tools/backup_before_migrations.sh" if stack == "staging" else "/database/backups/restore-point"
    order = [step_index(job, lambda s: uses_of(s) == "aws-actions/configure-aws-credentials"),
             step_index(job, runs(f"tools.image_check --stack {stack}")), step_index(job, runs(backup)),
             step_index(job, runs("supabase link --project-ref")),
             step_index(job, runs("supabase migration up --linked")),
             step_index(job, runs("supabase migration list --linked | .venv/bin/python -m tools.migrations_check")),
             step_index(job, is_pulumi("up"))]
    assert order == sorted(order) and len(set(order)) == len(order)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_smoke_and_e2e_of_the_idle_side_before_the_flip(workflows, stack):
    job = deploy_job(workflows, stack)
    checks = step(job, "checks" if stack == "staging" else "idle-checks")
    assert checks["run"].startswith('bash tools/release_checks.sh "$IDLE_URL"') and "--smoke-only" not in checks["run"]
    assert checks["env"]["IDLE_URL"] == "${{ steps.up.outputs.idleUrl }}"
    assert step_index(job, is_pulumi("up")) < job["steps"].index(checks) < job["steps"].index(step(job, "flip"))
    # a release flips only after its checks passed (a failed step stops the job: no always() on the flip)
    assert "always()" not in step(job, "flip")["if"]


def test_production_verifies_after_the_flip_and_flips_back_on_a_breach(workflows):
    job = deploy_job(workflows, "production")
    flip, checks, verify, back = (step(job, i) for i in ("flip", "checks", "verify", "flip-back"))
    assert job["steps"].index(flip) < job["steps"].index(checks) < job["steps"].index(verify) < \
        job["steps"].index(back)
    assert verify["run"] == "bash tools/verify_after_flip.sh"
    assert verify["env"]["WINDOW"] == "${{ inputs.verify-window || 600 }}"
    window = workflows["deploy-production.yml"]["on"]["workflow_dispatch"]["inputs"]["verify-window"]
    assert (window["type"], window["default"]) == ("number", 600)
    assert "steps.verify.outputs.decision == 'flip-back'" in back["if"] and back["if"].startswith("always()")
    assert "steps.color.outputs.mode == 'deploy'" in back["if"]  # a release's flip, never a manual rollback
    assert back["env"]["BACK_TO"] == "${{ steps.color.outputs.live }}"
    assert 'tools/flip.sh "$STACK" "$BACK_TO"' in back["run"]
    record = job["steps"][step_index(job, runs("tools/record_deployment.sh"))]
    assert record["if"].startswith("always()") and job["steps"].index(record) > job["steps"].index(back)
    assert record["env"]["FLIPPED_BACK"] == "${{ steps.flip-back.outcome }}"


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_recorder_url_is_an_environment_secret_named_in_the_header(workflows, stack):
    job = deploy_job(workflows, stack)
    record = job["steps"][step_index(job, runs("tools/record_deployment.sh"))]
    assert record["env"]["OPS_RECORDER_DATABASE_URL"] == "${{ secrets.OPS_RECORDER_DATABASE_URL }}"
    assert job["environment"]["name"] == stack
    header = (ROOT / ".github" / "workflows" / f"deploy-{stack}.yml").read_text().split("\nname:")[0]
    assert "OPS_RECORDER_DATABASE_URL" in header
    # the bypass secret is the stack's output, not a stored GitHub secret
    assert "VERCEL_AUTOMATION_BYPASS_SECRET" not in json.dumps(job)


DEPLOY_SECRETS = {"VERCEL_API_TOKEN", "SENTRY_AUTH_TOKEN", "SUPABASE_ACCESS_TOKEN", "SUPABASE_DB_PASSWORD",
                  "OPS_RECORDER_DATABASE_URL"}


@pytest.mark.parametrize(("stack", "expected"), [
    ("staging", DEPLOY_SECRETS), ("production", DEPLOY_SECRETS | {"STAGING_OPS_RECORDER_DATABASE_URL"})])
def test_no_secret_beyond_the_ones_the_header_lists(stack, expected):
    """Every secret a deploy workflow reads is an environment secret named in its header; the only ones the
    release train added are the recorder logins' URLs (and the Vercel bypass comes from the stack output)."""
    text = (ROOT / ".github" / "workflows" / f"deploy-{stack}.yml").read_text()
    used = set(re.findall(r"secrets\.([A-Z_]+)", text))
    assert used == expected
    header = text.split("\nname:")[0]
    assert all(name in header for name in used), [name for name in used if name not in header]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_chromium_is_installed_where_e2e_runs(workflows, stack):
    job = deploy_job(workflows, stack)
    install = step_index(job, runs("apt-get install -y -qq --no-install-recommends chromium"))
    assert install < step_index(job, runs("tools/release_checks.sh"))


# --- tools.release: is this run a release? ----------------------------------------------------------------

def stack_text(blue_ref: str, blue_image: str, green_ref: str, green_image: str, color: str = "blue") -> str:
    return (f"config:\n  kingtavo:activeColor: {color}\n  kingtavo:supabase:\n    url: {STACK_URL}\n"
            f"    anonKey: {STACK_KEY}\n  kingtavo:etl:\n    blue:\n      image: {blue_image}\n"
            f"    green:\n      image: {green_image}\n  kingtavo:frontend:\n    blue:\n      ref: {blue_ref}\n"
            f"    green:\n      ref: {green_ref}\n")


def digest() -> str:
    return "sha256:" + secrets.token_hex(32)


def run_release(tmp_path, after: str, before: str | None, *extra: str) -> tuple[int, dict[str, str], str]:
    (tmp_path / "after.yaml").write_text(after)
    args = ["--stack-file", str(tmp_path / "after.yaml"), "--live-color", "blue", *extra]
    if before is not None:
        (tmp_path / "before.yaml").write_text(before)
        args += ["--before-file", str(tmp_path / "before.yaml")]
    done = subprocess.run([PYTHON, "-m", "tools.release", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "GITHUB_OUTPUT": ""})
    outputs = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line and "::" not in line)
    return done.returncode, outputs, done.stdout + done.stderr


def test_a_pinned_change_to_the_idle_colour_is_a_release(tmp_path):
    web, image = secrets.token_hex(20), f"{IMAGE}@{digest()}"
    before = stack_text("v1.4.2", f"{IMAGE}:1.4.2", "v1.4.1", f"{IMAGE}:1.4.1")
    code, out, text = run_release(tmp_path, stack_text("v1.4.2", f"{IMAGE}:1.4.2", web, image), before)
    assert code == 0, text
    assert out == {"release": "true", "live": "blue", "idle": "green", "web-sha": web,
                   "etl-digest": image.split("@")[1], "version": f"web-{web[:12]}+etl-{image.split(':')[-1][:12]}"}


def test_an_unchanged_idle_colour_is_no_release_and_a_manual_run_can_force_one(tmp_path):
    same = stack_text("v1.4.2", f"{IMAGE}:1.4.2", secrets.token_hex(20), f"{IMAGE}@{digest()}")
    assert run_release(tmp_path, same, same)[1]["release"] == "false"
    assert run_release(tmp_path, same, None)[1]["release"] == "false"
    assert run_release(tmp_path, same, same, "--force")[1]["release"] == "true"


def test_a_change_to_the_live_colour_or_an_unpinned_release_is_refused(tmp_path):
    before = stack_text("v1.4.2", f"{IMAGE}:1.4.2", "v1.4.1", f"{IMAGE}:1.4.1")
    code, _, text = run_release(tmp_path, stack_text(secrets.token_hex(20), f"{IMAGE}@{digest()}", "v1.4.1",
                                                     f"{IMAGE}:1.4.1"), before)
    assert code == 1 and "but blue is live: a release goes to the idle color (green)" in text
    code, _, text = run_release(tmp_path, stack_text("v1.4.2", f"{IMAGE}:1.4.2", "main", f"{IMAGE}:1.5.0"), before)
    assert code == 1
    assert "kingtavo:frontend.green.ref is 'main': a release names a 40-character commit SHA" in text
    assert "kingtavo:etl.green.image is" in text and "pins the image by @sha256: digest" in text


def test_describe_prints_what_a_colour_runs(tmp_path):
    web, image = secrets.token_hex(20), f"{IMAGE}@{digest()}"
    (tmp_path / "s.yaml").write_text(stack_text("v1.4.2", f"{IMAGE}:1.4.2", web, image))
    for color, expected in (("green", f"web-sha={web}\netl-digest={image.split('@')[1]}\n"),
                            ("blue", "web-sha=\netl-digest=\n")):
        done = subprocess.run([PYTHON, "-m", "tools.release", "--stack-file", str(tmp_path / "s.yaml"),
                               "--describe", color], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout) == (0, expected)


def test_bad_input_names_the_file_or_option(tmp_path):
    (tmp_path / "bad.yaml").write_text("config: [1, 2\n")
    assert release.main(["--stack-file", str(tmp_path / "bad.yaml"), "--live-color", "blue"]) == 2
    (tmp_path / "ok.yaml").write_text(stack_text("a", "b", "c", "d"))
    with pytest.raises(release.ReleaseError, match="--live-color: expected blue or green, got 'red'"):
        release.decide(release.load_config(tmp_path / "ok.yaml"), "red", None, False)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                          check=True, capture_output=True, text=True, timeout=60).stdout.strip()


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_release_step_compares_with_the_previous_deploy(workflows, tmp_path, stack):
    """The workflow's own step in a scratch repository: staging compares with the push's `before` commit,
    production with the previous release tag; a later commit that only records the colour is no release."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "tools").symlink_to(ROOT / "tools")
    (repo / ".venv").symlink_to(ROOT / ".venv")
    stack_file = repo / f"Pulumi.{stack}.yaml"
    git(repo, "init", "-q")
    stack_file.write_text(stack_text("v1.4.2", f"{IMAGE}:1.4.2", "v1.4.1", f"{IMAGE}:1.4.1"))
    git(repo, "add", stack_file.name)
    git(repo, "commit", "-q", "-m", "first")
    git(repo, "tag", "v1.0.0")
    first = git(repo, "rev-parse", "HEAD")
    web, image = secrets.token_hex(20), f"{IMAGE}@{digest()}"
    stack_file.write_text(stack_text("v1.4.2", f"{IMAGE}:1.4.2", web, image))
    git(repo, "commit", "-q", "-am", "release to green")
    script = step(deploy_job(workflows, stack), "release")["run"]

    def run(before: str) -> dict[str, str]:
        output = tmp_path / "out"
        output.write_text("")
        env = {"PATH": os.environ["PATH"], "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(output),
               "LIVE_COLOR": "blue", "FORCE": "false", "BEFORE": before, "HOME": str(tmp_path)}
        done = subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return dict(line.split("=", 1) for line in output.read_text().splitlines())

    assert run(first) == run(first) and run(first)["release"] == "true" and run(first)["web-sha"] == web
    git(repo, "tag", "v1.1.0")
    stack_file.write_text(stack_text("v1.4.2", f"{IMAGE}:1.4.2", web, image, color="green"))
    git(repo, "commit", "-q", "-am", "record the colour")
    assert run(git(repo, "rev-parse", "HEAD^"))["release"] == "false"


# --- the flip: exactly the routing URNs -------------------------------------------------------------------

@pytest.fixture(scope="module")
def routing() -> dict[str, list[str]]:
    plans = {stack: run_stack(stack, []) for stack in ("staging", "production")}
    return {stack: routing_urns(plan, []) for stack, plan in plans.items()} | {"plans": plans}


def test_nothing_depends_on_the_routing_resources_so_no_target_dependents(routing):
    """`--target-dependents` is needed only when something outside the targets depends on them: nothing does."""
    for stack in ("staging", "production"):
        urns = set(routing[stack])
        assert len(urns) == 4
        for resource in routing["plans"][stack].resources:
            if resource.urn in urns:
                continue
            used = {u for deps in resource.property_dependencies.values() for u in deps}
            assert not used & urns and resource.parent not in urns, (stack, resource.urn)


def stand_in_pulumi(tmp_path: Path, outputs: dict[str, str] | None = None) -> tuple[Path, Path]:
    """A `pulumi` that appends its arguments (one JSON list a line) and answers `stack output NAME`."""
    bin_dir, log = tmp_path / "bin", tmp_path / "pulumi-calls"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "pulumi"
    script.write_text(f"#!{sys.executable}\nimport json, sys\n"
                      f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
                      f"outputs = {json.dumps(outputs or {})}\n"
                      "if sys.argv[1:3] == ['stack', 'output']:\n"
                      "    print(json.dumps(outputs) if '--json' in sys.argv else outputs[sys.argv[-1]])\n")
    script.chmod(0o755)
    return bin_dir, log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def bash(script: str, tmp_path: Path, env: dict[str, str], bin_dir: Path, timeout: int = 180):
    output = tmp_path / "github_output"
    output.touch()
    full = {"PATH": f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin", "GITHUB_OUTPUT": str(output),
            "HOME": str(tmp_path), **env}
    done = subprocess.run(["bash", "-e", "-c", script], cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=timeout)
    written = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return done, written


def test_the_staging_flip_step_targets_exactly_the_urns_tools_plan_prints(workflows, routing, tmp_path):
    """The workflow's own flip step, the real `tools.plan --routing-urns`, a stand-in `pulumi`."""
    flip = step(deploy_job(workflows, "staging"), "flip")
    bin_dir, log = stand_in_pulumi(tmp_path)
    done, written = bash(flip["run"], tmp_path, {"STACK": "staging", "TO_COLOR": "green", "RUN_ID": "42"}, bin_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    config_set, up = calls(log)
    assert config_set == ["config", "set", "--stack", "kingtavo/kingtavo/staging", "kingtavo:activeColor", "green"]
    targets = [up[i + 1] for i, arg in enumerate(up) if arg == "--target"]
    assert sorted(targets) == sorted(routing["staging"]) and len(targets) == 4
    assert up[:2] == ["up", "--stack"] and "--target-dependents" not in up and "--yes" in up
    assert "--policy-pack" not in up
    assert written == {"color": "green"}


@pytest.fixture
def stand_in_plan(tmp_path, routing) -> Path:
    """A python that answers only `-m tools.plan --stack S --routing-urns` (with the real URNs), else fails."""
    fake = tmp_path / "python-plan"
    urns = json.dumps({s: routing[s] for s in ("staging", "production")})
    fake.write_text(f"#!{sys.executable}\nimport os, sys\nurns = {urns}\nargs = sys.argv[1:]\n"
                    "assert args[:3] == ['-m', 'tools.plan', '--stack'] and args[4:] == ['--routing-urns'], args\n"
                    "print('\\n'.join(urns[args[3]][:int(os.environ.get('URN_COUNT', '4'))]))\n")
    fake.chmod(0o755)
    return fake


@pytest.mark.parametrize(("step_id", "env"), [
    ("flip", {"TO_COLOR": "green", "RUN_ID": "7"}),
    ("flip-back", {"BACK_TO": "blue", "REASON": "5xx ratio over 0.05", "RUN_ID": "7"}),
])
def test_the_production_flip_and_flip_back_use_the_same_targets(workflows, routing, tmp_path, stand_in_plan,
                                                                 step_id, env):
    script = step(deploy_job(workflows, "production"), step_id)["run"]
    bin_dir, log = stand_in_pulumi(tmp_path)
    done, _ = bash(script, tmp_path, {"STACK": "production", "PYTHON": str(stand_in_plan), **env}, bin_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    config_set, up = calls(log)
    assert config_set[-1] == (env.get("TO_COLOR") or env["BACK_TO"])
    assert sorted(up[i + 1] for i, a in enumerate(up) if a == "--target") == sorted(routing["production"])


@pytest.mark.parametrize(("stack", "step_ids"), [("staging", ["flip"]), ("production", ["flip", "flip-back"])])
def test_a_flip_gets_the_providers_tokens_the_full_update_gets(workflows, stack, step_ids):
    """A targeted `pulumi up` still runs the whole program: its providers need the same tokens."""
    job = deploy_job(workflows, stack)
    (up,) = [s for s in job["steps"] if is_pulumi("up")(s)]
    for step_id in step_ids:
        assert up["env"].items() <= step(job, step_id)["env"].items(), step_id


def test_a_flip_refuses_anything_but_four_urns_and_bad_arguments(tmp_path, stand_in_plan):
    bin_dir, log = stand_in_pulumi(tmp_path)
    done, _ = bash("tools/flip.sh production green msg", tmp_path, {"PYTHON": str(stand_in_plan), "URN_COUNT": "3"},
                   bin_dir)
    assert done.returncode == 1 and "printed 3 URNs for production, expected exactly 4" in done.stdout
    assert calls(log) == []  # nothing was changed
    done, _ = bash("tools/flip.sh production purple msg", tmp_path, {"PYTHON": str(stand_in_plan)}, bin_dir)
    assert done.returncode == 2 and "COLOR must be blue or green, got 'purple'" in done.stderr


# --- the colour decision (both workflows) -----------------------------------------------------------------

@pytest.mark.parametrize(("committed", "live", "requested", "expected"), [
    ("blue", "blue", "unchanged", (0, "deploy", "blue")),
    ("blue", "", "unchanged", (0, "deploy", "blue")),
    ("blue", "blue", "green", (0, "flip", "green")),
    ("blue", "green", "blue", (0, "flip", "blue")),      # rollback before the flip's pull request merged
    ("blue", "blue", "blue", (1, None, None)),
    ("blue", "green", "unchanged", (1, None, None)),   # main disagrees: merge the colour pull request first
])
def test_the_colour_decision(tmp_path, committed, live, requested, expected):
    bin_dir, _ = stand_in_pulumi(tmp_path)
    (bin_dir / "pulumi").write_text(f"#!/bin/sh\necho '{json.dumps({'liveColor': live} if live else {})}'\n")
    stack_file = tmp_path / "Pulumi.staging.yaml"
    stack_file.write_text(f"config:\n  kingtavo:activeColor: {committed}\n")
    done, written = bash("bash tools/deploy_color.sh", tmp_path, {
        "STACK_FILE": str(stack_file), "PULUMI_STACK": "kingtavo/kingtavo/staging", "REQUESTED": requested}, bin_dir)
    code, mode, target = expected
    assert done.returncode == code, done.stdout + done.stderr
    if code == 0:
        assert (written["mode"], written["target"], written["committed"]) == (mode, target, committed)
        assert written["config-map"] == f'{{"kingtavo:activeColor": {{value: {committed}, secret: false}}}}'
        datetime.fromisoformat(written["started-at"].replace("Z", "+00:00"))
    else:
        assert "::error::" in done.stdout


# --- the checks, the backup gate, the verification and the record, against local servers -----------------

class Site(BaseHTTPRequestHandler):
    """A protected deployment (401 without the bypass header), Supabase's REST root, a Sentry issues API,
    and the Supabase Management API's backup list: one local server standing in for all of them."""

    secret = ""
    broken = False
    backups: dict = {}
    new_issues: list = []

    def log_message(self, *args):
        pass

    def _send(self, code: int, body: str, kind: str = "text/html"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        path = self.path.split("?")[0]
        if path == "/rest/v1/":
            self._send(401, '{"message":"No API key found in request"}', "application/json")
        elif path.startswith("/v1/projects/") and path.endswith("/database/backups"):
            ok = self.headers.get("Authorization") == f"Bearer {type(self).secret}"
            self._send(200 if ok else 401, json.dumps(type(self).backups), "application/json")
        elif path == "/api/0/organizations/kingtavo/issues/":
            self._send(200, json.dumps(type(self).new_issues), "application/json")
        elif self.headers.get("x-vercel-protection-bypass") != type(self).secret:
            self._send(401, "<html><title>Authentication Required</title><body>Vercel Authentication</body></html>")
        elif type(self).broken:
            self._send(500, "<html><title>Error</title><body>Internal Server Error</body></html>")
        elif path == "/":
            self._send(200, f'<html><head><title>Kingtavo</title></head><body><div id="__next">Kingtavo</div>'
                            f'<script>const env = {{url: "{STACK_URL}", key: "{STACK_KEY}"}};</script></body></html>')
        else:
            self._send(404, "<html><title>404</title><body>NOT_FOUND</body></html>")


@pytest.fixture
def site() -> Iterator[str]:
    Site.secret, Site.broken, Site.new_issues = "fake-bypass-" + secrets.token_hex(8), False, []
    Site.backups = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def checks_env(site: str, bin_dir: Path) -> dict[str, str]:
    return {"PULUMI_STACK": "kingtavo/kingtavo/staging", "SUPABASE_URL": site, "SUPABASE_PROJECT_REF": "unused",
            "SMOKE_DEADLINE": "3", "SMOKE_INTERVAL": "0.5", "PYTHON": PYTHON}


def test_the_release_flows_from_staging_checks_to_the_record_to_production_gate(
        site, tmp_path, recorder_db, monkeypatch, capsys):  # noqa: F811
    """A release: tools.release says so, the idle side passes smoke and e2e (with the bypass), the run is
    recorded as the recorder login, and production's gate then promotes that commit and digest, and
    refuses one staging never proved."""
    web, etl = secrets.token_hex(20), digest()
    before = stack_text("v1.4.2", f"{IMAGE}:1.4.2", "v1.4.1", f"{IMAGE}:1.4.1")
    after = stack_text("v1.4.2", f"{IMAGE}:1.4.2", web, f"{IMAGE}@{etl}")
    code, release_out, text = run_release(tmp_path, after, before)
    assert code == 0 and release_out["release"] == "true", text
    (tmp_path / "Pulumi.staging.yaml").write_text(after)

    bin_dir, _ = stand_in_pulumi(tmp_path, {"vercelProtectionBypassSecret": Site.secret})
    done, checks = bash(f'bash tools/release_checks.sh "{site}/" {tmp_path / "Pulumi.staging.yaml"}', tmp_path,
                        checks_env(site, bin_dir), bin_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert checks == {"smoke": "passed", "e2e": "passed"}
    assert f"::add-mask::{Site.secret}" in done.stdout  # masked before anything else can print it
    assert done.stdout.count(Site.secret) == 1

    record_env = {"OPS_RECORDER_DATABASE_URL": recorder_db.url(), "STACK": "staging", "GITHUB_SHA": "e" * 40,
                  "LIVE_BEFORE": "blue", "FLIP_COLOR": "green", "FLIPPED_BACK": "skipped",
                  "VERSION": release_out["version"], "WEB_SHA": web, "ETL_DIGEST": etl, "OUTCOME": "success",
                  "STARTED_AT": "2026-12-01T10:00:00Z", "RUN_URL": "https://example.invalid/runs/1",
                  "SMOKE": checks["smoke"], "E2E": checks["e2e"], "PYTHON": PYTHON}
    done, written = bash("bash tools/record_deployment.sh", tmp_path, record_env, bin_dir)
    assert done.returncode == 0 and written["recorded"] == "true", done.stdout + done.stderr
    assert recorder_db.rows("SELECT environment, color, status, smoke_passed, e2e_passed FROM ops.deployments "
                            "WHERE web_sha = :w", w=web) == [["staging", "green", "succeeded", True, True]]

    monkeypatch.setenv(release_gate.URL_ENV, recorder_db.url())
    production = tmp_path / "Pulumi.production.yaml"
    production.write_text(stack_text(web, f"{IMAGE}@{etl}", web, f"{IMAGE}@{etl}"))
    assert release_gate.main(["--stack-file", str(production), "--require-e2e"]) == 0
    unproven = secrets.token_hex(20)
    production.write_text(stack_text(web, f"{IMAGE}@{etl}", unproven, f"{IMAGE}@{etl}"))
    assert release_gate.main(["--stack-file", str(production), "--require-e2e"]) == 1
    assert f"REFUSED web commit {unproven}" in capsys.readouterr().out


def test_a_broken_idle_side_fails_the_checks_and_both_verdicts_are_written(site, tmp_path):
    Site.broken = True
    (tmp_path / "Pulumi.staging.yaml").write_text(stack_text("a", "b", "c", "d"))
    bin_dir, _ = stand_in_pulumi(tmp_path, {"vercelProtectionBypassSecret": Site.secret})
    done, checks = bash(f'bash tools/release_checks.sh "{site}/" {tmp_path / "Pulumi.staging.yaml"}', tmp_path,
                        checks_env(site, bin_dir), bin_dir)
    assert done.returncode == 1
    assert checks == {"smoke": "failed", "e2e": "failed"}
    assert "answered 500" in done.stdout


def test_a_rolled_back_flip_records_both_events(tmp_path, recorder_db):  # noqa: F811
    """The flip (rolled_back, with the release it carried) and the flip back (what blue runs, from the stack
    file); a colour running nothing pinned is not recorded, with a warning, and the job goes on."""
    bin_dir, _ = stand_in_pulumi(tmp_path)
    blue_web, green_web, run_url = secrets.token_hex(20), secrets.token_hex(20), f"https://example.invalid/{secrets.token_hex(4)}"
    stack_file = tmp_path / "Pulumi.production.yaml"
    stack_file.write_text(stack_text(blue_web, f"{IMAGE}:1.4.2", green_web, f"{IMAGE}:1.5.0"))
    env = {"OPS_RECORDER_DATABASE_URL": recorder_db.url(), "STACK": "production", "GITHUB_SHA": "d" * 40,
           "STACK_FILE": str(stack_file), "LIVE_BEFORE": "blue", "FLIP_COLOR": "green", "FLIPPED_BACK": "success",
           "VERSION": "rel-9", "WEB_SHA": green_web, "SMOKE": "passed", "E2E": "passed", "OUTCOME": "failure",
           "STARTED_AT": "2026-12-01T10:00:00Z", "RUN_URL": run_url, "PYTHON": PYTHON}
    done, _ = bash("bash tools/record_deployment.sh", tmp_path, env, bin_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = recorder_db.rows("SELECT release, color, status, web_sha FROM ops.deployments WHERE run_url = :u "
                            "ORDER BY id", u=run_url)
    assert rows == [["rel-9", "green", "rolled_back", green_web], ["rollback-to-blue", "blue", "succeeded", blue_web]]

    stack_file.write_text(stack_text("v1.4.2", f"{IMAGE}:1.4.2", "main", f"{IMAGE}:1.5.0"))
    done, written = bash("bash tools/record_deployment.sh", tmp_path, {
        **env, "FLIP_COLOR": "", "FLIPPED_BACK": "", "WEB_SHA": "", "OUTCOME": "success",
        "RUN_URL": run_url + "/2"}, bin_dir)
    assert done.returncode == 0 and written["recorded"] == "false", done.stdout + done.stderr
    assert "::warning::ops record: blue runs no pinned web SHA or image digest" in done.stdout
    assert recorder_db.rows("SELECT count(*) FROM ops.deployments WHERE run_url = :u", u=run_url + "/2") == [[0]]


@pytest.mark.parametrize(("backups", "code", "message"), [
    ({"pitr_enabled": False, "backups": [{"status": "COMPLETED", "inserted_at": "RECENT"}]}, 0,
     "latest completed backup"),
    ({"pitr_enabled": True, "backups": []}, 0, "PITR is on"),
    ({"pitr_enabled": False, "backups": [{"status": "COMPLETED", "inserted_at": "OLD"},
                                         {"status": "FAILED", "inserted_at": "RECENT"}]}, 1,
     "no completed backup in the last 26 hours"),
])
def test_no_migration_without_a_recent_backup(site, tmp_path, backups, code, message):
    stamps = {"RECENT": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
              "OLD": (datetime.now(UTC) - timedelta(hours=40)).isoformat()}
    Site.backups = json.loads(json.dumps(backups).replace('"RECENT"', f'"{stamps["RECENT"]}"')
                              .replace('"OLD"', f'"{stamps["OLD"]}"'))
    bin_dir, _ = stand_in_pulumi(tmp_path)
    done, _ = bash("bash tools/backup_before_migrations.sh", tmp_path, {
        "SUPABASE_API_URL": site, "SUPABASE_ACCESS_TOKEN": Site.secret, "SUPABASE_PROJECT_REF": "stagingref",
        "MAX_AGE_HOURS": "26"}, bin_dir)
    assert done.returncode == code, done.stdout + done.stderr
    assert message in done.stdout and Site.secret not in done.stdout + done.stderr


@pytest.mark.parametrize(("broken", "issues", "decision"), [
    (False, [], "hold"),
    (True, [], "flip-back"),
    (False, "THREE_NEW", "flip-back"),
])
def test_the_verification_holds_or_asks_for_the_flip_back(site, tmp_path, broken, issues, decision):
    Site.broken = broken
    since = datetime.now(UTC) - timedelta(seconds=5)
    if issues:
        Site.new_issues = [{"firstSeen": datetime.now(UTC).isoformat()} for _ in range(4)]
    bin_dir, _ = stand_in_pulumi(tmp_path, {"liveUrl": f"{site}/", "vercelProtectionBypassSecret": Site.secret})
    done, written = bash("bash tools/verify_after_flip.sh", tmp_path, {
        "PULUMI_STACK": "kingtavo/kingtavo/production", "STACK": "production", "LIVE_COLOR": "green",
        "WINDOW": "1.5", "INTERVAL": "0.5", "SINCE": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "SENTRY_URL": site,
        "SENTRY_AUTH_TOKEN": "fake-" + secrets.token_hex(6), "PYTHON": PYTHON}, bin_dir)
    assert written["decision"] == decision, done.stdout + done.stderr
    assert done.returncode == {"hold": 0, "flip-back": 1}[decision]
