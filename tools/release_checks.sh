#!/usr/bin/env bash
# Smoke and e2e checks of one side of a deployment (a workflow step).
#
#   PULUMI_STACK=kingtavo/kingtavo/staging SUPABASE_PROJECT_REF=... tools/release_checks.sh URL STACK_FILE [--smoke-only]
#
# Endpoints: the deployment (2xx, an HTML page, with the bypass header) and the Supabase REST root
# (200 or 401: the gateway is up; SUPABASE_URL overrides https://<ref>.supabase.co, for tests). Then
# tools.e2e in Debian's chromium (CHROMIUM_PATH or `chromium` on PATH): the page renders, carries this
# stack file's Supabase URL and anon key, and runs without console errors or failed requests.
# The Vercel protection-bypass secret comes from the stack's output `vercelProtectionBypassSecret`
# (masked in the log at once, never stored in GitHub); tools.smoke and tools.e2e send it only to the
# deployment's own origin. Writes smoke=passed|failed (and e2e=...) to $GITHUB_OUTPUT for the ops record,
# runs e2e even when smoke failed (both results are recorded), exits 1 when either failed.
set -euo pipefail

if [ "$#" -lt 2 ] || [ -z "$1" ]; then
  echo "usage: tools/release_checks.sh URL STACK_FILE [--smoke-only] (URL must not be empty)" >&2
  exit 2
fi
url="$1" stack_file="$2" only="${3:-}"
python="${PYTHON:-.venv/bin/python}"
output="${GITHUB_OUTPUT:-/dev/null}"

secret="$(pulumi stack output --show-secrets --stack "$PULUMI_STACK" vercelProtectionBypassSecret)"
echo "::add-mask::${secret}"
export VERCEL_AUTOMATION_BYPASS_SECRET="$secret"

smoke=failed
if "$python" -m tools.smoke --deadline "${SMOKE_DEADLINE:-300}" --interval "${SMOKE_INTERVAL:-5}" \
    --endpoint web "$url" --status 2xx --contains '<html' --bypass \
    --endpoint supabase "${SUPABASE_URL:-https://${SUPABASE_PROJECT_REF}.supabase.co}/rest/v1/" --status 200,401; then
  smoke=passed
fi
echo "smoke=${smoke}" >> "$output"
if [ "$only" = "--smoke-only" ]; then
  [ "$smoke" = passed ]
  exit
fi

e2e=failed
browser="${CHROMIUM_PATH:-$(command -v chromium || true)}"
if "$python" -m tools.e2e --url "$url" --bypass --stack-file "$stack_file" ${browser:+--browser-path "$browser"}; then
  e2e=passed
fi
echo "e2e=${e2e}" >> "$output"
[ "$smoke" = passed ] && [ "$e2e" = passed ]
