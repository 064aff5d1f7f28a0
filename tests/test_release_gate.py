"""Production promotes only what staging proved: the gate reads staging's ops.deployments as the recorder login."""

from __future__ import annotations

import secrets

import pytest

from tests.support.recorder import recorder_db  # noqa: F401 - the fixture
from tools import ops_record, release_gate


def fresh_sha() -> str:
    return secrets.token_hex(20)


def fresh_digest() -> str:
    return "sha256:" + secrets.token_hex(32)


@pytest.fixture
def gate_env(recorder_db, monkeypatch):  # noqa: F811
    monkeypatch.setenv(release_gate.URL_ENV, recorder_db.url())
    monkeypatch.setenv(ops_record.URL_ENV, recorder_db.url())
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    return recorder_db


def record_staging(status="succeeded", smoke="passed", e2e=None, web_sha=None, etl_digest=None, environment="staging"):
    args = ["deployment", "--environment", environment, "--color", "green", "--release", "gate-test",
            "--git-sha", "f" * 40, "--actor", "deploy-staging", "--status", status,
            "--started-at", "2026-12-01T09:00:00Z", "--run-url", "https://example.invalid/runs/7"]
    for flag, value in (("--smoke", smoke), ("--e2e", e2e), ("--web-sha", web_sha), ("--etl-digest", etl_digest)):
        if value is not None:
            args += [flag, value]
    assert ops_record.main(["--strict", *args]) == 0


def stack_file(tmp_path, blue_ref, blue_image, green_ref, green_image):
    path = tmp_path / "Pulumi.production.yaml"
    path.write_text(f"""config:
  kingtavo:activeColor: blue
  kingtavo:etl:
    blue:
      image: {blue_image}
    green:
      image: {green_image}
  kingtavo:frontend:
    blue:
      ref: {blue_ref}
    green:
      ref: {green_ref}
""")
    return path


def test_a_release_staging_proved_is_promoted(gate_env, capsys):
    web, etl = fresh_sha(), fresh_digest()
    record_staging(web_sha=web, etl_digest=etl)
    assert release_gate.main(["--web-sha", web, "--etl-digest", etl]) == 0
    out = capsys.readouterr().out
    assert f"ok web {web}" in out and f"ok etl {etl}" in out and "proven by staging deployment #" in out


@pytest.mark.parametrize(("recorded", "reason"), [
    (None, "no staging deployment recorded"),
    ({"status": "failed"}, "latest is #{id} on green: failed, smoke passed"),
    ({"smoke": "failed"}, "succeeded, smoke failed"),
    ({"smoke": None}, "succeeded, smoke not run"),
    ({"environment": "production"}, "no staging deployment recorded"),
])
def test_an_unproven_web_commit_is_refused_and_named(gate_env, capsys, recorded, reason):
    web = fresh_sha()
    if recorded is not None:
        record_staging(web_sha=web, **recorded)
        reason = reason.replace("{id}", str(gate_env.rows(
            "SELECT max(id) FROM ops.deployments WHERE web_sha = :w", w=web)[0][0]))
    assert release_gate.main(["--web-sha", web]) == 1
    out = capsys.readouterr().out
    assert f"::error::release gate: REFUSED web commit {web} (--web-sha): " in out
    assert reason in out


def test_e2e_can_be_required(gate_env, capsys):
    web = fresh_sha()
    record_staging(web_sha=web, e2e="failed")
    assert release_gate.main(["--web-sha", web]) == 0
    assert release_gate.main(["--web-sha", web, "--require-e2e"]) == 1
    assert "smoke passed, e2e failed" in capsys.readouterr().out


def test_the_stack_file_is_checked_color_by_color(gate_env, tmp_path, capsys):
    proven_web, proven_etl, unproven_etl = fresh_sha(), fresh_digest(), fresh_digest()
    record_staging(web_sha=proven_web, etl_digest=proven_etl)
    repo = "111122223333.dkr.ecr.eu-central-1.amazonaws.com/kingtavo/etl"
    path = stack_file(tmp_path, "v1.4.2", f"{repo}:1.4.2", proven_web, f"{repo}@{unproven_etl}")
    assert release_gate.main(["--stack-file", str(path), "--color", "green"]) == 1
    out = capsys.readouterr().out
    assert f"ok web {proven_web} (kingtavo:frontend.green.ref)" in out
    assert f"REFUSED ETL digest {unproven_etl} (kingtavo:etl.green.image): no staging deployment recorded" in out
    assert "frontend.blue" not in out
    assert release_gate.main(["--stack-file", str(path)]) == 1
    out = capsys.readouterr().out
    assert "REFUSED kingtavo:frontend.blue.ref is 'v1.4.2', not a 40-character commit SHA" in out
    assert f"REFUSED kingtavo:etl.blue.image is '{repo}:1.4.2', not pinned by digest" in out
    path = stack_file(tmp_path, proven_web, f"{repo}@{proven_etl}", proven_web, f"{repo}@{proven_etl}")
    assert release_gate.main(["--stack-file", str(path)]) == 0


def test_the_gate_fails_closed_when_it_cannot_read_staging(recorder_db, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv(release_gate.URL_ENV, recorder_db.url(password="fake-not-the-password"))
    assert release_gate.main(["--web-sha", fresh_sha()]) == 2
    err = capsys.readouterr().err
    assert "cannot decide: cannot read staging's ops.deployments: 28P01" in err
    monkeypatch.delenv(release_gate.URL_ENV)
    assert release_gate.main(["--web-sha", fresh_sha()]) == 2
    assert "set OPS_RECORDER_DATABASE_URL" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    ([], "nothing to check"),
    (["--web-sha", "main"], "--web-sha: expected a 40-character lowercase commit SHA"),
    (["--etl-digest", "1.4.2"], "--etl-digest: expected sha256:<64 hex>"),
    (["--color", "green", "--web-sha", "a" * 40], "--color needs --stack-file"),
])
def test_bad_input_exits_two_naming_the_option(args, message, capsys):
    with pytest.raises(SystemExit) as exited:
        release_gate.main(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_the_release_train_smoke_then_record_then_promote(gate_env, tmp_path, capsys):
    """Staging's steps in order: smoke the idle side (a local server standing in for the deployment), record
    the deployment with the smoke verdict, then production's gate asks for the same commit and digest."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tools import smoke

    class Idle(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            body = b'<div id="__next">Kingtavo</div>' if self.path == "/" else b"DEPLOYMENT_NOT_FOUND"
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Idle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        verdicts = {}
        for web in (fresh_sha(), fresh_sha()):
            path = "/" if not verdicts else "/missing"  # the second release's idle side serves the wrong page
            passed = smoke.main(["--deadline", "0.5", "--endpoint", "idle", f"{base}{path}",
                                 "--contains", 'id="__next"']) == 0
            record_staging(web_sha=web, smoke="passed" if passed else "failed",
                           status="succeeded" if passed else "failed")
            verdicts[web] = passed
    finally:
        server.shutdown()
        server.server_close()
    (good, bad) = verdicts
    assert verdicts == {good: True, bad: False}
    assert release_gate.main(["--web-sha", good]) == 0
    assert release_gate.main(["--web-sha", bad]) == 1
    assert f"REFUSED web commit {bad}" in capsys.readouterr().out
