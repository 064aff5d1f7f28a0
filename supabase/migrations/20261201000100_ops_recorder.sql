-- The ops record fills itself: the deploy workflows, the drift check, the alert receiver, the backup monitor,
-- the rotation function and the restore drill write their rows through one least-privilege role.
--
--   ops_recorder        NOLOGIN, no BYPASSRLS: holds the privileges. INSERT on the six record tables; SELECT
--                       on its own deployment rows (the production release gate reads what staging proved)
--                       and its own alert rows, and UPDATE of `resolved_at` on its own unresolved alerts (an
--                       alert that clears). Nothing else: no other table, no view, no delete, no truncate.
--   ops_recorder_login  LOGIN, member of ops_recorder, created WITHOUT a password, so nobody can sign in as it
--                       until the operator sets one. The stack generates the password and keeps it in Secrets
--                       Manager (`kingtavo/<env>/ops-recorder`); once per database the operator sets it from
--                       there with psql's `\password ops_recorder_login` (psql sends only the SCRAM verifier),
--                       and the rotation function rotates it like the other login roles afterwards (a role
--                       may change its own password). A migration never carries a password: it would live in
--                       git and in supabase_migrations.schema_migrations.statements for good.
--
-- Each row says who recorded it (`recorded_by`, the connected login, from the column default: the recorder
-- may not set it), and the recorder's policies only let it see and resolve rows it recorded itself.

-- Fail fast rather than queue behind a long transaction while holding locks that block the tables' users.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- Roles are per cluster, not per database: create them when missing, and refuse an existing role that holds
-- more than it should. (Supabase's `postgres` is not a superuser, and only a superuser may name SUPERUSER,
-- BYPASSRLS or REPLICATION in ALTER ROLE, so those are checked, not set.)
do $roles$
declare
  too_powerful text;
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'ops_recorder') then
    create role ops_recorder nologin noinherit;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'ops_recorder_login') then
    create role ops_recorder_login login inherit connection limit 20;
  end if;
  select string_agg(rolname, ', ') into too_powerful
  from pg_catalog.pg_roles
  where rolname in ('ops_recorder', 'ops_recorder_login')
    and (rolsuper or rolbypassrls or rolreplication or rolcreaterole or rolcreatedb);
  if too_powerful is not null then
    raise exception using
      errcode = 'insufficient_privilege',
      message = format('role(s) %s already exist with superuser, bypassrls, replication, createrole or createdb',
                       too_powerful),
      hint = 'Drop or reduce the existing role(s); the ops record needs a least-privilege writer.';
  end if;
end
$roles$;
alter role ops_recorder nologin;
alter role ops_recorder_login login inherit;
alter role ops_recorder_login set statement_timeout = '15s';
grant ops_recorder to ops_recorder_login;

comment on role ops_recorder is 'Writes the ops record (deployments, checks, rotations, alerts, drills): insert-only.';
comment on role ops_recorder_login is
  'Login for the ops record writers; member of ops_recorder. Password set by the operator, kept in Secrets Manager.';

-- Who recorded each row: the login that inserted it (admins through the API show as `authenticated`).
-- `current_user` is stable, not volatile: PostgreSQL 11+ stores it once as the column's fast default and
-- rewrites nothing (existing rows read as the migration's role), which squawk's rule cannot tell.
-- squawk-ignore adding-field-with-default
alter table ops.deployments add column recorded_by text not null default current_user;
-- squawk-ignore adding-field-with-default
alter table ops.backup_checks add column recorded_by text not null default current_user;
-- squawk-ignore adding-field-with-default
alter table ops.restore_drills add column recorded_by text not null default current_user;
-- squawk-ignore adding-field-with-default
alter table ops.alerts add column recorded_by text not null default current_user;
-- squawk-ignore adding-field-with-default
alter table ops.key_rotations add column recorded_by text not null default current_user;

-- What a release is made of, so production can ask whether staging proved the same thing.
alter table ops.deployments
  add column web_sha text check (web_sha ~ '^[0-9a-f]{40}$'),
  add column etl_digest text check (etl_digest ~ '^sha256:[0-9a-f]{64}$'),
  add column smoke_passed boolean,
  add column e2e_passed boolean,
  add column run_url text check (run_url ~ '^https://\S+$' and char_length(run_url) <= 500);
comment on column ops.deployments.git_sha is 'Commit of this infrastructure repository (the stack settings) deployed.';
comment on column ops.deployments.web_sha is 'Commit of the web app that the color''s Vercel deployment was built from.';
comment on column ops.deployments.etl_digest is 'Image digest (sha256:...) of the ETL release the color runs.';
comment on column ops.deployments.smoke_passed is 'Whether the smoke checks passed on this color (null: not run).';
comment on column ops.deployments.e2e_passed is 'Whether the browser end-to-end checks passed (null: not run).';

-- An alert is identified by its source's fingerprint (Alertmanager's fingerprint, the CloudWatch alarm ARN),
-- so a repeated notification does not record it twice and a resolution finds the firing row.
alter table ops.alerts add column fingerprint text check (char_length(fingerprint) between 1 and 300);
comment on column ops.alerts.fingerprint is 'The source''s identity of the alert: Alertmanager fingerprint, alarm ARN.';
-- squawk-ignore require-concurrent-index-creation
create unique index alerts_open_fingerprint_idx on ops.alerts (environment, source, fingerprint)
  where resolved_at is null and fingerprint is not null;

-- Drift checks (the nightly `pulumi preview --refresh --expect-no-changes`): clean or drifted, and what.
create table ops.drift_checks (
  id bigint generated always as identity primary key,
  environment text not null check (environment in ('staging', 'production')),
  checked_at timestamptz not null default now(),
  result text not null check (result in ('clean', 'drifted', 'error')),
  routing_drifted boolean not null default false,
  changes jsonb not null default '[]'::jsonb check (jsonb_typeof(changes) = 'array'),
  run_url text check (run_url ~ '^https://\S+$' and char_length(run_url) <= 500),
  recorded_by text not null default current_user,
  constraint drift_checks_clean_has_no_changes check (result <> 'clean' or jsonb_array_length(changes) = 0),
  constraint drift_checks_drifted_names_changes check (result <> 'drifted' or jsonb_array_length(changes) > 0),
  constraint drift_checks_routing_is_drift check (not routing_drifted or result = 'drifted')
);
comment on table ops.drift_checks is 'One drift check of a stack: what differs between the cloud and git.';
comment on column ops.drift_checks.changes is
  'JSON array of strings: resource names and property paths that drifted, never values.';
comment on column ops.drift_checks.routing_drifted is
  'The live/idle routing (Services, aliases) drifted: live traffic is not where git says.';

create index drift_checks_environment_checked_at_idx on ops.drift_checks (environment, checked_at desc);

alter table ops.drift_checks enable row level security;
revoke all on ops.drift_checks from public, anon;
grant select, insert on ops.drift_checks to service_role;
grant select on ops.drift_checks to authenticated;
create policy drift_checks_admin_select on ops.drift_checks
  for select to authenticated using ((select ops_private.is_ops_admin()));

-- The recorder's grants: the columns each writer sets, never `id` or `recorded_by`.
grant usage on schema ops to ops_recorder;
grant insert (environment, color, release, git_sha, actor, status, started_at, finished_at, web_sha, etl_digest,
              smoke_passed, e2e_passed, run_url)
  on ops.deployments to ops_recorder;
grant select on ops.deployments to ops_recorder;
grant insert (environment, checked_at, result, backup_reference, backup_taken_at, findings)
  on ops.backup_checks to ops_recorder;
grant insert (environment, backup_reference, started_at, finished_at, result, recovery_time_seconds,
              data_gap_seconds, integrity_findings)
  on ops.restore_drills to ops_recorder;
grant insert (environment, source, name, severity, summary, fired_at, resolved_at, fingerprint)
  on ops.alerts to ops_recorder;
grant select (id, environment, source, name, fingerprint, fired_at, resolved_at, recorded_by)
  on ops.alerts to ops_recorder;
grant update (resolved_at) on ops.alerts to ops_recorder;
grant insert (environment, store, secret_name, rotated_at, rotated_by, next_due_at, note)
  on ops.key_rotations to ops_recorder;
grant insert (environment, checked_at, result, routing_drifted, changes, run_url)
  on ops.drift_checks to ops_recorder;

-- Its policies: insert as itself; read and resolve only what it recorded.
create policy deployments_recorder_insert on ops.deployments
  for insert to ops_recorder with check (recorded_by = current_user);
create policy deployments_recorder_select on ops.deployments
  for select to ops_recorder using (recorded_by = current_user);
create policy backup_checks_recorder_insert on ops.backup_checks
  for insert to ops_recorder with check (recorded_by = current_user);
create policy restore_drills_recorder_insert on ops.restore_drills
  for insert to ops_recorder with check (recorded_by = current_user);
create policy alerts_recorder_insert on ops.alerts
  for insert to ops_recorder with check (recorded_by = current_user);
create policy alerts_recorder_select on ops.alerts
  for select to ops_recorder using (recorded_by = current_user);
-- Resolving is the only change: an unresolved alert it recorded gets a resolution time, never loses one.
create policy alerts_recorder_resolve on ops.alerts
  for update to ops_recorder
  using (recorded_by = current_user and resolved_at is null)
  with check (recorded_by = current_user and resolved_at is not null);
create policy key_rotations_recorder_insert on ops.key_rotations
  for insert to ops_recorder with check (recorded_by = current_user);
create policy drift_checks_recorder_insert on ops.drift_checks
  for insert to ops_recorder with check (recorded_by = current_user);
