#!/usr/bin/env bash
# Flip (or flip back) live traffic in constant time: a `pulumi up` targeted at exactly the routing resources.
#
#   tools/flip.sh STACK COLOR "MESSAGE"        (STACK staging|production, COLOR blue|green)
#
# The targets are the URNs `python -m tools.plan --stack STACK --routing-urns` prints (the ETL's live and
# preview Services, the Vercel live and idle aliases: the only resources whose inputs read activeColor);
# anything but exactly four is refused. The color is set the way the program reads it, with
# `pulumi config set kingtavo:activeColor COLOR` in this checkout's stack file (the runner's copy; the
# workflow's record-color job commits it to main through a pull request, so the next full `pulumi up` is
# a no-op for routing). No --target-dependents: nothing in the program depends on the four routing
# resources (tests/test_release_train.py proves it on the plan), so a flip never waits on, fails on or
# changes anything else in a stack that may be drifting or half-broken. No policy pack: the full
# `pulumi up` before it judged both colors' resources, and the flip changes only which one serves.
# Glue around two CLI calls, in bash like the workflow steps it replaces.
set -euo pipefail

if [ "$#" -ne 3 ]; then
  echo "usage: tools/flip.sh STACK COLOR MESSAGE" >&2
  exit 2
fi
stack="$1" color="$2" message="$3"
case "$stack" in staging|production) ;; *) echo "flip: STACK must be staging or production, got '${stack}'" >&2; exit 2 ;; esac
case "$color" in blue|green) ;; *) echo "flip: COLOR must be blue or green, got '${color}'" >&2; exit 2 ;; esac

python="${PYTHON:-.venv/bin/python}"
urns="$("$python" -m tools.plan --stack "$stack" --routing-urns)"
mapfile -t targets <<<"$urns"
if [ "${#targets[@]}" -ne 4 ] || [ -z "${targets[0]}" ]; then
  echo "::error::tools.plan --routing-urns printed ${#targets[@]} URNs for ${stack}, expected exactly 4: not flipping"
  exit 1
fi
args=()
for urn in "${targets[@]}"; do
  args+=(--target "$urn")
done

pulumi config set --stack "kingtavo/kingtavo/${stack}" kingtavo:activeColor "$color"
echo "flip: ${stack} -> ${color}, targets:"
printf '  %s\n' "${targets[@]}"
pulumi up --stack "kingtavo/kingtavo/${stack}" --yes --skip-preview --non-interactive \
  --message "$message" "${args[@]}"
