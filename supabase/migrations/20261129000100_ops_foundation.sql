-- The operations schema: the admin dashboard's record of deployments, backups, alerts, incidents and key
-- rotations. `ops` is exposed through the API (config.toml [api] schemas) so the dashboard can read it with
-- a signed-in user's JWT; row level security and explicit grants decide who sees what. Helpers live in
-- `ops_private`, which the API does not expose.
--
-- Who is an operations admin: a claim the Auth admin API sets in `app_metadata` (users cannot edit
-- app_metadata themselves, unlike user_metadata), read from the JWT PostgREST hands the database:
--   auth.jwt() -> 'app_metadata' ->> 'ops_role' = 'admin'

-- Fail fast rather than queue behind a long transaction while holding locks that block the tables' users.
set lock_timeout = '5s';
set statement_timeout = '60s';

create schema ops;
comment on schema ops is
  'Operations records for the admin dashboard: deployments, backups, alerts, incidents, key rotations.';

create schema ops_private;
comment on schema ops_private is
  'Helpers for the ops schema (policy checks, triggers); not exposed through the API.';

-- Nothing reaches either schema unless granted below; anon never is.
revoke all on schema ops from public, anon;
revoke all on schema ops_private from public, anon;
grant usage on schema ops to authenticated, service_role;
-- Policies run as the querying role, so it must be able to call the admin check.
grant usage on schema ops_private to authenticated, service_role;

-- Functions are executable by PUBLIC unless revoked, so each one below states who may call it.
create function ops_private.is_ops_admin()
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce((auth.jwt() -> 'app_metadata' ->> 'ops_role') = 'admin', false)
$$;
comment on function ops_private.is_ops_admin() is
  'True when the request''s JWT carries app_metadata.ops_role = admin. Used by every ops policy.';

revoke execute on function ops_private.is_ops_admin() from public, anon;
grant execute on function ops_private.is_ops_admin() to authenticated, service_role;

-- Append-only tables (alert acknowledgments, incident timeline entries) get this trigger before UPDATE,
-- DELETE and TRUNCATE. Grants and policies already refuse those to API roles; the trigger also stops the
-- table owner and service_role (which bypasses RLS), so history cannot be rewritten by any path short of
-- dropping the trigger in a reviewed migration.
create function ops_private.refuse_history_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception using
    errcode = 'restrict_violation',
    message = format('%I.%I is append-only: %s is not allowed', tg_table_schema, tg_table_name, lower(tg_op)),
    hint = 'Record a correction as a new entry instead.';
end;
$$;
comment on function ops_private.refuse_history_change() is
  'Trigger function that makes a table append-only by refusing UPDATE, DELETE and TRUNCATE.';

revoke execute on function ops_private.refuse_history_change() from public, anon, authenticated, service_role;
