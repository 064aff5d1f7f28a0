#!/usr/bin/env bash
# The system tools `make test` needs, checked before anything runs (shared by `make test` and .ci/run).
#
#   tools/system-deps.sh            check; as root with apt-get, install what is missing; otherwise print one
#                                   line naming what is missing and the command that installs it, and exit 1
#   tools/system-deps.sh --check    only check (never install)
#   tools/system-deps.sh --list     print the Debian packages this script knows, one a line
#
# Each entry: <Debian package> <how to tell it is there>. Add a tool here, not in the Makefile or .ci/run.
set -euo pipefail

PG_SHARE=/usr/share/postgresql/15/extension
checks=(
  "postgresql-15|test -x /usr/lib/postgresql/15/bin/initdb"
  "postgresql-client-15|command -v psql"
  "postgresql-15-pgtap|test -f $PG_SHARE/pgtap.control"
  "libtap-parser-sourcehandler-pgtap-perl|command -v pg_prove"
  "postgresql-15-plpgsql-check|test -f $PG_SHARE/plpgsql_check.control"
  "prometheus|command -v promtool"
  "prometheus-alertmanager|command -v amtool"
  "graphviz|command -v dot"
  "chromium|test -x /usr/bin/chromium"
  "util-linux|command -v runuser"
  "make|command -v make"
  "curl|command -v curl"
  "nodejs|command -v node"
  "npm|command -v npm"
  "python3-pip|${PYTHON:-python3} -m pip --version"
)

mode=${1:-auto}
case "$mode" in
  auto|--check|--list) ;;
  *) echo "usage: tools/system-deps.sh [--check|--list]" >&2; exit 2 ;;
esac

missing=()
for entry in "${checks[@]}"; do
  package=${entry%%|*}
  if [ "$mode" = --list ]; then echo "$package"; continue; fi
  "$BASH" -c "${entry#*|}" >/dev/null 2>&1 || missing+=("$package")
done
[ "$mode" = --list ] && exit 0
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$mode" = auto ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exec "$0" --check  # installed means found now
fi

echo "missing system tools: ${missing[*]} (Debian/Ubuntu: sudo apt-get install -y ${missing[*]}; or run tools/system-deps.sh as root)" >&2
exit 1
