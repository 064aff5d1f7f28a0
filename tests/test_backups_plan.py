"""The backup archive, the dump job and the backup monitor, from the offline plan."""

from __future__ import annotations

import json

import pytest

from components.backups.archive import retention_days
from components.core.settings import BackupsSettings
from tests.support.plans import STACKS, plan


def _archive(stack: str, kind: str):
    return plan(stack).one(f"aws:s3/{kind}")


@pytest.mark.parametrize("stack", STACKS)
def test_archive_is_encrypted_with_our_key_versioned_and_private(stack):
    result = plan(stack)
    key_arn = result.one("aws:kms/key:Key", "platform-key").outputs["arn"]
    (rule,) = _archive(stack, "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
                       ).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
    assert _archive(stack, "bucketVersioning:BucketVersioning").inputs["versioningConfiguration"] == {
        "status": "Enabled"}
    block = _archive(stack, "bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))


@pytest.mark.parametrize("stack", STACKS)
def test_archive_refuses_plain_http(stack):
    result = plan(stack)
    bucket_arn = result.one("aws:s3/bucket:Bucket").outputs["arn"]
    (statement,) = json.loads(_archive(stack, "bucketPolicy:BucketPolicy").inputs["policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*"
    assert statement["Resource"] == [bucket_arn, f"{bucket_arn}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("stack", STACKS)
def test_lifecycle_keeps_daily_weekly_monthly_for_7_28_180_days(stack):
    rules = {r["id"]: r for r in _archive(stack, "bucketLifecycleConfiguration:BucketLifecycleConfiguration"
                                          ).inputs["rules"]}
    assert {tier: (rules[f"expire-{tier}"]["filter"]["prefix"], rules[f"expire-{tier}"]["expiration"]["days"])
            for tier in ("daily", "weekly", "monthly")} == {
        "daily": ("daily/", 7), "weekly": ("weekly/", 28), "monthly": ("monthly/", 180)}
    assert all(r["status"] == "Enabled" for r in rules.values())


def test_retention_follows_the_setting():
    rules = {r["id"]: r for r in plan("staging", "backups.weeklyRetention=8").one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]}
    assert rules["expire-weekly"]["expiration"]["days"] == 56
    assert retention_days(BackupsSettings(point_in_time_recovery=True)) == {"daily": 7, "weekly": 28,
                                                                             "monthly": 180}


def test_production_archive_is_protected():
    assert plan("production").one("aws:s3/bucket:Bucket").protect
    assert not plan("staging").one("aws:s3/bucket:Bucket").protect


# --- the nightly dump job ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_dump_job_runs_nightly_once_at_a_time_with_the_synced_credential(stack):
    result = plan(stack)
    cron = result.one("kubernetes:batch/v1:CronJob").inputs["spec"]
    assert cron["schedule"] == "17 3 * * *" and cron["concurrencyPolicy"] == "Forbid"
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    (dump,) = pod["initContainers"]
    assert dump["command"] == ["sh", "/scripts/dump.sh"]
    secret_env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in dump["env"] if "valueFrom" in e}
    assert set(secret_env) == {"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD"}
    assert {ref["name"] for ref in secret_env.values()} == {"db-backup-credential"}
    assert not any("value" in e and e["name"] == "PGPASSWORD" for e in dump["env"])
    (upload,) = pod["containers"]
    bucket = result.one("aws:s3/bucket:Bucket").inputs["bucket"]
    assert {"name": "BACKUP_BUCKET", "value": bucket} in upload["env"]
    for container in (dump, upload):
        ctx = container["securityContext"]
        assert ctx["runAsNonRoot"] and ctx["readOnlyRootFilesystem"] and not ctx["allowPrivilegeEscalation"]
        assert ctx["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize("stack", STACKS)
def test_dump_scripts_ship_as_the_files_the_drill_compares_against(stack):
    from components.backups.dump_job import SCRIPTS_DIR

    scripts = plan(stack).one("kubernetes:core/v1:ConfigMap", "backup-dump-scripts").inputs["data"]
    assert scripts["dump.sh"] == (SCRIPTS_DIR / "dump.sh").read_text()
    assert scripts["fingerprint.sql"] == (SCRIPTS_DIR / "fingerprint.sql").read_text()


@pytest.mark.parametrize("stack", STACKS)
def test_the_dump_credential_is_generated_encrypted_and_rotated(stack):
    result = plan(stack)
    secret = result.one("aws:secretsmanager/secret:Secret", "backup-dump-db-credential")
    assert secret.inputs["kmsKeyId"] == result.one("aws:kms/key:Key", "secrets-key").outputs["arn"]
    rotation = result.one("aws:secretsmanager/secretRotation:SecretRotation", "backup-dump-credential-rotation")
    assert rotation.property_dependencies["secretId"] == [secret.urn]
    assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 30}
    permission = result.one("aws:lambda/permission:Permission", "backup-dump-credential-rotation-invoke")
    assert permission.inputs["principal"] == "secretsmanager.amazonaws.com"
    assert permission.inputs["sourceArn"] == secret.outputs["arn"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_uploader_may_only_write_dumps(stack):
    result = plan(stack)
    policy = json.loads(result.one("aws:iam/rolePolicy:RolePolicy", "backup-dump-upload-and-read-credential")
                        .inputs["policy"])
    actions = {s["Sid"]: s["Action"] for s in policy["Statement"]}
    assert actions["WriteDumps"] == "s3:PutObject"
    bucket_arn = result.one("aws:s3/bucket:Bucket").outputs["arn"]
    write = next(s for s in policy["Statement"] if s["Sid"] == "WriteDumps")
    assert write["Resource"] == f"{bucket_arn}/*"


# --- the backup monitor -------------------------------------------------------------------------------------


def _alarms(stack: str) -> dict:
    return {a.inputs["name"].removeprefix(f"kingtavo-{stack}-"): a.inputs
            for a in plan(stack).by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
            if a.name.startswith("backup-monitor")}


def test_backup_alarms_thresholds_and_missing_data():
    alarms = _alarms("production")
    assert set(alarms) == {"backup-stale", "backup-failed", "pitr-off", "dump-stale", "backup-monitor-errors",
                           "backup-future-dated"}
    future = alarms["backup-future-dated"]
    assert (future["metricName"], future["threshold"], future["treatMissingData"]) == (
        "FutureDatedBackups", 0, "notBreaching")
    stale = alarms["backup-stale"]
    assert (stale["metricName"], stale["comparisonOperator"], stale["threshold"], stale["treatMissingData"]) == (
        "HoursSinceLastCompletedBackup", "GreaterThanThreshold", 26, "breaching")
    failed = alarms["backup-failed"]
    assert (failed["metricName"], failed["threshold"], failed["treatMissingData"]) == ("FailedBackups", 0,
                                                                                        "notBreaching")
    pitr = alarms["pitr-off"]
    assert (pitr["metricName"], pitr["comparisonOperator"], pitr["threshold"], pitr["treatMissingData"]) == (
        "PitrEnabled", "LessThanThreshold", 1, "breaching")
    dump = alarms["dump-stale"]
    assert (dump["metricName"], dump["comparisonOperator"], dump["threshold"], dump["treatMissingData"]) == (
        "HoursSinceNewestDump", "GreaterThanThreshold", 30, "breaching")
    assert dump["namespace"] == "Kingtavo/Backups" and dump["dimensions"] == {"Environment": "production"}


def test_the_dump_age_threshold_follows_the_setting():
    alarms = {a.inputs["name"]: a.inputs for a in plan("staging", "backups.maxDumpAgeHours=50").by_type(
        "aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert alarms["kingtavo-staging-dump-stale"]["threshold"] == 50


@pytest.mark.parametrize("stack", STACKS)
def test_every_backup_alarm_links_its_runbook(stack):
    base = "https://github.com/kingtavo/infrastructure/blob/main/docs/runbooks/"
    for name, alarm in _alarms(stack).items():
        description = alarm["alarmDescription"]
        assert description.rsplit("Runbook: ", 1)[1].startswith(base), name


@pytest.mark.parametrize("stack", STACKS)
def test_the_monitor_may_list_the_archive_s_tiers_and_nothing_more(stack):
    result = plan(stack)
    bucket = result.one("aws:s3/bucket:Bucket")
    function = result.one("aws:lambda/function:Function", "backup-monitor-function")
    assert function.inputs["environment"]["variables"]["BACKUP_BUCKET"] == bucket.inputs["bucket"]
    policy = json.loads(result.one("aws:iam/rolePolicy:RolePolicy", "backup-monitor-least-privilege")
                        .inputs["policy"])
    listing = next(s for s in policy["Statement"] if s["Sid"] == "ListDumps")
    assert listing["Action"] == "s3:ListBucket" and listing["Resource"] == bucket.outputs["arn"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["daily/*", "weekly/*", "monthly/*"]}}
    assert not any("s3:GetObject" in str(s["Action"]) for s in policy["Statement"])


def test_staging_does_not_require_pitr():
    assert "pitr-off" not in _alarms("staging")


@pytest.mark.parametrize("stack", STACKS)
def test_backup_alarms_page_the_critical_route(stack):
    critical = plan(stack).one("aws:sns/topic:Topic", "alerts-critical").outputs["arn"]
    warning = plan(stack).one("aws:sns/topic:Topic", "alerts-warning").outputs["arn"]
    for name, alarm in _alarms(stack).items():
        if name == "backup-future-dated":  # the answer is wrong, nothing is lost yet: a warning
            assert alarm["alarmActions"] == [warning]
        elif name != "backup-monitor-errors":
            assert alarm["alarmActions"] == [critical], name
            assert alarm["period"] == 3600 and alarm["evaluationPeriods"] == 1


@pytest.mark.parametrize("stack", STACKS)
def test_the_monitor_runs_hourly_and_reads_its_token_from_secrets_manager(stack):
    result = plan(stack)
    assert result.one("aws:cloudwatch/eventRule:EventRule", "backup-monitor-hourly").inputs[
        "scheduleExpression"] == "rate(1 hour)"
    function = result.one("aws:lambda/function:Function", "backup-monitor-function")
    variables = function.inputs["environment"]["variables"]
    token_secret = result.one("aws:secretsmanager/secret:Secret", "backup-monitor-supabase-token")
    assert variables["ACCESS_TOKEN_SECRET_ARN"] == token_secret.outputs["arn"]
    assert result.secrets["kingtavo:supabaseAccessToken"] not in json.dumps(variables)
    version = result.one("aws:secretsmanager/secretVersion:SecretVersion", "backup-monitor-supabase-token-value")
    assert version.inputs["secretString"] == result.secrets["kingtavo:supabaseAccessToken"]
