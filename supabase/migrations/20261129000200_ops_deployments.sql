-- Deployments: one row per rollout of a release to one color of one environment (blue/green). The deploy
-- workflows insert a row when a rollout starts and set its outcome when it ends.

-- Fail fast rather than queue behind a long transaction while holding locks that block the tables' users.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table ops.deployments (
  id bigint generated always as identity primary key,
  environment text not null check (environment in ('staging', 'production')),
  color text not null check (color in ('blue', 'green')),
  release text not null check (release ~ '^\S{1,100}$'),
  git_sha text not null check (git_sha ~ '^[0-9a-f]{40}$'),
  actor text not null check (char_length(actor) between 1 and 100),
  status text not null default 'in_progress'
    check (status in ('in_progress', 'succeeded', 'failed', 'rolled_back')),
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  -- A rollout is finished exactly when it has an outcome, and it cannot end before it began.
  constraint deployments_finished_iff_outcome check ((status = 'in_progress') = (finished_at is null)),
  constraint deployments_finish_after_start check (finished_at >= started_at)
);
comment on table ops.deployments is 'One rollout of a release to one blue/green color of one environment.';
comment on column ops.deployments.release is 'Release tag (v1.2.3) or build name; no whitespace.';
comment on column ops.deployments.git_sha is 'Full 40-character commit SHA that was deployed.';
comment on column ops.deployments.actor is 'Who started the rollout: GitHub login or workflow name.';

create index deployments_environment_started_at_idx on ops.deployments (environment, started_at desc);

alter table ops.deployments enable row level security;

revoke all on ops.deployments from public, anon;
grant select, insert on ops.deployments to authenticated, service_role;
-- Only the outcome of a rollout changes after the fact; what was deployed, where and by whom does not.
grant update (status, finished_at) on ops.deployments to authenticated, service_role;

create policy deployments_admin_select on ops.deployments
  for select to authenticated using ((select ops_private.is_ops_admin()));
create policy deployments_admin_insert on ops.deployments
  for insert to authenticated with check ((select ops_private.is_ops_admin()));
create policy deployments_admin_update on ops.deployments
  for update to authenticated
  using ((select ops_private.is_ops_admin())) with check ((select ops_private.is_ops_admin()));
