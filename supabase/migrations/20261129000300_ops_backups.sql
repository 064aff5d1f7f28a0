-- Backups: what the backup monitor found when it checked for the newest backup, and the outcome of each
-- restore drill (tools/restore_drill.py inserts one row per drill). Both are records of something that
-- happened, so rows are inserted and read, never edited.

-- Fail fast rather than queue behind a long transaction while holding locks that block the tables' users.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table ops.backup_checks (
  id bigint generated always as identity primary key,
  environment text not null check (environment in ('staging', 'production')),
  checked_at timestamptz not null default now(),
  result text not null check (result in ('passed', 'failed')),
  backup_reference text check (char_length(backup_reference) between 1 and 500),
  backup_taken_at timestamptz,
  findings jsonb not null default '[]'::jsonb check (jsonb_typeof(findings) = 'array'),
  -- A passing check names the backup it found; a failing one says why it failed.
  constraint backup_checks_passed_names_backup check (
    result = 'failed' or (backup_reference is not null and backup_taken_at is not null)
  ),
  constraint backup_checks_failed_has_findings check (result = 'passed' or jsonb_array_length(findings) > 0),
  constraint backup_checks_backup_not_from_future check (backup_taken_at <= checked_at)
);
comment on table ops.backup_checks is 'One check of the newest backup of an environment (the backup dashboard).';
comment on column ops.backup_checks.findings is
  'JSON array of strings: why the check failed (missing, stale, failed snapshot).';

create index backup_checks_environment_checked_at_idx on ops.backup_checks (environment, checked_at desc);

create table ops.restore_drills (
  id bigint generated always as identity primary key,
  environment text not null check (environment in ('staging', 'production')),
  backup_reference text not null check (char_length(backup_reference) between 1 and 500),
  started_at timestamptz not null,
  finished_at timestamptz not null,
  result text not null check (result in ('passed', 'failed')),
  recovery_time_seconds numeric(12, 3) not null check (recovery_time_seconds >= 0),
  data_gap_seconds numeric(12, 3) not null check (data_gap_seconds >= 0),
  integrity_findings jsonb not null default '[]'::jsonb check (jsonb_typeof(integrity_findings) = 'array'),
  recorded_at timestamptz not null default now(),
  constraint restore_drills_finish_after_start check (finished_at >= started_at),
  -- A drill passes exactly when the restored copy matched the backup's manifest.
  constraint restore_drills_passed_iff_no_findings check (
    (result = 'passed') = (jsonb_array_length(integrity_findings) = 0)
  )
);
comment on table ops.restore_drills is
  'One restore drill: a backup restored into a scratch database and compared.';
comment on column ops.restore_drills.backup_reference is
  'Which backup was restored (s3://bucket/key or backup id).';
comment on column ops.restore_drills.recovery_time_seconds is 'How long the restore took (the measured RTO).';
comment on column ops.restore_drills.data_gap_seconds is
  'Age of the backup when restored: data a real restore would lose (RPO).';
comment on column ops.restore_drills.integrity_findings is
  'JSON array of strings: every difference between backup and restore.';

create index restore_drills_environment_started_at_idx on ops.restore_drills (environment, started_at desc);

alter table ops.backup_checks enable row level security;
alter table ops.restore_drills enable row level security;

revoke all on ops.backup_checks, ops.restore_drills from public, anon;
grant select, insert on ops.backup_checks, ops.restore_drills to authenticated, service_role;

create policy backup_checks_admin_select on ops.backup_checks
  for select to authenticated using ((select ops_private.is_ops_admin()));
create policy backup_checks_admin_insert on ops.backup_checks
  for insert to authenticated with check ((select ops_private.is_ops_admin()));

create policy restore_drills_admin_select on ops.restore_drills
  for select to authenticated using ((select ops_private.is_ops_admin()));
create policy restore_drills_admin_insert on ops.restore_drills
  for insert to authenticated with check ((select ops_private.is_ops_admin()));
