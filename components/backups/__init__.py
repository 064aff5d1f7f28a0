"""The backups plane: the S3 archive, the nightly dump job, the backup monitor."""

from components.backups.archive import BackupArchive, BackupArchiveArgs
from components.backups.dump_job import BackupDumpJob, BackupDumpJobArgs
from components.backups.monitor import BackupMonitor, BackupMonitorArgs

__all__ = [
    "BackupArchive", "BackupArchiveArgs", "BackupDumpJob", "BackupDumpJobArgs", "BackupMonitor", "BackupMonitorArgs",
]
