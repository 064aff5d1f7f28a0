"""The ops record writers, connected as the recorder login over verified TLS to the migrated database."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pg8000.native
import pytest

from tests.support.recorder import LOGIN, recorder_db  # noqa: F401 - the fixture
from tools import ops_record, ops_record_core

ROOT = Path(__file__).resolve().parent.parent
SHA_A, SHA_B = "a" * 40, "b" * 40
DIGEST = "sha256:" + "c" * 64

# user:password, assembled at run time so no committed line is a URL with a password in it.
FAKE_USERINFO = ":".join(("u", "fake-p"))
REMOTE = f"postgresql://{FAKE_USERINFO}@db.example.invalid/postgres"


@pytest.fixture
def recorder_env(recorder_db, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setenv(ops_record.URL_ENV, recorder_db.url())
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    return output


def test_the_recorder_connects_as_its_login_over_verified_tls(recorder_db):  # noqa: F811
    connection = ops_record_core.connect(recorder_db.url())
    try:
        user, ssl_on, bypass = connection.run(
            "SELECT current_user, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), "
            "(SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user)")[0]
    finally:
        connection.close()
    assert (user, ssl_on, bypass) == (LOGIN, True, False)


def test_a_deployment_is_recorded_with_what_the_color_runs(recorder_db, recorder_env, capsys):  # noqa: F811
    code = ops_record.main(["deployment", "--environment", "staging", "--color", "green", "--release", "rel-ops-1",
                            "--git-sha", SHA_A, "--actor", "deploy-staging", "--status", "succeeded",
                            "--started-at", "2026-12-01T10:00:00Z", "--web-sha", SHA_B, "--etl-digest", DIGEST,
                            "--smoke", "passed", "--e2e", "failed", "--run-url", "https://example.invalid/runs/1"])
    assert code == 0
    assert "wrote one row to ops.deployments" in capsys.readouterr().out
    assert recorder_env.read_text() == "recorded=true\n"
    rows = recorder_db.rows("SELECT color, web_sha, etl_digest, smoke_passed, e2e_passed, recorded_by, "
                            "finished_at > started_at FROM ops.deployments WHERE release = 'rel-ops-1'")
    assert rows == [["green", SHA_B, DIGEST, True, False, LOGIN, True]]


@pytest.mark.parametrize(("args", "changes", "routing"), [
    (["--result", "clean"], [], False),
    (["--result", "drifted", "--change", "etl-live: spec.selector.color", "--routing-drifted"],
     ["etl-live: spec.selector.color"], True),
])
def test_drift_checks_record_clean_and_drifted(recorder_db, recorder_env, args, changes, routing):  # noqa: F811
    run_url = f"https://example.invalid/drift/{len(changes)}"
    assert ops_record.main(["drift", "--environment", "production", "--run-url", run_url, *args]) == 0
    rows = recorder_db.rows("SELECT result, changes, routing_drifted FROM ops.drift_checks WHERE run_url = :u",
                            u=run_url)
    assert rows == [[args[1], changes, routing]]


def test_an_alert_fires_once_and_resolves(recorder_db, recorder_env):  # noqa: F811
    args = ["alert", "--environment", "production", "--source", "prometheus", "--name", "EtlHttp5xxRateHigh",
            "--severity", "critical", "--summary", "5xx above 5%", "--fingerprint", "fp-cli-1"]
    assert ops_record.main(args) == 0
    assert ops_record.main(args) == 0  # Alertmanager repeats a firing alert: still one row
    assert ops_record_core.resolve_alert(recorder_db.url(), "production", "prometheus", "fp-cli-1",
                                         "2099-01-01T00:00:00Z")
    rows = recorder_db.rows("SELECT name, resolved_at IS NOT NULL FROM ops.alerts WHERE fingerprint = 'fp-cli-1'")
    assert rows == [["EtlHttp5xxRateHigh", True]]


def test_backup_checks_and_key_rotations_through_the_vendorable_function(recorder_db):  # noqa: F811
    stream = io.StringIO()
    assert ops_record_core.record(recorder_db.url(), "key_rotations", {
        "environment": "staging", "store": "aws_secrets_manager", "secret_name": "kingtavo/staging/ops-test",
        "rotated_by": "secret-rotation", "next_due_at": "2099-01-01T00:00:00Z"}, stream=stream)
    assert ops_record_core.record(recorder_db.url(), "backup_checks", {
        "environment": "staging", "result": "failed", "findings": ["ops-test: no backup newer than 26 hours"]},
        stream=stream)
    assert stream.getvalue() == ""
    assert recorder_db.rows("SELECT recorded_by FROM ops.key_rotations WHERE secret_name = "
                            "'kingtavo/staging/ops-test'") == [[LOGIN]]
    assert recorder_db.rows("SELECT findings->>0 FROM ops.backup_checks WHERE recorded_by = :r", r=LOGIN) == [
        ["ops-test: no backup newer than 26 hours"]]


@pytest.mark.parametrize("how", ["wrong password", "other CA", "no URL", "constraint"])
def test_a_failed_write_is_logged_and_counted_and_never_fails_the_job(recorder_db, recorder_env, monkeypatch,  # noqa: F811
                                                                      capsys, caplog, how):
    if how == "wrong password":
        monkeypatch.setenv(ops_record.URL_ENV, recorder_db.url(password="fake-wrong-password"))
    elif how == "other CA":
        monkeypatch.setenv(ops_record.URL_ENV, recorder_db.url(cafile=recorder_db.ca.other_ca_cert))
    elif how == "no URL":
        monkeypatch.delenv(ops_record.URL_ENV)
    args = ["alert", "--environment", "staging", "--source", "vercel", "--name", "FailedWrite",
            "--severity", "info", "--summary", "x", "--fired-at", "2026-12-01T00:00:00Z"]
    if how == "constraint":  # a row the database refuses: resolved before it fired cannot go in
        assert not ops_record_core.record(recorder_db.url(), "alerts", {
            "environment": "staging", "source": "vercel", "name": "FailedWrite", "severity": "info",
            "summary": "x", "fired_at": "2026-12-02T00:00:00Z", "resolved_at": "2026-12-01T00:00:00Z"})
    else:
        assert ops_record.main(args) == 0
        assert recorder_env.read_text() == "recorded=false\n"
        assert ops_record.main(["--strict", *args]) == 3
    captured = capsys.readouterr()
    metric = json.loads([line for line in (captured.err + captured.out).splitlines() if '"_aws"' in line][0])
    assert metric["OpsRecordWriteFailures"] == 1 and metric["Table"] == "alerts"
    assert "could not write ops.alerts" in caplog.text
    assert recorder_db.password not in caplog.text + captured.out + captured.err
    assert recorder_db.rows("SELECT count(*) FROM ops.alerts WHERE name = 'FailedWrite'") == [[0]]


@pytest.mark.parametrize(("url", "message"), [
    (f"{REMOTE}?sslmode=require", "'require' does not verify the server"),
    (f"{REMOTE}?sslmode=disable", "only allowed for a loopback host"),
    (f"{REMOTE}?sslmode=verify-full&sslrootcert=/no/such/ca.crt",
     "sslrootcert: /no/such/ca.crt is not a file"),
    (f"{REMOTE}?ssl=true", "unknown parameter(s) ssl"),
    (f"mysql://{FAKE_USERINFO}@db.example.invalid/x", "expected postgresql://"),
    ("postgresql://db.example.invalid/x", "no user"),
])
def test_recorder_urls_that_would_not_verify_the_server_are_refused(url, message):
    with pytest.raises(ops_record_core.RecorderConfigError) as error:
        ops_record_core.connect_kwargs(url)
    assert message in str(error.value)
    assert FAKE_USERINFO not in str(error.value)


def test_a_percent_encoded_password_is_decoded_and_loopback_may_skip_tls(recorder_db):  # noqa: F811
    kwargs = ops_record_core.connect_kwargs(recorder_db.url(sslmode="disable"))
    assert kwargs["password"] == recorder_db.password and kwargs["ssl_context"] is None
    connection = pg8000.native.Connection(**kwargs)
    try:
        assert connection.run("SELECT current_user") == [[LOGIN]]
    finally:
        connection.close()


@pytest.mark.parametrize(("args", "message"), [
    (["deployment", "--environment", "staging", "--color", "green", "--release", "v1", "--git-sha", "abc",
      "--actor", "a", "--status", "succeeded", "--started-at", "2026-12-01T00:00:00Z", "--web-sha", SHA_A],
     "--git-sha: expected a 40-character lowercase commit SHA"),
    (["deployment", "--environment", "staging", "--color", "green", "--release", "v1", "--git-sha", SHA_A,
      "--actor", "a", "--status", "succeeded", "--started-at", "2026-12-01T00:00:00Z"],
     "give --web-sha or --etl-digest"),
    (["deployment", "--environment", "qa", "--color", "green"], "--environment: invalid choice: 'qa'"),
    (["drift", "--environment", "staging", "--result", "drifted"], "--result drifted needs at least one --change"),
    (["alert", "--environment", "staging", "--source", "vercel", "--name", "x y", "--severity", "info",
      "--summary", "s"], "--name: expected a rule name"),
    (["key-rotation", "--environment", "staging", "--store", "vercel", "--secret-name", "X", "--rotated-by", "a",
      "--next-due-at", "2026-12-01T00:00:00"], "--next-due-at: expected a time with its UTC offset"),
])
def test_malformed_arguments_exit_two_naming_the_option(args, message, capsys, monkeypatch):
    monkeypatch.delenv(ops_record.URL_ENV, raising=False)
    with pytest.raises(SystemExit) as exited:
        ops_record.main(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_the_core_has_one_copy_which_the_build_packages_for_every_writer():
    """tools/ops_record_core.py is the only copy in git; tools/build_lambdas.py puts it next to each writer's
    handler (tests/test_build_lambdas.py reads the archives), so no copy can drift."""
    from tools import build_lambdas

    assert sorted((ROOT / "lambdas").glob("*/ops_record_core.py")) == []
    writers = [d.name for d in build_lambdas.function_dirs() if build_lambdas.writes_ops_record(d)]
    assert writers == ["alert_recorder", "backup_monitor", "secret_rotation"]


def test_a_rotation_shaped_secret_becomes_a_url_that_round_trips_the_password():
    password = "fake-p@ss/w:rd%20+ " + "x"
    url = ops_record_core.url_from_secret({"host": "db.example.invalid", "port": 6543, "username": LOGIN,
                                           "password": password, "dbname": "postgres"})
    assert password not in url
    kwargs = ops_record_core.connect_kwargs(url)
    assert (kwargs["user"], kwargs["password"], kwargs["port"], kwargs["database"]) == (
        LOGIN, password, 6543, "postgres")
    assert kwargs["ssl_context"].check_hostname is True  # verify-full unless the secret says otherwise
    with pytest.raises(ops_record_core.RecorderConfigError, match="recorder secret: missing password"):
        ops_record_core.url_from_secret({"host": "h", "username": "u"})
