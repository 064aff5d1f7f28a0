-- Alert acknowledgments and incident timeline entries are append-only history. No API role holds UPDATE,
-- DELETE or TRUNCATE on them, and a trigger refuses those to everyone else too: the table owner and
-- service_role (which bypasses row level security) cannot rewrite history either.
\set admin_claims '{"sub": "00000000-0000-4000-8000-00000000ad01", "role": "authenticated", "app_metadata": {"ops_role": "admin"}}'
begin;
select plan(22);

select has_trigger('ops', 'alert_acknowledgments', 'alert_acknowledgments_append_only',
  'acknowledgments refuse update and delete');
select has_trigger('ops', 'alert_acknowledgments', 'alert_acknowledgments_no_truncate',
  'acknowledgments refuse truncate');
select has_trigger('ops', 'incident_timeline_entries', 'incident_timeline_entries_append_only',
  'timeline entries refuse update and delete');
select has_trigger('ops', 'incident_timeline_entries', 'incident_timeline_entries_no_truncate',
  'timeline entries refuse truncate');
select is_empty($$
  select format('%s %s', grantee, privilege_type)
  from information_schema.role_table_grants
  where table_schema = 'ops' and table_name in ('alert_acknowledgments', 'incident_timeline_entries')
    and grantee in ('anon', 'authenticated', 'service_role', 'PUBLIC')
    and privilege_type in ('UPDATE', 'DELETE', 'TRUNCATE')
$$, 'no API role may update, delete or truncate the history tables');

insert into ops.alerts (environment, source, name, severity, summary)
values ('production', 'prometheus', 'EtlJobFailed', 'critical', 'ETL run failed');
insert into ops.incidents (environment, title, severity) values ('production', 'ETL down', 'critical');

-- The admin writes history through the API, then tries to rewrite it.
set local role authenticated;
set local request.jwt.claims = :'admin_claims';
select lives_ok($$
  insert into ops.alert_acknowledgments (alert_id, note) select id, 'paging ETL owner' from ops.alerts
$$, 'admin acknowledges');
select lives_ok($$
  insert into ops.incident_timeline_entries (incident_id, kind, entry)
  select id, 'triage', 'job OOM' from ops.incidents
$$, 'admin adds a timeline entry');
select throws_ok($$update ops.alert_acknowledgments set note = 'all fine'$$, '42501', null,
  'admin cannot edit an acknowledgment');
select throws_ok('delete from ops.alert_acknowledgments', '42501', null, 'admin cannot delete an acknowledgment');
select throws_ok($$update ops.incident_timeline_entries set entry = 'nothing happened'$$, '42501', null,
  'admin cannot edit a timeline entry');
select throws_ok('delete from ops.incident_timeline_entries', '42501', null,
  'admin cannot delete a timeline entry');
reset role;

set local role service_role;
select throws_ok($$update ops.alert_acknowledgments set note = 'all fine'$$, '42501', null,
  'service_role cannot edit an acknowledgment');
select throws_ok('delete from ops.incident_timeline_entries', '42501', null,
  'service_role cannot delete a timeline entry');
reset role;

-- The owner bypasses grants and row level security: the trigger is what stops it.
select throws_ok($$update ops.alert_acknowledgments set note = 'all fine'$$, '23001',
  'ops.alert_acknowledgments is append-only: update is not allowed', 'the owner cannot edit an acknowledgment');
select throws_ok('delete from ops.alert_acknowledgments', '23001',
  'ops.alert_acknowledgments is append-only: delete is not allowed', 'the owner cannot delete an acknowledgment');
select throws_ok('truncate ops.alert_acknowledgments', '23001',
  'ops.alert_acknowledgments is append-only: truncate is not allowed',
  'the owner cannot truncate acknowledgments');
select throws_ok($$update ops.incident_timeline_entries set entry = 'nothing happened'$$, '23001',
  'ops.incident_timeline_entries is append-only: update is not allowed', 'the owner cannot edit a timeline entry');
select throws_ok('delete from ops.incident_timeline_entries', '23001',
  'ops.incident_timeline_entries is append-only: delete is not allowed',
  'the owner cannot delete a timeline entry');
select throws_ok('truncate ops.incident_timeline_entries', '23001',
  'ops.incident_timeline_entries is append-only: truncate is not allowed',
  'the owner cannot truncate the timeline');

-- The history is exactly as written, and still grows.
select results_eq($$select note from ops.alert_acknowledgments$$, array['paging ETL owner'],
  'the acknowledgment is unchanged');
select results_eq($$select entry from ops.incident_timeline_entries$$, array['job OOM'],
  'the timeline entry is unchanged');
select lives_ok($$
  insert into ops.incident_timeline_entries (incident_id, kind, entry, author_id)
  select id, 'note', 'correction: the job ran out of disk, not memory', gen_random_uuid() from ops.incidents
$$, 'a correction is a new entry');

select * from finish();
rollback;
