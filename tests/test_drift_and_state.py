"""Drift and stack health, on crafted state files and preview digests.

- `tools.against.compare_with_state`: a state built from the real staging plan, then edited the way drift
  happens (a Service selector changed by hand, an alias deleted, a tag added in a console), plus an empty
  stack and a clean one; the CLI on a file.
- `tools.drift`: reports from refreshed-preview digests (routing drift is critical, values never appear),
  the Slack payload, and posting it to a local HTTP server standing in for Slack's webhook.
- `tools.state_check`: pending creates, updates and deletes, half-replaced resources, init errors, an empty
  and a clean stack, and input that is not an export.
"""

from __future__ import annotations

import copy
import json
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.plans import plan
from tools import drift, state_check
from tools.against import compare_with_state, state_from_plan

ROOT = Path(__file__).resolve().parent.parent
LIVE_SERVICE = "etl-live-service"
LIVE_ALIAS = "frontend-live-alias"


def run_tool(module: str, *args: str, stdin: str | None = None, env: dict | None = None):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, input=stdin, env=env)


@pytest.fixture(scope="module")
def staging():
    return plan("staging")


@pytest.fixture
def clean_state(staging) -> dict:
    return state_from_plan(staging)


def resource(state: dict, name: str) -> dict:
    (found,) = [r for r in state["deployment"]["resources"] if r["urn"].endswith(f"::{name}")]
    return found


# --- the offline comparison -------------------------------------------------------------------------------

def test_a_state_recording_the_plan_shows_no_drift(staging, clean_state):
    assert len(clean_state["deployment"]["resources"]) > 100
    assert compare_with_state(staging, clean_state) == []
    # the same with secrets exported in the clear (`--show-secrets`): compared by value, still equal
    assert compare_with_state(staging, state_from_plan(staging, secrets_as="plaintext")) == []


def test_the_crafted_state_holds_no_secret_value(staging, clean_state):
    text = json.dumps(clean_state)
    fakes = [v for v in staging.secrets.values() if isinstance(v, str)]
    assert fakes and not [v for v in fakes if v in text]
    assert "v1:offline-plan-placeholder" in text


def flip_selector(state: dict, to: str | None = None) -> str:
    """Point the live Service's selector at the other colour, as a `kubectl edit` would; returns the path."""
    selector = resource(state, LIVE_SERVICE)["inputs"]["spec"]["selector"]
    (key,) = [k for k, v in selector.items() if v in ("blue", "green")]
    selector[key] = to or ("green" if selector[key] == "blue" else "blue")
    return drift.property_path(["spec", "selector", key])


def test_a_selector_changed_by_hand_is_critical_routing_drift(staging, clean_state):
    path = flip_selector(clean_state)
    (found,) = compare_with_state(staging, clean_state)
    assert (found.change, found.type, found.name, found.paths, found.routing) == (
        "update", "kubernetes:core/v1:Service", LIVE_SERVICE, (path,), True)
    report = drift.DriftReport("staging", [found], source="state")
    assert report.status == "critical"


def test_a_deleted_alias_is_missing_from_the_stack_and_critical(staging, clean_state):
    clean_state["deployment"]["resources"].remove(resource(clean_state, LIVE_ALIAS))
    (found,) = compare_with_state(staging, clean_state)
    assert (found.change, found.type, found.name, found.routing) == ("create", "vercel:index/alias:Alias",
                                                                     LIVE_ALIAS, True)


def test_an_extra_tag_is_drift_by_path_without_the_value(staging, clean_state):
    tagged = next(r for r in clean_state["deployment"]["resources"] if "tags" in (r.get("inputs") or {}))
    marker = "console-" + secrets.token_hex(6)
    tagged["inputs"]["tags"]["added-in-console"] = marker
    drifts = compare_with_state(staging, clean_state)
    assert [(d.change, d.urn, d.paths, d.routing) for d in drifts] == [
        ("update", tagged["urn"], ('tags["added-in-console"]',), False)]
    report = drift.DriftReport("staging", drifts, source="state")
    assert report.status == "drift"
    assert marker not in json.dumps(report.as_dict()) + drift.render_text(report)
    assert marker not in json.dumps(drift.slack_message(report))


def test_defaults_the_provider_filled_in_are_not_drift(staging, clean_state):
    tagged = next(r for r in clean_state["deployment"]["resources"] if "tags" in (r.get("inputs") or {}))
    tagged["inputs"]["forceDestroy"] = False
    tagged["inputs"]["__defaults"] = ["forceDestroy"]
    assert compare_with_state(staging, clean_state) == []
    tagged["inputs"]["__defaults"] = []
    assert [d.paths for d in compare_with_state(staging, clean_state)] == [("forceDestroy",)]


def test_an_empty_stack_misses_every_declared_resource(staging):
    empty = {"version": 3, "deployment": {"manifest": {}, "resources": []}}
    drifts = compare_with_state(staging, empty)
    declared = [r for r in staging.resources if r.custom and not r.read and not r.type.startswith("pulumi:providers:")]
    assert len(drifts) == len(declared) and {d.change for d in drifts} == {"create"}
    assert sorted(d.name for d in drifts if d.routing) == sorted(
        ["etl-live-service", "etl-preview-service", "frontend-live-alias", "frontend-idle-alias"])


def test_a_resource_no_longer_declared_is_a_delete(staging, clean_state):
    extra = copy.deepcopy(resource(clean_state, LIVE_ALIAS))
    extra["urn"] = extra["urn"].replace(LIVE_ALIAS, "frontend-old-alias")
    clean_state["deployment"]["resources"].append(extra)
    (found,) = compare_with_state(staging, clean_state)
    assert (found.change, found.name, found.routing) == ("delete", "frontend-old-alias", False)


def test_the_against_cli_reproduces_the_report_offline(staging, clean_state, tmp_path):
    path_changed = flip_selector(clean_state, to="nobody")
    path = tmp_path / "state.json"
    path.write_text(json.dumps(clean_state))
    done = run_tool("tools.against", "--stack", "staging", "--state", str(path), "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "critical" and report["source"] == "state"
    assert [(r["name"], r["paths"]) for r in report["resources"]] == [(LIVE_SERVICE, [path_changed])]
    assert "nobody" not in done.stdout
    path.write_text(json.dumps(state_from_plan(staging)))
    clean = run_tool("tools.against", "--stack", "staging", "--state", str(path))
    assert clean.returncode == 0 and "clean" in clean.stdout, clean.stdout + clean.stderr


def test_the_against_cli_names_a_bad_state_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"resources": []}))
    done = run_tool("tools.against", "--stack", "staging", "--state", str(path))
    assert done.returncode == 2
    assert "key 'deployment': expected an object" in done.stderr


# --- reports from a refreshed preview --------------------------------------------------------------------

def urn(type_token: str, name: str, parent: str = "kingtavo:frontend:VercelFrontend") -> str:
    return f"urn:pulumi:production::kingtavo::{parent}${type_token}::{name}"


SECRET_LOOKING = "fake-" + secrets.token_hex(8)
ALIAS_URN = urn("vercel:index/alias:Alias", LIVE_ALIAS)
SG_URN = urn("aws:ec2/securityGroup:SecurityGroup", "cluster-nodes", "kingtavo:compute:Cluster")
BUCKET_URN = urn("aws:s3/bucketV2:BucketV2", "backups-archive", "kingtavo:backups:BackupArchive")


def digest(*steps: dict) -> dict:
    stack_step = {"op": "same", "urn": "urn:pulumi:production::kingtavo::pulumi:pulumi:Stack::kingtavo-production"}
    return {"config": {}, "steps": [stack_step, *steps], "changeSummary": {}, "duration": 1}


def test_a_clean_preview_is_clean():
    report = drift.from_preview(digest({"op": "same", "urn": ALIAS_URN}, {"op": "read", "urn": SG_URN}), "production")
    assert report.status == "clean" and report.drifts == []


def test_a_rolled_back_alias_is_critical_and_listed_first():
    report = drift.from_preview(digest(
        {"op": "update", "urn": SG_URN, "diffReasons": ["ingress"],
         "detailedDiff": {"ingress[0].cidrBlocks[0]": {"kind": "update", "inputDiff": True}},
         "oldState": {"inputs": {"ingress": [{"cidrBlocks": [SECRET_LOOKING]}]}}},
        {"op": "update", "urn": ALIAS_URN, "diffReasons": ["deploymentId"],
         "detailedDiff": {"deploymentId": {"kind": "update", "inputDiff": True}},
         "newState": {"inputs": {"deploymentId": SECRET_LOOKING}}},
    ), "production")
    assert report.status == "critical"
    assert [(d.name, d.paths, d.routing) for d in report.drifts] == [
        (LIVE_ALIAS, ("deploymentId",), True), ("cluster-nodes", ("ingress[0].cidrBlocks[0]",), False)]
    everything = json.dumps(report.as_dict()) + drift.render_text(report) + json.dumps(drift.slack_message(report))
    assert SECRET_LOOKING not in everything


def test_a_replacement_is_one_entry_with_its_reasons():
    report = drift.from_preview(digest(
        {"op": "create-replacement", "urn": BUCKET_URN, "replaceReasons": ["bucket"]},
        {"op": "replace", "urn": BUCKET_URN, "replaceReasons": ["bucket"], "diffReasons": ["bucket", "tags"]},
        {"op": "delete-replaced", "urn": BUCKET_URN},
    ), "production")
    assert [(d.change, d.paths) for d in report.drifts] == [("replace", ("bucket", "tags"))]
    assert report.status == "drift"


def test_a_failed_preview_without_changes_is_an_error_not_clean():
    report = drift.from_preview(digest(), "production", exit_code=255)
    assert report.status == "error" and "exited 255" in report.error
    assert drift.from_preview(digest({"op": "delete", "urn": SG_URN}), "production", 255).status == "drift"


def test_bad_preview_input_is_named():
    with pytest.raises(drift.DriftInputError, match=r"steps\[0\]"):
        drift.from_preview({"steps": [{"op": "update"}]}, "production")
    with pytest.raises(drift.DriftInputError, match="key 'steps'"):
        drift.from_preview({"steps": "nope"}, "production")


def test_the_slack_message_escapes_and_links():
    tag_urn = urn("aws:s3/bucketV2:BucketV2", "backups-archive", "kingtavo:backups:BackupArchive")
    report = drift.from_preview(digest(
        {"op": "update", "urn": tag_urn, "detailedDiff": {'tags["<!channel>"]': {"kind": "add"}}},
        {"op": "update", "urn": ALIAS_URN, "detailedDiff": {"deploymentId": {"kind": "update"}}}), "production")
    message = drift.slack_message(report, run_url="https://github.example/run/1",
                                  runbook_url="https://github.example/blob/main/docs/runbooks/failed-update.md")
    text = json.dumps(message)
    assert message["text"].startswith(":rotating_light: CRITICAL drift in production")
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<https://github.example/run/1|the run>" in text and "failed-update.md|" in text
    assert all(len(block["text"]["text"]) <= 3000 for block in message["blocks"] if "text" in block)


def test_a_long_report_is_cut_into_sections_slack_accepts():
    steps = [{"op": "update", "urn": urn("aws:s3/bucketV2:BucketV2", f"bucket-{i}", "kingtavo:backups:Backups"),
              "detailedDiff": {f"tags.key{j}": {"kind": "add"} for j in range(20)}} for i in range(40)]
    message = drift.slack_message(drift.from_preview(digest(*steps), "production"))
    sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert len(sections) > 2 and all(len(s) <= 3000 for s in sections)
    assert "and 15 more" in sections[-1]


class _Slack(BaseHTTPRequestHandler):
    received: list[dict] = []
    statuses: list[int] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        status = type(self).statuses.pop(0) if type(self).statuses else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"error")

    def log_message(self, *args):
        pass


@pytest.fixture
def slack() -> Iterator[str]:
    _Slack.received, _Slack.statuses = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/{secrets.token_hex(8)}"
    server.shutdown()
    server.server_close()


def test_report_and_post_through_the_cli(slack, tmp_path):
    preview = tmp_path / "preview.json"
    preview.write_text(json.dumps(digest({"op": "update", "urn": ALIAS_URN,
                                          "detailedDiff": {"deploymentId": {"kind": "update"}}})))
    out, slack_out = tmp_path / "drift.json", tmp_path / "slack.json"
    done = run_tool("tools.drift", "report", "--stack", "production", "--preview", str(preview),
                    "--preview-exit-code", "255", "--out", str(out), "--slack-out", str(slack_out))
    assert done.returncode == 1, done.stderr
    assert "CRITICAL" in done.stdout and json.loads(out.read_text())["status"] == "critical"
    env = {"PATH": "/usr/bin:/bin", "SLACK_WEBHOOK_URL": slack}
    _Slack.statuses = [503]  # one retry on a server error
    posted = run_tool("tools.drift", "post", "--message", str(slack_out), env=env)
    assert posted.returncode == 0, posted.stderr
    assert len(_Slack.received) == 2 and _Slack.received[-1] == json.loads(slack_out.read_text())
    assert slack not in posted.stdout + posted.stderr


def test_a_refused_post_fails_without_printing_the_webhook(slack, tmp_path):
    message = tmp_path / "slack.json"
    message.write_text(json.dumps({"text": "x"}))
    _Slack.statuses = [404]
    done = run_tool("tools.drift", "post", "--message", str(message), env={"PATH": "/usr/bin:/bin",
                                                                           "SLACK_WEBHOOK_URL": slack})
    assert done.returncode == 2 and "HTTP 404" in done.stderr
    assert slack.rsplit("/", 1)[-1] not in done.stdout + done.stderr
    assert len(_Slack.received) == 1  # a 4xx is not retried


def test_an_empty_preview_output_is_an_error(tmp_path):
    preview = tmp_path / "preview.json"
    preview.write_text("")
    done = run_tool("tools.drift", "report", "--stack", "staging", "--preview", str(preview), "--preview-exit-code",
                    "0")
    assert done.returncode == 2 and "printed nothing" in done.stdout


# --- state_check ---------------------------------------------------------------------------------------

def export(resources: list[dict], pending: list[dict] | None = None) -> dict:
    return {"version": 3, "deployment": {"manifest": {}, "resources": resources,
                                         **({"pending_operations": pending} if pending is not None else {})}}


def test_an_empty_stack_is_healthy():
    assert state_check.check(export([])["deployment"]) == []
    assert state_check.check({"manifest": {}}) == []  # a brand-new stack exports no resources key at all


def test_a_clean_stack_is_healthy(clean_state, tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps(clean_state))
    done = run_tool("tools.state_check", str(path), "--stack", "staging")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "healthy" in done.stdout and "no pending operations" in done.stdout


def test_pending_creates_and_half_replaced_resources_are_listed_with_what_to_do(clean_state, tmp_path):
    resources = clean_state["deployment"]["resources"]
    alias = resource(clean_state, LIVE_ALIAS)
    bucket = next(r for r in resources if r["type"].startswith("aws:s3/bucket"))
    deployment = next(r for r in resources if r["type"] == "kubernetes:apps/v1:Deployment")
    leftover = dict(copy.deepcopy(bucket), delete=True)
    resources.append(leftover)
    resource(clean_state, LIVE_SERVICE)["pendingReplacement"] = True
    deployment["initErrors"] = ["timed out waiting for the rollout"]
    pending = [{"type": "creating", "resource": {"urn": alias["urn"], "type": alias["type"], "custom": True}},
               {"type": "updating", "resource": {"urn": bucket["urn"], "type": bucket["type"], "custom": True}}]
    clean_state["deployment"]["pending_operations"] = pending
    findings = state_check.check(clean_state["deployment"])
    listed = [(f.kind, f.name, f.routing) for f in findings]
    assert listed[:2] == [("pending-create", LIVE_ALIAS, True),  # pending operations first
                          ("pending-update", bucket["urn"].rsplit("::", 1)[1], False)]
    assert sorted(listed[2:]) == sorted([
        ("pending-replacement", LIVE_SERVICE, True), ("init-errors", deployment["urn"].rsplit("::", 1)[1], False),
        ("pending-delete-after-replace", bucket["urn"].rsplit("::", 1)[1], False)])
    findings = {f.kind: f for f in findings}
    create = findings["pending-create"].action
    assert "--import-pending-creates" in create and "--clear-pending-creates" in create and alias["urn"] in create
    assert f"--target '{resource(clean_state, LIVE_SERVICE)['urn']}'" in findings["pending-replacement"].action

    path = tmp_path / "state.json"
    path.write_text(json.dumps(clean_state))
    done = run_tool("tools.state_check", str(path), "--stack", "production", "--runbook-url",
                    "https://github.example/kingtavo/blob/main/docs/runbooks/failed-update.md",
                    env={"PATH": "/usr/bin:/bin", "GITHUB_ACTIONS": "true"})
    assert done.returncode == 1
    assert "NOT healthy: 5 trace(s)" in done.stdout and "A routing resource is affected" in done.stdout
    assert "::error title=Stack production is not healthy::" in done.stdout
    assert "github.example/kingtavo/blob/main/docs/runbooks/failed-update.md" in done.stdout
    assert "timed out waiting" not in done.stdout  # the provider's message stays in the state
    as_json = run_tool("tools.state_check", str(path), "--json")
    assert as_json.returncode == 1 and len(json.loads(as_json.stdout)["findings"]) == 5


def test_every_pending_kind_has_its_advice():
    kinds = {}
    for op in state_check.PENDING_KINDS:
        found = state_check.check(export([], [{"type": op, "resource": {"urn": SG_URN}}])["deployment"])
        kinds[op] = found[0]
    assert {op: f.kind for op, f in kinds.items()} == {
        "creating": "pending-create", "updating": "pending-update", "deleting": "pending-delete",
        "reading": "pending-read", "importing": "pending-import"}
    assert all("pulumi refresh" in f.action for f in kinds.values())


@pytest.mark.parametrize(("document", "message"), [
    ("not json", "not JSON"),
    (json.dumps({"resources": []}), "key 'deployment': expected an object"),
    (json.dumps(export([], [{"type": "exploding", "resource": {"urn": SG_URN}}])), "pending_operations[0].type"),
    (json.dumps(export([{"urn": "not-a-urn", "delete": True}])), "is not a Pulumi URN"),
    (json.dumps({"deployment": {"resources": {}}}), "deployment.resources': expected a list"),
])
def test_input_that_is_not_an_export_is_named(document, message):
    done = run_tool("tools.state_check", "-", stdin=document)
    assert done.returncode == 2
    assert message in done.stderr


# --- the recovery runbook, tested where it can be --------------------------------------------------------------

RUNBOOK = ROOT / "docs" / "runbooks" / "failed-update.md"


def test_the_runbook_covers_every_finding_and_the_commands_the_tool_recommends():
    text = RUNBOOK.read_text()
    kinds = ["pending-create", "pending-update", "pending-delete", "pending-read", "pending-import",
             "pending-delete-after-replace", "pending-replacement", "init-errors"]
    assert [kind for kind in kinds if f"`{kind}`" not in text] == []
    for command in ("pulumi refresh --stack \"$STACK\" --clear-pending-creates", "--import-pending-creates",
                    "pulumi stack export", "pulumi stack import", "pulumi cancel", "--target",
                    "python -m tools.state_check", "python -m tools.against", "## A locked stack",
                    "## A resource stuck in replacement", "## A failed flip", "## Drift"):
        assert command in text, command
    assert state_check.RUNBOOK == "docs/runbooks/failed-update.md"


def test_the_runbooks_state_edit_clears_pending_operations(tmp_path, clean_state):
    """The runbook's Python snippet, run on a crafted export with pending creates, leaves a healthy state."""
    text = RUNBOOK.read_text()
    snippet = text.split("python - <<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0]
    alias = resource(clean_state, LIVE_ALIAS)
    clean_state["deployment"]["pending_operations"] = [
        {"type": "creating", "resource": {"urn": alias["urn"], "type": alias["type"], "custom": True}},
        {"type": "deleting", "resource": {"urn": SG_URN, "custom": True}}]
    (tmp_path / "state.json").write_text(json.dumps(clean_state))
    assert run_tool("tools.state_check", str(tmp_path / "state.json")).returncode == 1
    done = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"dropping creating {alias['urn']}", f"dropping deleting {SG_URN}"]
    fixed = json.loads((tmp_path / "state.fixed.json").read_text())
    assert fixed["deployment"]["resources"] == clean_state["deployment"]["resources"]
    assert run_tool("tools.state_check", str(tmp_path / "state.fixed.json")).returncode == 0
