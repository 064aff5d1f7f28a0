#!/usr/bin/env bash
# The deploy workflows' colour decision (a workflow step: `bash tools/deploy_color.sh`).
#
#   STACK_FILE=Pulumi.production.yaml PULUMI_STACK=kingtavo/kingtavo/production REQUESTED=unchanged|blue|green
#
# Reads the committed colour (the stack file's kingtavo:activeColor) and the live one (the stack's
# `liveColor` output) and writes to $GITHUB_OUTPUT: committed, live, target, mode and config-map.
# - REQUESTED=unchanged: mode=deploy, the full `pulumi up` keeps the committed colour live
#   (config-map). Refused while production serves another colour than main says (a flip whose
#   pull request has not merged), so a deploy never silently undoes a flip or a rollback.
# - REQUESTED=blue|green: mode=flip, a manual flip or rollback: only the targeted flip runs
#   (tools/flip.sh), no update, no migrations. Asking for the colour already live is refused.
# Also writes started-at (UTC, for the ops record). Glue in bash: it was this step's inline script.
set -euo pipefail

committed="$(sed -n -E 's/^[[:space:]]*kingtavo:activeColor:[[:space:]]*([a-z]+)[[:space:]]*$/\1/p' "$STACK_FILE")"
live="$(pulumi stack output --json --stack "$PULUMI_STACK" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin).get("liveColor", ""))')"
echo "committed colour: ${committed:-none}; live colour: ${live:-none yet}; requested: ${REQUESTED}"
case "$committed" in
  blue|green) ;;
  *) echo "::error::${STACK_FILE} sets no valid kingtavo:activeColor"; exit 1 ;;
esac
case "$REQUESTED" in
  unchanged)
    if [ -n "$live" ] && [ "$live" != "$committed" ]; then
      echo "::error::the stack serves ${live} but main says ${committed}: merge the pending activeColor pull request, or run with active-color=${committed} to switch back on purpose"
      exit 1
    fi
    mode=deploy
    target="$committed" ;;
  blue|green)
    if [ "$REQUESTED" = "${live:-$committed}" ]; then
      echo "::error::${REQUESTED} is already live: nothing to switch"
      exit 1
    fi
    mode=flip
    target="$REQUESTED" ;;
  *) echo "::error::unknown colour ${REQUESTED}"; exit 1 ;;
esac
{
  echo "committed=${committed}"
  echo "live=${live:-$committed}"
  echo "target=${target}"
  echo "mode=${mode}"
  echo "config-map={\"kingtavo:activeColor\": {value: ${committed}, secret: false}}"
  echo "started-at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >> "$GITHUB_OUTPUT"
