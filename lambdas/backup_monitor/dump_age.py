"""The archive side of the backup monitor: hours since the newest database dump in the S3 archive.

The nightly dump job (components/backups/dump_job.py) writes one `<tier>/<environment>-<YYYYMMDDTHHMMSSZ>.dump`
a night, to `monthly/` on the 1st, `weekly/` on Sundays and `daily/` otherwise, so the newest dump is the newest
`.dump` under any of the three prefixes; looking at `daily/` alone would call every Sunday and every 1st stale.
A dump's age is the time in its key (the snapshot the data is from); a key that does not carry one counts from
its upload time (LastModified).

The handler calls, once per run, after the Supabase metrics:

    metrics["HoursSinceNewestDump"] = hours_since_newest_dump(session.client("s3"), os.environ["BACKUP_BUCKET"], now)

and publishes it with the other metrics (namespace METRIC_NAMESPACE, dimension Environment); the alarm
`kingtavo-<environment>-dump-stale` (components/backups/monitor.py) pages above maxDumpAgeHours, and when the
metric is missing. An S3 error propagates, so the invocation fails and its Errors alarm fires.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

TIERS = ("daily/", "weekly/", "monthly/")
NO_DUMP_HOURS = 100_000.0  # no dump at all: above any sane threshold, like NO_BACKUP_HOURS
_STAMP = re.compile(r"-(\d{8}T\d{6}Z)\.dump$")


def dump_time(key: str, last_modified: datetime) -> datetime:
    """When the dump's data is from: the UTC stamp in its key, else when it was uploaded."""
    match = _STAMP.search(key)
    if match:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return last_modified if last_modified.tzinfo else last_modified.replace(tzinfo=UTC)


def newest_dump(s3, bucket: str, prefixes: tuple[str, ...] = TIERS) -> tuple[str, datetime] | None:
    """(key, time) of the newest `.dump` under the prefixes, or None when there is none."""
    newest: tuple[str, datetime] | None = None
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in prefixes:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if not item["Key"].endswith(".dump"):
                    continue  # manifests and anything else
                taken = dump_time(item["Key"], item["LastModified"])
                if newest is None or taken > newest[1]:
                    newest = (item["Key"], taken)
    return newest


def hours_since_newest_dump(s3, bucket: str, now: datetime, prefixes: tuple[str, ...] = TIERS) -> float:
    """Hours from the newest dump to `now` (never negative), or NO_DUMP_HOURS when the archive has none."""
    if not bucket:
        raise ValueError("BACKUP_BUCKET is empty: the backup monitor needs the archive's bucket name")
    found = newest_dump(s3, bucket, prefixes)
    if found is None:
        return NO_DUMP_HOURS
    return round(max(0.0, (now - found[1]).total_seconds() / 3600), 3)
