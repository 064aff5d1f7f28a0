#!/usr/bin/env bash
# No migration without a way back (a workflow step, staging: no PITR, so no restore point).
#
#   SUPABASE_ACCESS_TOKEN=... SUPABASE_PROJECT_REF=... MAX_AGE_HOURS=26 tools/backup_before_migrations.sh
#
# Asks the Management API for the project's backups (GET /v1/projects/{ref}/database/backups) and passes
# when PITR is on or a COMPLETED backup is younger than MAX_AGE_HOURS; otherwise stops the run before
# the migrations. The token goes to curl on stdin, never on its command line. SUPABASE_API_URL overrides
# the API root (tests).
set -euo pipefail
api="${SUPABASE_API_URL:-https://api.supabase.com}"
body="$(printf 'Authorization: Bearer %s\n' "$SUPABASE_ACCESS_TOKEN" | curl --silent --show-error --fail \
  --max-time 60 --header @- "${api}/v1/projects/${SUPABASE_PROJECT_REF}/database/backups")" || {
  echo "::error::could not list the backups of ${SUPABASE_PROJECT_REF}: not running migrations"; exit 1; }
printf '%s' "$body" | python3 -c '
import datetime as dt, json, sys
max_hours = float(sys.argv[1])
doc = json.load(sys.stdin)
if doc.get("pitr_enabled") is True:
    print("PITR is on: the database can be restored to any moment before the migrations"); sys.exit(0)
now = dt.datetime.now(dt.timezone.utc)
done = sorted((dt.datetime.fromisoformat(b["inserted_at"].replace("Z", "+00:00")) for b in doc.get("backups", [])
               if b.get("status") == "COMPLETED" and b.get("inserted_at")), reverse=True)
if done and now - (done[0] if done[0].tzinfo else done[0].replace(tzinfo=dt.timezone.utc)) <= dt.timedelta(hours=max_hours):
    print(f"latest completed backup: {done[0].isoformat()}"); sys.exit(0)
latest = done[0].isoformat() if done else "none"
print(f"::error::no completed backup in the last {max_hours:g} hours (latest: {latest}): not running migrations")
sys.exit(1)
' "${MAX_AGE_HOURS:-26}"
