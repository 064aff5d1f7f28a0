"""The archive side of the backup monitor (lambdas/backup_monitor/dump_age.py) against moto's S3, and the alarm on
what it publishes against moto's CloudWatch: the newest dump under any tier, ages from the key's stamp, a missing
archive or dump. (moto's CloudWatch stores alarms but never evaluates them, so the `dump-stale` alarm is checked
as declared: its threshold, comparison and missing-data rule, here and in tests/test_backups_plan.py.)"""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from components.backups.monitor import alarm_specs
from components.core.settings import BackupsSettings

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday
BUCKET = "kingtavo-staging-db-backups-123456789012"


def _load():
    path = ROOT / "lambdas" / "backup_monitor" / "dump_age.py"
    spec = importlib.util.spec_from_file_location("backup_monitor_dump_age", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


dump_age = _load()


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="eu-central-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
        yield client


def _put(s3, key: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"not a real dump")


def _stamp(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%SZ")


def test_a_dump_from_last_night_is_hours_old(s3):
    taken = NOW - timedelta(hours=8, minutes=43)
    _put(s3, f"daily/staging-{_stamp(taken - timedelta(days=1))}.dump")
    _put(s3, f"daily/staging-{_stamp(taken)}.dump")
    _put(s3, f"daily/staging-{_stamp(taken)}.manifest.json")
    assert dump_age.hours_since_newest_dump(s3, BUCKET, NOW) == pytest.approx(8.717, abs=0.001)


def test_sundays_weekly_dump_counts_so_monday_morning_is_not_stale(s3):
    """Sunday's dump went to weekly/, so daily/ alone would be two days old on Monday morning."""
    saturday = datetime(2026, 11, 28, 3, 17, tzinfo=UTC)
    sunday = datetime(2026, 11, 29, 3, 17, tzinfo=UTC)
    _put(s3, f"daily/staging-{_stamp(saturday)}.dump")
    _put(s3, f"weekly/staging-{_stamp(sunday)}.dump")
    assert dump_age.newest_dump(s3, BUCKET)[0] == f"weekly/staging-{_stamp(sunday)}.dump"
    assert dump_age.hours_since_newest_dump(s3, BUCKET, NOW) == pytest.approx(32.717, abs=0.001)
    assert dump_age.hours_since_newest_dump(s3, BUCKET, NOW, prefixes=("daily/",)) == pytest.approx(56.717, abs=0.001)


def test_the_key_s_stamp_wins_over_a_late_upload(s3):
    """A dump uploaded now but taken 40 hours ago holds 40-hour-old data."""
    _put(s3, f"monthly/staging-{_stamp(NOW - timedelta(hours=40))}.dump")
    assert dump_age.hours_since_newest_dump(s3, BUCKET, NOW) == pytest.approx(40.0)


def test_a_key_without_a_stamp_counts_from_its_upload(s3):
    _put(s3, "daily/hand-made.dump")
    uploaded = s3.head_object(Bucket=BUCKET, Key="daily/hand-made.dump")["LastModified"]
    assert dump_age.hours_since_newest_dump(s3, BUCKET, uploaded + timedelta(hours=3)) == pytest.approx(3.0)


def test_an_empty_archive_or_only_manifests_is_as_stale_as_it_gets(s3):
    assert dump_age.hours_since_newest_dump(s3, BUCKET, NOW) == dump_age.NO_DUMP_HOURS
    _put(s3, f"daily/staging-{_stamp(NOW)}.manifest.json")
    _put(s3, f"restore-tests/staging-{_stamp(NOW)}.dump")  # outside the tiers
    assert dump_age.hours_since_newest_dump(s3, BUCKET, NOW) == dump_age.NO_DUMP_HOURS


def test_many_dumps_are_listed_across_pages(s3):
    start = NOW - timedelta(days=3)
    for minute in range(1005):  # more than one page of list_objects_v2 (1000 keys)
        _put(s3, f"daily/staging-{_stamp(start + timedelta(minutes=minute))}.dump")
    newest = start + timedelta(minutes=1004)
    assert dump_age.hours_since_newest_dump(s3, BUCKET, NOW) == pytest.approx((NOW - newest).total_seconds() / 3600,
                                                                              abs=0.001)


def test_a_missing_bucket_fails_the_run_and_an_empty_name_is_named(s3):
    with pytest.raises(s3.exceptions.NoSuchBucket):
        dump_age.hours_since_newest_dump(s3, "kingtavo-staging-no-such-bucket", NOW)
    with pytest.raises(ValueError, match="BACKUP_BUCKET"):
        dump_age.hours_since_newest_dump(s3, "", NOW)


def test_the_dump_stale_alarm_spec_treats_a_silent_monitor_as_stale():
    spec = next(s for s in alarm_specs(BackupsSettings(point_in_time_recovery=False), False)
                if s["name"] == "dump-stale")
    assert (spec["metric"], spec["operator"], spec["threshold"], spec["missing"]) == (
        "HoursSinceNewestDump", "GreaterThanThreshold", 30, "breaching")
