-- Sample rows for the local emulator (`supabase db reset` loads this after the migrations), so the admin
-- dashboard has something to show. Everything here is obviously fake: example.invalid names, all-zero
-- user ids, release names that say "example". Never load this into a hosted project.

insert into ops.deployments (environment, color, release, git_sha, actor, status, started_at, finished_at)
values
  ('staging', 'blue', 'v0.1.0-example', repeat('a', 40), 'example-ci-bot', 'succeeded',
   now() - interval '2 days', now() - interval '2 days' + interval '6 minutes'),
  ('staging', 'green', 'v0.2.0-example', repeat('b', 40), 'example-ci-bot', 'failed',
   now() - interval '1 day', now() - interval '1 day' + interval '4 minutes'),
  ('staging', 'green', 'v0.2.1-example', repeat('c', 40), 'example-ci-bot', 'in_progress',
   now() - interval '3 minutes', null);

insert into ops.backup_checks (environment, checked_at, result, backup_reference, backup_taken_at, findings)
values
  ('staging', now() - interval '1 hour', 'passed', 'example-backup-0001', now() - interval '5 hours', '[]'),
  ('staging', now() - interval '25 hours', 'failed', null, null, '["example: no backup newer than 26 hours"]');

insert into ops.restore_drills
  (environment, backup_reference, started_at, finished_at, result, recovery_time_seconds, data_gap_seconds,
   integrity_findings)
values
  ('staging', 's3://example-bucket.invalid/staging/example.dump', now() - interval '3 days',
   now() - interval '3 days' + interval '95 seconds', 'passed', 95.250, 14400.000, '[]'),
  ('staging', 's3://example-bucket.invalid/staging/example-older.dump', now() - interval '33 days',
   now() - interval '33 days' + interval '120 seconds', 'failed', 120.000, 86400.000,
   '["ops.deployments: 2 rows restored, 3 dumped (example finding)"]');

insert into ops.alerts (environment, source, name, severity, summary, fired_at, resolved_at)
values
  ('staging', 'prometheus', 'FrontendHttp5xxRateHigh', 'critical', 'Example: 5xx above 5% for 5 minutes',
   now() - interval '2 hours', now() - interval '90 minutes'),
  ('staging', 'cloudwatch', 'BackupMissed', 'warning', 'Example: no snapshot in the last 26 hours',
   now() - interval '20 minutes', null);

insert into ops.alert_acknowledgments (alert_id, acknowledged_by, acknowledged_at, note)
select alert.id, '00000000-0000-4000-8000-000000000001', alert.fired_at + interval '3 minutes',
       'Example acknowledgment: looking into it.'
from ops.alerts as alert
where alert.name = 'FrontendHttp5xxRateHigh';

insert into ops.incidents (environment, title, severity, status, triggering_alert_id, opened_at, mitigated_at,
                           resolved_at)
select 'staging', 'Example incident: elevated 5xx after a release', 'major', 'resolved', alert.id,
       alert.fired_at, alert.fired_at + interval '10 minutes', alert.fired_at + interval '30 minutes'
from ops.alerts as alert
where alert.name = 'FrontendHttp5xxRateHigh';

insert into ops.incident_timeline_entries (incident_id, kind, entry, occurred_at, author_id)
select incident.id, step.kind, step.entry, incident.opened_at + step.after, '00000000-0000-4000-8000-000000000001'
from ops.incidents as incident
cross join (values
  ('detection', 'Example: alert fired', interval '0 minutes'),
  ('triage', 'Example: traced to the new release', interval '5 minutes'),
  ('mitigation', 'Example: flipped activeColor back to blue', interval '10 minutes'),
  ('resolution', 'Example: error rate back to normal', interval '30 minutes')
) as step (kind, entry, after);

insert into ops.post_incident_reviews (incident_id, impact, root_cause, preventive_measures, runbook_updated,
                                       author_id)
select incident.id, 'Example: some requests failed for 10 minutes.', 'Example: a missing environment variable.',
       'Example: check required variables before switching colors.', true, '00000000-0000-4000-8000-000000000001'
from ops.incidents as incident;

insert into ops.key_rotations (environment, store, secret_name, rotated_at, rotated_by, next_due_at, note)
values
  ('staging', 'aws_secrets_manager', 'kingtavo/staging/example-etl-db', now() - interval '10 days',
   'example-rotation-lambda', now() + interval '20 days', null),
  ('staging', 'vercel', 'EXAMPLE_API_KEY', now() - interval '40 days', 'example-admin', now() - interval '10 days',
   'Example: overdue on purpose so the dashboard shows it.');

insert into ops.drift_checks (environment, checked_at, result, routing_drifted, changes)
values
  ('staging', now() - interval '1 day', 'clean', false, '[]'),
  ('staging', now() - interval '2 hours', 'drifted', false,
   '["example-security-group: ingress[0].cidrBlocks (example finding)"]');
