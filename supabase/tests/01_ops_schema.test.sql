-- The ops schema's shape and the constraints that keep its data honest. Runs as the migration owner
-- (row level security does not apply to the owner), so every refusal here comes from a constraint,
-- a foreign key or a trigger, not from a policy.
begin;
select plan(52);

-- Shape -------------------------------------------------------------------------------------------------
select has_schema('ops');
select has_schema('ops_private');
select tables_are('ops', array[
  'deployments', 'backup_checks', 'restore_drills', 'alerts', 'alert_acknowledgments', 'incidents',
  'incident_timeline_entries', 'post_incident_reviews', 'key_rotations', 'drift_checks'
]);
select tables_are('ops_private', array[]::name[], 'ops_private holds functions only');
select views_are('ops', array['unacknowledged_alerts', 'key_rotation_status']);

select col_is_pk('ops', 'deployments', 'id', 'deployments are keyed by id');
select col_is_pk('ops', 'post_incident_reviews', 'incident_id', 'one review per incident');
select fk_ok('ops', 'alert_acknowledgments', 'alert_id', 'ops', 'alerts', 'id');
select fk_ok('ops', 'incidents', 'triggering_alert_id', 'ops', 'alerts', 'id');
select fk_ok('ops', 'incident_timeline_entries', 'incident_id', 'ops', 'incidents', 'id');
select fk_ok('ops', 'post_incident_reviews', 'incident_id', 'ops', 'incidents', 'id');

-- The columns other tools write (tools/restore_drill.py, the deploy workflows).
select columns_are('ops', 'restore_drills', array[
  'id', 'environment', 'backup_reference', 'started_at', 'finished_at', 'result', 'recovery_time_seconds',
  'data_gap_seconds', 'integrity_findings', 'recorded_at', 'recorded_by'
]);
select columns_are('ops', 'deployments', array[
  'id', 'environment', 'color', 'release', 'git_sha', 'actor', 'status', 'started_at', 'finished_at',
  'recorded_by', 'web_sha', 'etl_digest', 'smoke_passed', 'e2e_passed', 'run_url'
]);
select col_type_is('ops', 'restore_drills', 'integrity_findings', 'jsonb', 'integrity findings are jsonb');
select col_type_is('ops', 'restore_drills', 'recovery_time_seconds', 'numeric(12,3)',
  'recovery time is seconds with millisecond precision');
select col_not_null('ops', 'deployments', 'git_sha', 'a deployment names its commit');
select col_not_null('ops', 'alert_acknowledgments', 'acknowledged_by', 'an acknowledgment names who');
select col_not_null('ops', 'incident_timeline_entries', 'author_id', 'a timeline entry names its author');
select col_not_null('ops', 'key_rotations', 'next_due_at', 'a rotation says when the next is due');
select col_is_null('ops', 'deployments', 'finished_at', 'a rollout in progress has no finish time');

-- Every foreign key is indexed (joins from the parent, and deletes on it, stay cheap).
select is_empty($$
  select con.conrelid::regclass::text || ' ' || con.conname
  from pg_constraint as con
  where con.contype = 'f'
    and con.connamespace = 'ops'::regnamespace
    and not exists (
      select from pg_index as idx
      where idx.indrelid = con.conrelid and (idx.indkey::int2[])[0] = con.conkey[1]
    )
$$, 'every foreign key in ops leads an index');

-- Deployments ---------------------------------------------------------------------------------------------
select lives_ok($$
  insert into ops.deployments (environment, color, release, git_sha, actor)
  values ('staging', 'blue', 'v1.2.3', repeat('a', 40), 'octocat')
$$, 'a rollout in progress is recorded');
select throws_ok($$
  insert into ops.deployments (environment, color, release, git_sha, actor)
  values ('staging', 'purple', 'v1.2.3', repeat('a', 40), 'octocat')
$$, '23514', null, 'color is blue or green');
select throws_ok($$
  insert into ops.deployments (environment, color, release, git_sha, actor)
  values ('prod', 'blue', 'v1.2.3', repeat('a', 40), 'octocat')
$$, '23514', null, 'environment is staging or production');
select throws_ok($$
  insert into ops.deployments (environment, color, release, git_sha, actor)
  values ('staging', 'blue', 'v1.2.3', 'abc123', 'octocat')
$$, '23514', null, 'git_sha is a full 40-character SHA');
select throws_ok($$
  insert into ops.deployments (environment, color, release, git_sha, actor, status)
  values ('staging', 'blue', 'v1.2.3', repeat('a', 40), 'octocat', 'succeeded')
$$, '23514', null, 'an outcome needs a finish time');
select throws_ok($$
  insert into ops.deployments (environment, color, release, git_sha, actor, started_at, finished_at, status)
  values ('staging', 'blue', 'v1.2.3', repeat('a', 40), 'octocat', now(), now() - interval '1 minute', 'failed')
$$, '23514', null, 'a rollout cannot finish before it starts');
select throws_ok($$
  insert into ops.deployments (environment, color, release, git_sha)
  values ('staging', 'blue', 'v1.2.3', repeat('a', 40))
$$, '23502', null, 'the actor is required');

-- Backups and restore drills ------------------------------------------------------------------------------
select lives_ok($$
  insert into ops.restore_drills (environment, backup_reference, started_at, finished_at, result,
                                  recovery_time_seconds, data_gap_seconds, integrity_findings)
  values ('staging', 's3://bucket/staging/a.dump', now() - interval '2 minutes', now(), 'passed', 95.5, 3600, '[]')
$$, 'a passing drill is recorded');
select throws_ok($$
  insert into ops.restore_drills (environment, backup_reference, started_at, finished_at, result,
                                  recovery_time_seconds, data_gap_seconds, integrity_findings)
  values ('staging', 's3://bucket/staging/a.dump', now(), now(), 'passed', 1, 1,
          '["ops.alerts: 1 rows restored, 2 dumped"]')
$$, '23514', null, 'a drill with integrity findings cannot pass');
select throws_ok($$
  insert into ops.restore_drills (environment, backup_reference, started_at, finished_at, result,
                                  recovery_time_seconds, data_gap_seconds)
  values ('staging', 's3://bucket/staging/a.dump', now(), now(), 'failed', 1, 1)
$$, '23514', null, 'a failed drill says what failed');
select throws_ok($$
  insert into ops.restore_drills (environment, backup_reference, started_at, finished_at, result,
                                  recovery_time_seconds, data_gap_seconds)
  values ('staging', 's3://bucket/staging/a.dump', now(), now(), 'passed', -1, 1)
$$, '23514', null, 'recovery time is not negative');
select throws_ok($$
  insert into ops.restore_drills (environment, backup_reference, started_at, finished_at, result,
                                  recovery_time_seconds, data_gap_seconds, integrity_findings)
  values ('staging', 's3://bucket/staging/a.dump', now(), now(), 'passed', 1, 1, '{"ok": true}')
$$, '23514', null, 'integrity findings are a JSON array');
select throws_ok($$
  insert into ops.backup_checks (environment, result) values ('production', 'passed')
$$, '23514', null, 'a passing backup check names the backup it found');
select throws_ok($$
  insert into ops.backup_checks (environment, result, backup_reference, backup_taken_at)
  values ('production', 'passed', 'backup-1', now() + interval '1 hour')
$$, '23514', null, 'a backup cannot be taken after the check that found it');

-- Alerts, incidents, reviews ----------------------------------------------------------------------------
insert into ops.alerts (environment, source, name, severity, summary)
values ('production', 'prometheus', 'FrontendHttp5xxRateHigh', 'critical', '5xx above 5%');

select throws_ok($$
  insert into ops.alerts (environment, source, name, severity, summary)
  values ('production', 'prometheus', 'EtlJobFailed', 'urgent', 'ETL failed')
$$, '23514', null, 'severity is critical, warning or info');
select throws_ok($$
  insert into ops.alert_acknowledgments (alert_id, acknowledged_by) values (-1, gen_random_uuid())
$$, '23503', null, 'an acknowledgment belongs to an existing alert');
select throws_ok($$
  insert into ops.alert_acknowledgments (alert_id) select id from ops.alerts
$$, '23502', null, 'an acknowledgment says who acknowledged (no JWT, no sub: refused)');
select throws_ok($$
  insert into ops.alert_acknowledgments (alert_id, acknowledged_by, note)
  select id, gen_random_uuid(), '' from ops.alerts
$$, '23514', null, 'a note is absent or says something');

select lives_ok($$
  insert into ops.incidents (environment, title, severity, triggering_alert_id)
  select 'production', '5xx spike', 'major', id from ops.alerts
$$, 'an incident opens from an alert');
select throws_ok($$
  insert into ops.incidents (environment, title, severity, status) values ('production', 'x', 'major', 'resolved')
$$, '23514', null, 'a resolved incident has a resolution time');
select throws_ok($$
  insert into ops.incidents (environment, title, severity, mitigated_at) values ('production', 'x', 'major', now())
$$, '23514', null, 'an open incident has no mitigation time');
select throws_ok($$
  insert into ops.incidents (environment, title, severity, status, opened_at, resolved_at)
  values ('production', 'x', 'major', 'resolved', now(), now() - interval '1 hour')
$$, '23514', null, 'an incident cannot be resolved before it opened');
select throws_ok($$
  insert into ops.incident_timeline_entries (incident_id, kind, entry, author_id)
  select id, 'gossip', 'x', gen_random_uuid() from ops.incidents
$$, '23514', null, 'timeline entries have a known kind');
select throws_ok($$
  insert into ops.incident_timeline_entries (incident_id, kind, entry, author_id, occurred_at)
  select id, 'note', 'x', gen_random_uuid(), now() + interval '1 day' from ops.incidents
$$, '23514', null, 'a timeline entry cannot describe the future');

select throws_ok($$
  insert into ops.post_incident_reviews (incident_id, impact, root_cause, preventive_measures, author_id)
  select id, 'impact', 'cause', 'measures', gen_random_uuid() from ops.incidents
$$, '23514', null, 'an open incident gets no post-incident review yet');
update ops.incidents set status = 'resolved', resolved_at = now();
select lives_ok($$
  insert into ops.post_incident_reviews (incident_id, impact, root_cause, preventive_measures, author_id)
  select id, 'impact', 'cause', 'measures', gen_random_uuid() from ops.incidents
$$, 'a resolved incident gets its review');
select throws_ok($$
  insert into ops.post_incident_reviews (incident_id, impact, root_cause, preventive_measures, author_id)
  select id, 'impact', 'cause', 'measures', gen_random_uuid() from ops.incidents
$$, '23505', null, 'one review per incident');

-- Key rotations -------------------------------------------------------------------------------------------
select lives_ok($$
  insert into ops.key_rotations (environment, store, secret_name, rotated_by, next_due_at)
  values ('production', 'aws_secrets_manager', 'kingtavo/production/etl-db', 'rotation-lambda',
          now() + interval '30 days')
$$, 'a rotation is recorded by secret name');
select throws_ok($$
  insert into ops.key_rotations (environment, store, secret_name, rotated_by, next_due_at)
  values ('production', 'vercel', 'API KEY', 'someone', now() + interval '30 days')
$$, '23514', null, 'secret names have no spaces (a name, never a value)');
select throws_ok($$
  insert into ops.key_rotations (environment, store, secret_name, rotated_by, next_due_at)
  values ('production', 'vercel', 'API_KEY', 'someone', now() - interval '1 day')
$$, '23514', null, 'the next rotation is due after this one');
select throws_ok($$
  insert into ops.key_rotations (environment, store, secret_name, rotated_by, next_due_at)
  values ('production', 'dropbox', 'API_KEY', 'someone', now() + interval '1 day')
$$, '23514', null, 'secrets live in a known store');

select * from finish();
rollback;
