-- Incidents, their timeline and the post-incident review, following the incident response procedure:
-- detection, triage, mitigation, resolution, then a review of the root cause and preventive measures.
-- Timeline entries are append-only history; a review can only be written for a resolved incident.

-- Fail fast rather than queue behind a long transaction while holding locks that block the tables' users.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table ops.incidents (
  id bigint generated always as identity primary key,
  environment text not null check (environment in ('staging', 'production')),
  title text not null check (char_length(title) between 1 and 200),
  severity text not null check (severity in ('critical', 'major', 'minor')),
  status text not null default 'open' check (status in ('open', 'mitigated', 'resolved')),
  triggering_alert_id bigint references ops.alerts (id) on delete restrict,
  opened_at timestamptz not null default now(),
  mitigated_at timestamptz,
  resolved_at timestamptz,
  -- The timestamps say which stage the incident reached, in order.
  constraint incidents_status_matches_timestamps check (
    case status
      when 'open' then mitigated_at is null and resolved_at is null
      when 'mitigated' then mitigated_at is not null and resolved_at is null
      when 'resolved' then resolved_at is not null
    end
  ),
  constraint incidents_mitigate_after_open check (mitigated_at >= opened_at),
  constraint incidents_resolve_after_mitigate check (resolved_at >= coalesce(mitigated_at, opened_at))
);
comment on table ops.incidents is 'One incident, from detection to resolution.';
comment on column ops.incidents.triggering_alert_id is 'The alert that detected it, when one did.';

create index incidents_environment_opened_at_idx on ops.incidents (environment, opened_at desc);
create index incidents_triggering_alert_id_idx on ops.incidents (triggering_alert_id);

create table ops.incident_timeline_entries (
  id bigint generated always as identity primary key,
  incident_id bigint not null references ops.incidents (id) on delete restrict,
  kind text not null check (kind in ('detection', 'triage', 'mitigation', 'resolution', 'note')),
  entry text not null check (char_length(entry) between 1 and 4000),
  occurred_at timestamptz not null default now(),
  author_id uuid not null default auth.uid(),
  recorded_at timestamptz not null default now(),
  constraint incident_timeline_entries_not_in_future check (occurred_at <= recorded_at)
);
comment on table ops.incident_timeline_entries is 'What happened during an incident, in order. Append-only.';
comment on column ops.incident_timeline_entries.author_id is
  'auth.users id of the admin who wrote the entry, from the JWT.';

create index incident_timeline_entries_incident_id_idx on ops.incident_timeline_entries (incident_id, occurred_at);

create trigger incident_timeline_entries_append_only
  before update or delete on ops.incident_timeline_entries
  for each row execute function ops_private.refuse_history_change();
create trigger incident_timeline_entries_no_truncate
  before truncate on ops.incident_timeline_entries
  for each statement execute function ops_private.refuse_history_change();

create table ops.post_incident_reviews (
  incident_id bigint primary key references ops.incidents (id) on delete restrict,
  impact text not null check (char_length(impact) between 1 and 4000),
  root_cause text not null check (char_length(root_cause) between 1 and 10000),
  preventive_measures text not null check (char_length(preventive_measures) between 1 and 10000),
  runbook_updated boolean not null default false,
  shared_with_stakeholders_at timestamptz,
  author_id uuid not null default auth.uid(),
  created_at timestamptz not null default now()
);
comment on table ops.post_incident_reviews is
  'The root cause analysis of a resolved incident and what will prevent a repeat.';

-- A review of an incident that is still open would be a guess: require the incident to be resolved.
create function ops_private.require_resolved_incident()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  incident_status text;
begin
  select incident.status into incident_status from ops.incidents as incident where incident.id = new.incident_id;
  if incident_status is distinct from 'resolved' then
    raise exception using
      errcode = 'check_violation',
      message = format('incident %s is %s: only a resolved incident gets a post-incident review',
                       new.incident_id, coalesce(incident_status, 'missing'));
  end if;
  return new;
end;
$$;
comment on function ops_private.require_resolved_incident() is
  'Trigger function: a post-incident review is only written for a resolved incident.';
revoke execute on function ops_private.require_resolved_incident() from public, anon, authenticated, service_role;

create trigger post_incident_reviews_require_resolved_incident
  before insert or update of incident_id on ops.post_incident_reviews
  for each row execute function ops_private.require_resolved_incident();

alter table ops.incidents enable row level security;
alter table ops.incident_timeline_entries enable row level security;
alter table ops.post_incident_reviews enable row level security;

revoke all on ops.incidents, ops.incident_timeline_entries, ops.post_incident_reviews from public, anon;

grant select, insert on ops.incidents to authenticated, service_role;
grant update (title, severity, status, mitigated_at, resolved_at) on ops.incidents to authenticated, service_role;

grant select, insert on ops.incident_timeline_entries to service_role;
grant select on ops.incident_timeline_entries to authenticated;
-- Signed-in admins cannot set the author or the recording time: those come from the JWT and the clock.
grant insert (incident_id, kind, entry, occurred_at) on ops.incident_timeline_entries to authenticated;

grant select on ops.post_incident_reviews to authenticated, service_role;
grant insert (incident_id, impact, root_cause, preventive_measures, runbook_updated, shared_with_stakeholders_at)
  on ops.post_incident_reviews to authenticated;
grant update (impact, root_cause, preventive_measures, runbook_updated, shared_with_stakeholders_at)
  on ops.post_incident_reviews to authenticated;

create policy incidents_admin_select on ops.incidents
  for select to authenticated using ((select ops_private.is_ops_admin()));
create policy incidents_admin_insert on ops.incidents
  for insert to authenticated with check ((select ops_private.is_ops_admin()));
create policy incidents_admin_update on ops.incidents
  for update to authenticated
  using ((select ops_private.is_ops_admin())) with check ((select ops_private.is_ops_admin()));

create policy incident_timeline_entries_admin_select on ops.incident_timeline_entries
  for select to authenticated using ((select ops_private.is_ops_admin()));
create policy incident_timeline_entries_admin_insert on ops.incident_timeline_entries
  for insert to authenticated
  with check ((select ops_private.is_ops_admin()) and author_id = (select auth.uid()));

create policy post_incident_reviews_admin_select on ops.post_incident_reviews
  for select to authenticated using ((select ops_private.is_ops_admin()));
create policy post_incident_reviews_admin_insert on ops.post_incident_reviews
  for insert to authenticated
  with check ((select ops_private.is_ops_admin()) and author_id = (select auth.uid()));
create policy post_incident_reviews_admin_update on ops.post_incident_reviews
  for update to authenticated
  using ((select ops_private.is_ops_admin())) with check ((select ops_private.is_ops_admin()));
