#!/usr/bin/env bash
# Record a deploy run in ops.deployments (a workflow step; `tools.ops_record deployment` as the recorder login).
#
#   STACK LIVE_BEFORE [FLIP_COLOR FLIPPED_BACK] VERSION [WEB_SHA ETL_DIGEST SMOKE E2E] OUTCOME STARTED_AT RUN_URL
#   [STACK_FILE, default Pulumi.$STACK.yaml]
#
# One row for the run: the colour it left serving (FLIP_COLOR after a flip, else LIVE_BEFORE) with its
# outcome, the release's web SHA and image digest, and the smoke and e2e results (what tools.release_gate
# reads). When the flip was rolled back (FLIPPED_BACK=success), two events: the flip to FLIP_COLOR with
# status rolled_back, and the flip back to LIVE_BEFORE. A failed write never fails the job
# (tools.ops_record warns and sets recorded=false). A row names what the colour runs (web SHA, image
# digest): when the run carries no release (a flip, a flip back, an infrastructure deploy), they are read
# from the stack file with `tools.release --describe`; a colour running nothing pinned is not recorded
# (a warning, recorded=false: there is nothing the release gate could match).
set -euo pipefail
python="${PYTHON:-.venv/bin/python}"
common=(--environment "$STACK" --git-sha "$GITHUB_SHA" --actor "deploy-${STACK}" --started-at "$STARTED_AT")
if [ -n "${RUN_URL:-}" ]; then common+=(--run-url "$RUN_URL"); fi
release=(--release "$VERSION")
if [ -n "${WEB_SHA:-}" ]; then release+=(--web-sha "$WEB_SHA"); fi
if [ -n "${ETL_DIGEST:-}" ]; then release+=(--etl-digest "$ETL_DIGEST"); fi
if [ -n "${SMOKE:-}" ]; then release+=(--smoke "$SMOKE"); fi
if [ -n "${E2E:-}" ]; then release+=(--e2e "$E2E"); fi

stack_file="${STACK_FILE:-Pulumi.${STACK}.yaml}"

# what COLOR runs, as ops_record options (from the stack file); empty when nothing is pinned
runs_of() {
  local described web etl
  described="$("$python" -m tools.release --stack-file "$stack_file" --describe "$1")"
  web="$(sed -n 's/^web-sha=//p' <<<"$described")"
  etl="$(sed -n 's/^etl-digest=//p' <<<"$described")"
  if [ -n "$web" ]; then printf '%s\n' --web-sha "$web"; fi
  if [ -n "$etl" ]; then printf '%s\n' --etl-digest "$etl"; fi
}

record() {  # COLOR STATUS RELEASE-OPTIONS...
  local color="$1" status="$2"
  shift 2
  if [ "$#" -eq 0 ] || ! printf '%s\n' "$@" | grep -Eq '^--(web-sha|etl-digest)$'; then
    echo "::warning::ops record: ${color} runs no pinned web SHA or image digest: deployment not recorded"
    echo "recorded=false" >> "${GITHUB_OUTPUT:-/dev/null}"
    return 0
  fi
  "$python" -m tools.ops_record deployment "${common[@]}" --color "$color" --status "$status" "$@"
}

if [ -z "${WEB_SHA:-}${ETL_DIGEST:-}" ]; then
  mapfile -t pinned < <(runs_of "${FLIP_COLOR:-$LIVE_BEFORE}")
  release+=("${pinned[@]}")
fi
if [ -n "${FLIP_COLOR:-}" ] && [ "${FLIPPED_BACK:-}" = "success" ]; then
  record "$FLIP_COLOR" rolled_back "${release[@]}"
  mapfile -t back < <(runs_of "$LIVE_BEFORE")
  record "$LIVE_BEFORE" succeeded --release "rollback-to-${LIVE_BEFORE}" "${back[@]}"
  exit 0
fi
if [ "$OUTCOME" = "success" ]; then status=succeeded; else status=failed; fi
record "${FLIP_COLOR:-$LIVE_BEFORE}" "$status" "${release[@]}"
