-- Key rotations: a log of every rotated secret (its name and where it lives, never its value), who rotated
-- it, and when the next rotation is due. A rotation is a fact: rows are inserted, never edited; the next
-- rotation is a new row. The key_rotation_status view gives each secret's latest rotation and whether it
-- is overdue (the rotation policy in the operations document).

-- Fail fast rather than queue behind a long transaction while holding locks that block the tables' users.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table ops.key_rotations (
  id bigint generated always as identity primary key,
  environment text not null check (environment in ('staging', 'production')),
  store text not null check (
    store in ('aws_secrets_manager', 'vercel', 'supabase_vault', 'supabase_edge_functions', 'github_actions')
  ),
  -- A name such as SUPABASE_SERVICE_ROLE_KEY or kingtavo/production/etl-db: no spaces, never a value.
  secret_name text not null check (secret_name ~ '^[A-Za-z][A-Za-z0-9_./-]{0,199}$'),
  rotated_at timestamptz not null default now(),
  rotated_by text not null check (char_length(rotated_by) between 1 and 100),
  next_due_at timestamptz not null,
  note text check (char_length(note) between 1 and 2000),
  constraint key_rotations_next_due_after_rotation check (next_due_at > rotated_at)
);
comment on table ops.key_rotations is 'One rotation of one secret (by name; values never leave their store).';
comment on column ops.key_rotations.rotated_by is
  'Who rotated it: an admin''s login or the rotation Lambda''s name.';

create index key_rotations_secret_rotated_at_idx
  on ops.key_rotations (environment, store, secret_name, rotated_at desc);

alter table ops.key_rotations enable row level security;

revoke all on ops.key_rotations from public, anon;
grant select, insert on ops.key_rotations to authenticated, service_role;

create policy key_rotations_admin_select on ops.key_rotations
  for select to authenticated using ((select ops_private.is_ops_admin()));
create policy key_rotations_admin_insert on ops.key_rotations
  for insert to authenticated with check ((select ops_private.is_ops_admin()));

create view ops.key_rotation_status
with (security_invoker = true)
as
select distinct on (rotation.environment, rotation.store, rotation.secret_name)
  rotation.environment,
  rotation.store,
  rotation.secret_name,
  rotation.rotated_at as last_rotated_at,
  rotation.rotated_by as last_rotated_by,
  rotation.next_due_at,
  rotation.next_due_at < now() as overdue
from ops.key_rotations as rotation
order by rotation.environment, rotation.store, rotation.secret_name, rotation.rotated_at desc;
comment on view ops.key_rotation_status is 'Each secret''s latest rotation and whether the next one is overdue.';

revoke all on ops.key_rotation_status from public, anon;
grant select on ops.key_rotation_status to authenticated, service_role;
