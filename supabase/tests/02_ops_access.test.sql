-- Who can do what in ops: row level security is on everywhere, anon gets nothing, a signed-in user who is
-- not an operations admin sees and changes nothing, and an admin (app_metadata.ops_role = admin in the JWT)
-- reads and writes what the grants allow. Requests are simulated the way PostgREST makes them: switch to
-- the API role and put the JWT's claims in request.jwt.claims.
\set admin_claims '{"sub": "00000000-0000-4000-8000-00000000ad01", "role": "authenticated", "app_metadata": {"ops_role": "admin"}}'
\set user_claims '{"sub": "00000000-0000-4000-8000-0000000000a1", "role": "authenticated", "app_metadata": {}}'
\set self_promoted_claims '{"sub": "00000000-0000-4000-8000-0000000000a2", "role": "authenticated", "app_metadata": {"ops_role": "viewer"}, "user_metadata": {"ops_role": "admin"}}'
begin;
select plan(48);

-- The catalog: every table guarded, no policy for anon, views run as the caller, functions pin search_path.
select is_empty($$
  select format('%I.%I', n.nspname, c.relname)
  from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
  where n.nspname in ('ops', 'ops_private') and c.relkind in ('r', 'p') and not c.relrowsecurity
$$, 'row level security is on for every ops table');
select is(
  (select count(*)::int from pg_class
   where relnamespace = 'ops'::regnamespace and relkind = 'r' and relrowsecurity),
  10, 'all ten ops tables have row level security');
select is_empty($$
  select tablename || ' ' || policyname from pg_policies
  where schemaname = 'ops' and (roles && array['anon', 'public']::name[])
$$, 'no policy applies to anon or PUBLIC');
select is_empty($$
  select format('%I.%I', n.nspname, c.relname)
  from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
  where n.nspname = 'ops' and c.relkind = 'v'
    and not coalesce(c.reloptions @> array['security_invoker=true'], false)
$$, 'every ops view is security_invoker');
select is_empty($$
  select p.oid::regprocedure::text
  from pg_proc as p
  where p.pronamespace in ('ops'::regnamespace, 'ops_private'::regnamespace)
    and not exists (select from unnest(p.proconfig) as setting where setting like 'search\_path=%')
$$, 'every ops function sets search_path');
select is_empty($$
  select p.oid::regprocedure::text from pg_proc as p
  where p.pronamespace in ('ops'::regnamespace, 'ops_private'::regnamespace) and p.prosecdef
$$, 'no ops function is security definer');

-- anon: no schema, no table, no function.
select ok(not has_schema_privilege('anon', 'ops', 'usage'), 'anon cannot use schema ops');
select ok(not has_schema_privilege('anon', 'ops_private', 'usage'), 'anon cannot use schema ops_private');
select is_empty($$
  select c.oid::regclass::text
  from pg_class as c
  where c.relnamespace in ('ops'::regnamespace, 'ops_private'::regnamespace) and c.relkind in ('r', 'v', 'p')
    and has_table_privilege('anon', c.oid, 'select, insert, update, delete, truncate, references, trigger')
$$, 'anon holds no privilege on any ops table or view');
select is_empty($$
  select p.oid::regprocedure::text from pg_proc as p
  where p.pronamespace in ('ops'::regnamespace, 'ops_private'::regnamespace)
    and has_function_privilege('anon', p.oid, 'execute')
$$, 'anon cannot execute any ops function');

-- Rows to look at, written by the owner (who is not subject to row level security).
insert into ops.deployments (environment, color, release, git_sha, actor)
values ('production', 'green', 'v2.0.0', repeat('d', 40), 'octocat');
insert into ops.backup_checks (environment, result, findings) values ('production', 'failed', '["no backup"]');
insert into ops.restore_drills (environment, backup_reference, started_at, finished_at, result,
                                recovery_time_seconds, data_gap_seconds)
values ('staging', 's3://bucket/a.dump', now(), now(), 'passed', 10, 10);
insert into ops.alerts (environment, source, name, severity, summary)
values ('production', 'cloudwatch', 'BackupMissed', 'warning', 'no snapshot');
insert into ops.alert_acknowledgments (alert_id, acknowledged_by) select id, gen_random_uuid() from ops.alerts;
insert into ops.alerts (environment, source, name, severity, summary)
values ('production', 'sentry', 'CriticalError', 'critical', 'unhandled exception');
insert into ops.incidents (environment, title, severity, status, resolved_at)
values ('production', 'backup missed', 'minor', 'resolved', now());
insert into ops.incident_timeline_entries (incident_id, kind, entry, author_id)
select id, 'detection', 'alarm', gen_random_uuid() from ops.incidents;
insert into ops.post_incident_reviews (incident_id, impact, root_cause, preventive_measures, author_id)
select id, 'none', 'expired credential', 'rotate earlier', gen_random_uuid() from ops.incidents;
insert into ops.key_rotations (environment, store, secret_name, rotated_by, next_due_at)
values ('production', 'vercel', 'SUPABASE_SERVICE_ROLE_KEY', 'admin', now() + interval '1 day');

-- anon, as PostgREST runs it: every read refused.
set local role anon;
set local request.jwt.claims = '{"role": "anon"}';
select throws_ok('select * from ops.deployments', '42501', null, 'anon cannot read deployments');
select throws_ok('select * from ops.restore_drills', '42501', null, 'anon cannot read restore drills');
select throws_ok('select * from ops.unacknowledged_alerts', '42501', null, 'anon cannot read the alert view');
select throws_ok($$
  insert into ops.alerts (environment, source, name, severity, summary)
  values ('production', 'sentry', 'Fake', 'info', 'x')
$$, '42501', null, 'anon cannot write alerts');
reset role;

-- A signed-in user who is not an operations admin: sees nothing, writes nothing.
set local role authenticated;
set local request.jwt.claims = :'user_claims';
select ok(not ops_private.is_ops_admin(), 'an ordinary user is not an ops admin');
select is((select count(*)::int from ops.deployments), 0, 'user sees no deployments');
select is((select count(*)::int from ops.backup_checks), 0, 'user sees no backup checks');
select is((select count(*)::int from ops.restore_drills), 0, 'user sees no restore drills');
select is((select count(*)::int from ops.alerts), 0, 'user sees no alerts');
select is((select count(*)::int from ops.alert_acknowledgments), 0, 'user sees no acknowledgments');
select is((select count(*)::int from ops.incidents), 0, 'user sees no incidents');
select is((select count(*)::int from ops.incident_timeline_entries), 0, 'user sees no timeline entries');
select is((select count(*)::int from ops.post_incident_reviews), 0, 'user sees no reviews');
select is((select count(*)::int from ops.key_rotations), 0, 'user sees no key rotations');
select is((select count(*)::int from ops.key_rotation_status), 0, 'user sees nothing through the rotation view');
select is((select count(*)::int from ops.unacknowledged_alerts), 0, 'user sees nothing through the alert view');
select throws_ok($$
  insert into ops.deployments (environment, color, release, git_sha, actor)
  values ('production', 'blue', 'v6.6.6', repeat('e', 40), 'mallory')
$$, '42501', null, 'user cannot record a deployment');
select throws_ok($$
  insert into ops.key_rotations (environment, store, secret_name, rotated_by, next_due_at)
  values ('production', 'vercel', 'X', 'mallory', now() + interval '1 year')
$$, '42501', null, 'user cannot record a key rotation');
select is_empty($$update ops.deployments set status = 'failed', finished_at = now() returning id$$,
  'user cannot change a deployment (no row is visible to update)');
reset role;

-- A user who put ops_role = admin in their own user_metadata (which users can edit) is still not an admin.
set local role authenticated;
set local request.jwt.claims = :'self_promoted_claims';
select ok(not ops_private.is_ops_admin(), 'user_metadata does not make an admin');
select is((select count(*)::int from ops.incidents), 0, 'a self-promoted user sees no incidents');
reset role;

-- An operations admin.
set local role authenticated;
set local request.jwt.claims = :'admin_claims';
select ok(ops_private.is_ops_admin(), 'app_metadata.ops_role = admin makes an admin');
select is((select count(*)::int from ops.deployments), 1, 'admin reads deployments');
select is((select count(*)::int from ops.post_incident_reviews), 1, 'admin reads reviews');
select is((select count(*)::int from ops.unacknowledged_alerts), 1, 'admin sees the one unacknowledged alert');
select is((select count(*)::int from ops.key_rotation_status where not overdue), 1, 'admin reads rotation status');
select lives_ok($$
  update ops.deployments set status = 'succeeded', finished_at = now()
$$, 'admin records the outcome of a rollout');
select throws_ok($$update ops.deployments set git_sha = repeat('f', 40)$$, '42501', null,
  'what was deployed cannot be rewritten, even by an admin');
select throws_ok('delete from ops.deployments', '42501', null, 'admin cannot delete deployment history');
select lives_ok($$
  insert into ops.alert_acknowledgments (alert_id, note)
  select id, 'on it' from ops.unacknowledged_alerts
$$, 'admin acknowledges an alert');
select is(
  (select acknowledged_by from ops.alert_acknowledgments where note = 'on it'),
  '00000000-0000-4000-8000-00000000ad01'::uuid, 'the acknowledgment names the admin from the JWT');
select is((select count(*)::int from ops.unacknowledged_alerts), 0, 'the acknowledged alert leaves the list');
select throws_ok($$
  insert into ops.alert_acknowledgments (alert_id, acknowledged_by)
  select id, gen_random_uuid() from ops.alerts limit 1
$$, '42501', null, 'admin cannot acknowledge in someone else''s name');
select lives_ok($$
  insert into ops.incident_timeline_entries (incident_id, kind, entry)
  select id, 'note', 'follow-up filed' from ops.incidents
$$, 'admin adds a timeline entry');
select lives_ok($$
  insert into ops.restore_drills (environment, backup_reference, started_at, finished_at, result,
                                  recovery_time_seconds, data_gap_seconds, integrity_findings)
  values ('staging', 's3://bucket/b.dump', now(), now(), 'failed', 12, 60,
          '["ops.alerts: 1 rows restored, 2 dumped"]')
$$, 'admin records a restore drill');
select lives_ok($$
  insert into ops.key_rotations (environment, store, secret_name, rotated_by, next_due_at)
  values ('staging', 'supabase_vault', 'ETL_WEBHOOK_SECRET', 'admin', now() + interval '30 days')
$$, 'admin records a key rotation');
reset role;

-- service_role (server-side automation) bypasses row level security but still only has its grants.
set local role service_role;
select lives_ok($$
  insert into ops.backup_checks (environment, result, backup_reference, backup_taken_at)
  values ('production', 'passed', 'backup-42', now())
$$, 'service_role records a backup check');
select throws_ok('delete from ops.backup_checks', '42501', null, 'service_role cannot delete backup history');
reset role;

select * from finish();
rollback;
