-- The ops record's writer: ops_recorder (NOLOGIN, no BYPASSRLS) and its login ops_recorder_login. Connected
-- as the login, it inserts into the six record tables, reads and resolves only rows it recorded itself, and
-- cannot read anyone else's rows, change what was recorded, delete, truncate, or touch any other table.
begin;
select plan(46);

-- The roles ----------------------------------------------------------------------------------------------
select ok((select not rolcanlogin and not rolbypassrls and not rolsuper and not rolcreaterole and not rolcreatedb
           from pg_roles where rolname = 'ops_recorder'), 'ops_recorder: NOLOGIN, no BYPASSRLS, no other power');
select ok((select rolcanlogin and rolinherit and not rolbypassrls and not rolsuper and not rolcreaterole
           from pg_roles where rolname = 'ops_recorder_login'), 'ops_recorder_login: LOGIN, inherits, nothing more');
select ok(pg_has_role('ops_recorder_login', 'ops_recorder', 'usage'), 'the login holds ops_recorder''s privileges');
select ok(not pg_has_role('ops_recorder_login', 'authenticated', 'member'), 'the login is no API role');
select ok(not pg_has_role('ops_recorder_login', 'service_role', 'member'), 'the login is not service_role');
select is_empty($$
  select c.oid::regclass::text from pg_class as c
  where c.relnamespace = 'ops'::regnamespace and c.relkind in ('r', 'v')
    and c.relname not in ('deployments', 'backup_checks', 'restore_drills', 'alerts', 'key_rotations', 'drift_checks')
    and has_table_privilege('ops_recorder_login', c.oid, 'select, insert, update, delete, truncate, references, trigger')
$$, 'no privilege on any other ops table or view');
select is_empty($$
  select c.oid::regclass::text || ' ' || p.privilege from pg_class as c
  cross join unnest(array['delete', 'truncate', 'references', 'trigger']) as p (privilege)
  where c.relnamespace = 'ops'::regnamespace and has_table_privilege('ops_recorder_login', c.oid, p.privilege)
$$, 'no delete, truncate, references or trigger anywhere in ops');
select ok(not has_schema_privilege('ops_recorder_login', 'ops_private', 'usage'), 'no use of ops_private');
select ok(not has_schema_privilege('ops_recorder_login', 'ops', 'create'), 'cannot create objects in ops');

-- Rows somebody else recorded (the migration owner, as an admin or another writer would).
insert into ops.deployments (environment, color, release, git_sha, actor, status, finished_at, web_sha, smoke_passed)
values ('staging', 'blue', 'v9.0.0', repeat('a', 40), 'someone-else', 'succeeded', now(), repeat('b', 40), true);
insert into ops.alerts (environment, source, name, severity, summary, fingerprint)
values ('production', 'prometheus', 'OthersAlert', 'critical', 'not the recorder''s', 'fp-others');
insert into ops.backup_checks (environment, result, findings) values ('production', 'failed', '["other"]');
insert into ops.drift_checks (environment, result) values ('production', 'clean');

-- pgTAP lives in `extensions`: let the login call it inside this rolled-back transaction only.
grant usage on schema extensions to ops_recorder_login;
set local role ops_recorder_login;

-- Inserts into each of the six tables -------------------------------------------------------------------
select lives_ok($$
  insert into ops.deployments (environment, color, release, git_sha, actor, status, started_at, finished_at,
                               web_sha, etl_digest, smoke_passed, e2e_passed, run_url)
  values ('staging', 'green', 'v1.2.3', repeat('c', 40), 'deploy-staging', 'succeeded', now(), now(),
          repeat('d', 40), 'sha256:' || repeat('e', 64), true, true, 'https://github.com/kingtavo/infra/actions/runs/1')
$$, 'records a deployment');
select lives_ok($$
  insert into ops.backup_checks (environment, result, backup_reference, backup_taken_at)
  values ('staging', 'passed', 'backup-1', now())
$$, 'records a backup check');
select lives_ok($$
  insert into ops.restore_drills (environment, backup_reference, started_at, finished_at, result,
                                  recovery_time_seconds, data_gap_seconds)
  values ('staging', 's3://bucket/x.dump', now(), now(), 'passed', 1, 1)
$$, 'records a restore drill');
select lives_ok($$
  insert into ops.alerts (environment, source, name, severity, summary, fingerprint)
  values ('staging', 'cloudwatch', 'BackupMissed', 'warning', 'no snapshot', 'arn:aws:cloudwatch:x')
$$, 'records an alert');
select lives_ok($$
  insert into ops.key_rotations (environment, store, secret_name, rotated_by, next_due_at)
  values ('staging', 'aws_secrets_manager', 'kingtavo/staging/etl/database', 'secret-rotation', now() + interval '30 days')
$$, 'records a key rotation');
select lives_ok($$
  insert into ops.drift_checks (environment, result, routing_drifted, changes)
  values ('staging', 'drifted', true, '["etl-live: spec.selector.color"]')
$$, 'records a drift check');
select lives_ok($$
  insert into ops.alerts (environment, source, name, severity, summary, fingerprint)
  values ('staging', 'cloudwatch', 'BackupMissed', 'warning', 'no snapshot', 'arn:aws:cloudwatch:x')
  on conflict (environment, source, fingerprint) where resolved_at is null and fingerprint is not null do nothing
$$, 'a repeated notification of a firing alert is skipped, not an error');
select throws_ok($$
  insert into ops.alerts (environment, source, name, severity, summary, recorded_by)
  values ('staging', 'vercel', 'Forged', 'info', 'x', 'someone-else')
$$, '42501', null, 'cannot say someone else recorded a row');
select throws_ok($$
  insert into ops.incidents (environment, title, severity) values ('staging', 'x', 'minor')
$$, '42501', null, 'cannot open an incident');
select throws_ok($$
  insert into ops.alert_acknowledgments (alert_id, acknowledged_by) select 1, gen_random_uuid()
$$, '42501', null, 'cannot acknowledge an alert');

-- Reads: only its own rows, only where a writer needs them ------------------------------------------------
select is((select count(*)::int from ops.deployments), 1, 'sees only the deployment it recorded');
select is((select release from ops.deployments), 'v1.2.3', 'and that row is its own');
select is((select count(*)::int from ops.alerts where fingerprint = 'fp-others'), 0, 'cannot see others'' alerts');
select is((select count(*)::int from ops.alerts), 1, 'sees its own alert once (the repeat was skipped)');
select throws_ok('select * from ops.backup_checks', '42501', null, 'cannot read backup checks');
select throws_ok('select * from ops.restore_drills', '42501', null, 'cannot read restore drills');
select throws_ok('select * from ops.key_rotations', '42501', null, 'cannot read key rotations');
select throws_ok('select * from ops.drift_checks', '42501', null, 'cannot read drift checks');
select throws_ok('select summary from ops.alerts', '42501', null, 'cannot read alert summaries');
select throws_ok('select * from ops.incidents', '42501', null, 'cannot read incidents');
select throws_ok('select * from ops.unacknowledged_alerts', '42501', null, 'cannot read the alert view');
select throws_ok('select * from ops.key_rotation_status', '42501', null, 'cannot read the rotation view');

-- Updates: only resolving its own firing alert -----------------------------------------------------------
select throws_ok($$update ops.deployments set status = 'failed'$$, '42501', null, 'cannot change a deployment');
select throws_ok($$update ops.alerts set summary = 'rewritten'$$, '42501', null, 'cannot rewrite an alert');
select throws_ok($$update ops.key_rotations set next_due_at = now() + interval '9 years'$$, '42501', null,
  'cannot move a rotation''s due date');
select is_empty($$update ops.alerts set resolved_at = now() where fingerprint = 'fp-others' returning id$$,
  'cannot resolve an alert someone else recorded');
select isnt_empty($$update ops.alerts set resolved_at = now() where fingerprint = 'arn:aws:cloudwatch:x' returning id$$,
  'resolves its own firing alert');
select is_empty($$update ops.alerts set resolved_at = now() + interval '1 hour' returning id$$,
  'a resolved alert stays resolved as recorded');

-- Deletes and truncates: never ---------------------------------------------------------------------------
select throws_ok('delete from ops.deployments', '42501', null, 'cannot delete deployments');
select throws_ok('delete from ops.backup_checks', '42501', null, 'cannot delete backup checks');
select throws_ok('delete from ops.restore_drills', '42501', null, 'cannot delete restore drills');
select throws_ok('delete from ops.alerts', '42501', null, 'cannot delete alerts');
select throws_ok('delete from ops.key_rotations', '42501', null, 'cannot delete key rotations');
select throws_ok('delete from ops.drift_checks', '42501', null, 'cannot delete drift checks');
select throws_ok('truncate ops.alerts', '42501', null, 'cannot truncate');
reset role;

-- What it wrote carries its name, and the owner's rows are untouched.
select is((select recorded_by from ops.deployments where release = 'v1.2.3'), 'ops_recorder_login',
  'each row names the login that recorded it');
select is((select resolved_at from ops.alerts where fingerprint = 'fp-others'), null,
  'the other alert is still firing');

select * from finish();
rollback;
