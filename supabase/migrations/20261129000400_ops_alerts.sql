-- Alerts and their acknowledgments: the alert history the on-call engineer works from. An alert is
-- recorded when it fires and marked resolved when it clears; acknowledging it adds a row that says who
-- acknowledged it, when, and why. Acknowledgments are append-only history.

-- Fail fast rather than queue behind a long transaction while holding locks that block the tables' users.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table ops.alerts (
  id bigint generated always as identity primary key,
  environment text not null check (environment in ('staging', 'production')),
  source text not null check (source in ('prometheus', 'cloudwatch', 'sentry', 'supabase', 'vercel')),
  name text not null check (name ~ '^[A-Za-z][A-Za-z0-9_.:-]{0,99}$'),
  severity text not null check (severity in ('critical', 'warning', 'info')),
  summary text not null check (char_length(summary) between 1 and 500),
  fired_at timestamptz not null default now(),
  resolved_at timestamptz,
  constraint alerts_resolve_after_fire check (resolved_at >= fired_at)
);
comment on table ops.alerts is 'One firing of an alert rule (HTTP 5xx rate, ETL failure, backup missed, ...).';
comment on column ops.alerts.name is 'The alert rule''s name, e.g. FrontendHttp5xxRateHigh.';

create index alerts_environment_fired_at_idx on ops.alerts (environment, fired_at desc);

create table ops.alert_acknowledgments (
  id bigint generated always as identity primary key,
  alert_id bigint not null references ops.alerts (id) on delete restrict,
  acknowledged_by uuid not null default auth.uid(),
  acknowledged_at timestamptz not null default now(),
  note text check (char_length(note) between 1 and 2000)
);
comment on table ops.alert_acknowledgments is 'Who acknowledged an alert, when, and their note. Append-only.';
comment on column ops.alert_acknowledgments.acknowledged_by is 'auth.users id of the admin, from the JWT.';

create index alert_acknowledgments_alert_id_idx on ops.alert_acknowledgments (alert_id);

create trigger alert_acknowledgments_append_only
  before update or delete on ops.alert_acknowledgments
  for each row execute function ops_private.refuse_history_change();
create trigger alert_acknowledgments_no_truncate
  before truncate on ops.alert_acknowledgments
  for each statement execute function ops_private.refuse_history_change();

alter table ops.alerts enable row level security;
alter table ops.alert_acknowledgments enable row level security;

revoke all on ops.alerts, ops.alert_acknowledgments from public, anon;
grant select, insert on ops.alerts to authenticated, service_role;
-- What fired, where and when is fixed; only clearing the alert changes it.
grant update (resolved_at) on ops.alerts to authenticated, service_role;
grant select, insert on ops.alert_acknowledgments to service_role;
-- Signed-in admins name the alert and a note; who and when come from the JWT and the clock.
grant select on ops.alert_acknowledgments to authenticated;
grant insert (alert_id, note) on ops.alert_acknowledgments to authenticated;

create policy alerts_admin_select on ops.alerts
  for select to authenticated using ((select ops_private.is_ops_admin()));
create policy alerts_admin_insert on ops.alerts
  for insert to authenticated with check ((select ops_private.is_ops_admin()));
create policy alerts_admin_update on ops.alerts
  for update to authenticated
  using ((select ops_private.is_ops_admin())) with check ((select ops_private.is_ops_admin()));

create policy alert_acknowledgments_admin_select on ops.alert_acknowledgments
  for select to authenticated using ((select ops_private.is_ops_admin()));
create policy alert_acknowledgments_admin_insert on ops.alert_acknowledgments
  for insert to authenticated
  with check ((select ops_private.is_ops_admin()) and acknowledged_by = (select auth.uid()));

-- The dashboard's "needs attention" list. security_invoker: the reader's own RLS applies, not the owner's.
create view ops.unacknowledged_alerts
with (security_invoker = true)
as
select alert.id, alert.environment, alert.source, alert.name, alert.severity, alert.summary, alert.fired_at
from ops.alerts as alert
where alert.resolved_at is null
  and not exists (select from ops.alert_acknowledgments as ack where ack.alert_id = alert.id);
comment on view ops.unacknowledged_alerts is 'Alerts still firing that nobody has acknowledged yet.';

revoke all on ops.unacknowledged_alerts from public, anon;
grant select on ops.unacknowledged_alerts to authenticated, service_role;
