#!/usr/bin/env bash
# Watch the live side after a production flip (a workflow step): `tools.verify_flip` with this stack's signals.
#
#   PULUMI_STACK=... STACK=production LIVE_COLOR=green WINDOW=600 SINCE=<ISO> [PROMETHEUS_URL=...] SENTRY_AUTH_TOKEN=... \
#     tools/verify_after_flip.sh
#
# Signals: the live URL's smoke check (with the bypass header), new issues in Sentry's kingtavo-web-<stack>
# project since the flip, and, when PROMETHEUS_URL is set (a Prometheus the runner can reach), the
# EtlHighHttp5xxRate rule's 5xx share of the live colour. tools.verify_flip writes decision= and reason= to $GITHUB_OUTPUT:
# exit 0 hold, 1 flip-back (the next step flips back), 3 inconclusive (a person decides). SENTRY_URL and
# INTERVAL override https://sentry.io and 30 seconds (tests).
set -euo pipefail
python="${PYTHON:-.venv/bin/python}"
live_url="$(pulumi stack output --stack "$PULUMI_STACK" liveUrl)"
secret="$(pulumi stack output --show-secrets --stack "$PULUMI_STACK" vercelProtectionBypassSecret)"
echo "::add-mask::${secret}"
export VERCEL_AUTOMATION_BYPASS_SECRET="$secret"
args=(--window "${WINDOW:-600}" --interval "${INTERVAL:-30}" --consecutive 2 --since "$SINCE"
      --sentry-url "${SENTRY_URL:-https://sentry.io}" --sentry-org kingtavo --sentry-project "kingtavo-web-${STACK}" --sentry-environment "$STACK"
      --endpoint live "$live_url" --status 2xx --bypass)
if [ -n "${PROMETHEUS_URL:-}" ]; then
  args+=(--prometheus-url "$PROMETHEUS_URL" --max-5xx-ratio 0.05
         --query "sum(rate(http_requests_total{job=\"etl\", color=\"${LIVE_COLOR}\", code=~\"5..\"}[5m])) / sum(rate(http_requests_total{job=\"etl\", color=\"${LIVE_COLOR}\"}[5m]))")
fi
exec "$python" -m tools.verify_flip "${args[@]}"
