#!/usr/bin/env bash
# Commit a flip's colour to main through a pull request (the deploy workflows' record-color job).
#
#   GH_TOKEN=... STACK=staging|production NEW_COLOR=blue|green tools/record_color.sh
#
# Until it merges, main disagrees with the stack and full deploys refuse (tools/deploy_color.sh); after it,
# the next full `pulumi up` is a no-op for routing. Through the API, so no git credentials are kept.
set -euo pipefail
file="Pulumi.${STACK}.yaml"
case "$NEW_COLOR" in blue|green) ;; *) echo "::error::NEW_COLOR must be blue or green" >&2; exit 2 ;; esac
sed -i -E "s/^([[:space:]]*kingtavo:activeColor:).*$/\1 ${NEW_COLOR}/" "$file"
grep -Eq "^[[:space:]]*kingtavo:activeColor: ${NEW_COLOR}$" "$file"
branch="${STACK}-active-color/${NEW_COLOR}-${GITHUB_RUN_ID}"
run_url="${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}"
gh api "repos/${GITHUB_REPOSITORY}/git/refs" -f ref="refs/heads/${branch}" -f sha="$(git rev-parse HEAD)" >/dev/null
gh api --method PUT "repos/${GITHUB_REPOSITORY}/contents/${file}" \
  -f message="${STACK}: activeColor ${NEW_COLOR} (flipped by run ${GITHUB_RUN_ID})" \
  -f content="$(base64 -w0 "$file")" \
  -f sha="$(git rev-parse "HEAD:${file}")" -f branch="${branch}" >/dev/null
gh pr create --repo "${GITHUB_REPOSITORY}" --base main --head "${branch}" \
  --title "${STACK}: activeColor ${NEW_COLOR}" \
  --body "${STACK} has served ${NEW_COLOR} since ${run_url}. Merge this so main says so too: until then, deploys of ${STACK} without active-color refuse to run. The workflow token opened this pull request, so close and reopen it to run the checks."
