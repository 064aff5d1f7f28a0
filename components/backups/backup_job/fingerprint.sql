-- The fingerprint of a database's data: per table, its row count and an md5 of its rows in
-- primary-key order; whether row level security is on; and the applied migration versions.
-- The dump job runs it in the dump's own snapshot (dump.sh) and stores the result next to
-- the dump; the restore drill runs it on the restored copy and compares (tools/restore_drill.py).
-- Plain SQL (query_to_xml runs the per-table queries), so it needs no function of its own and
-- runs with a read-only role. The psql variable `schemas` is a comma-separated schema list.
SELECT json_build_object(
  'taken_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
  'server_version', current_setting('server_version_num'),
  'migrations', (
    SELECT coalesce(json_agg(version ORDER BY version), '[]'::json)
    FROM (SELECT version::text AS version
          FROM (SELECT to_regclass('supabase_migrations.schema_migrations') AS rel) r,
               LATERAL (SELECT unnest(xpath('/table/row/v/text()', query_to_xml(
                 'SELECT version AS v FROM supabase_migrations.schema_migrations', false, false, ''))) AS version
                 WHERE r.rel IS NOT NULL) v) m
  ),
  'tables', (
    SELECT coalesce(json_agg(t ORDER BY t.schema, t.name), '[]'::json)
    FROM (
      SELECT n.nspname AS schema,
             c.relname AS name,
             c.relrowsecurity AS rls,
             (xpath('/row/n/text()', query_to_xml(
               format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint
               AS rows,
             (xpath('/row/h/text()', query_to_xml(
               format('SELECT md5(coalesce(string_agg(t::text, %L ORDER BY %s), %L)) AS h FROM %I.%I AS t',
                      E'\n', coalesce(pk.columns, 't::text'), '', n.nspname, c.relname), false, true, '')))[1]::text
               AS hash
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN LATERAL (
        SELECT string_agg(format('t.%I', a.attname), ', ' ORDER BY k.ord) AS columns
        FROM pg_index i
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = c.oid AND i.indisprimary
      ) pk ON true
      WHERE c.relkind IN ('r', 'p')
        AND n.nspname = ANY (string_to_array(:'schemas', ','))
    ) t
  )
);
