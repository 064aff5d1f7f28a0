#!/bin/sh
# Nightly logical dump of the Supabase database, with a fingerprint manifest taken in the
# same snapshot, so the restore drill can prove a restore holds exactly what was dumped.
#
# Connection: the libpq variables PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD (from the
# Kubernetes Secret synced from Secrets Manager). Output in $DUMP_DIR: backup.dump
# (pg_dump custom format), manifest.json, and key (the archive key: <tier>/<env>-<time>.dump:
# monthly on the 1st, weekly on Sundays, daily otherwise).
set -eu
out="${DUMP_DIR:-/dump}"
scripts="${SCRIPTS_DIR:-$(dirname "$0")}"
schemas="${DUMP_SCHEMAS:-public,ops,ops_private}"
# The application's schemas and the migration history; Supabase's own schemas are its to back up.
schema_flags="--schema=supabase_migrations"
for schema in $(echo "$schemas" | tr ',' ' '); do schema_flags="$schema_flags --schema=$schema"; done

tier=daily
if [ "$(date -u +%d)" = "01" ]; then tier=monthly; elif [ "$(date -u +%u)" = "7" ]; then tier=weekly; fi
stamp=$(date -u +%Y%m%dT%H%M%SZ)

# One transaction exports its snapshot; pg_dump and the fingerprint both read that snapshot.
psql --no-psqlrc -X -q -At -v ON_ERROR_STOP=1 -v schemas="$schemas" <<SQL
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT pg_export_snapshot() AS snapshot \gset
\setenv DUMP_SNAPSHOT :snapshot
\! echo "pg_dump in snapshot \$DUMP_SNAPSHOT" >&2; pg_dump --format=custom --no-owner --no-privileges --snapshot="\$DUMP_SNAPSHOT" $schema_flags --file="$out/backup.dump"
\o $out/manifest.json
\i $scripts/fingerprint.sql
\o
COMMIT;
SQL
printf '%s/%s-%s.dump\n' "$tier" "${ENVIRONMENT:-unknown}" "$stamp" > "$out/key"
echo "dumped to $out/backup.dump ($(wc -c < "$out/backup.dump") bytes), archive key $(cat "$out/key")"
