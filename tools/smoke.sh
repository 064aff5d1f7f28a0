#!/usr/bin/env bash
# Smoke checks after a deploy: every URL must answer with an expected HTTP status, within a bounded
# number of tries (a fresh alias or a rolling pod can take a moment to answer).
#
#   tools/smoke.sh [--attempts N] [--delay SECONDS] [--timeout SECONDS] URL... [--expect CODES URL...]...
#
# --expect sets the accepted statuses for the URLs after it: a comma list of codes (200) or classes
# (2xx); the default is 2xx,3xx (redirects are not followed: a redirect proves the app answers).
# Example: tools/smoke.sh "$LIVE_URL" "$IDLE_URL" --expect 200,401 "https://$REF.supabase.co/rest/v1/"
#
# Only the status code is read; response bodies are discarded. URLs are printed without their query
# string and user info, so a token carried in a URL never reaches the log.
# Exit status: 0 all answered as expected, 1 some did not, 2 usage error (an empty or non-HTTP URL,
# as when a stack output the caller reads is missing).
set -euo pipefail

attempts=10
delay=15
timeout=10
expect="2xx,3xx"
checks=()   # "expect|url" pairs, checked in order

usage() {
  echo "smoke: $1" >&2
  echo "usage: tools/smoke.sh [--attempts N] [--delay SECONDS] [--timeout SECONDS] URL... [--expect CODES URL...]" >&2
  exit 2
}

# The URL as it may be logged: no user info, no query string, no fragment.
printable() {
  local url="${1%%[?#]*}"
  local scheme="${url%%://*}" rest="${url#*://}"
  local host_and_path="${rest#*@}"
  [ "$host_and_path" = "$rest" ] || rest="$host_and_path"
  printf '%s://%s' "$scheme" "$rest"
}

# Whether a status code matches a comma list of codes and classes (2xx).
accepted() {
  local code="$1" item
  local IFS=,
  for item in $2; do
    case "$item" in
      [1-5]xx) [ "${code:0:1}" = "${item:0:1}" ] && [ "$code" != "000" ] && return 0 ;;
      *) [ "$code" = "$item" ] && return 0 ;;
    esac
  done
  return 1
}

is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_positive() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }

while [ $# -gt 0 ]; do
  case "$1" in
    --attempts) is_positive "${2:-}" || usage "--attempts needs a number >= 1"; attempts="$2"; shift 2 ;;
    --delay) is_count "${2:-}" || usage "--delay needs a number of seconds"; delay="$2"; shift 2 ;;
    --timeout) is_positive "${2:-}" || usage "--timeout needs a number >= 1"; timeout="$2"; shift 2 ;;
    --expect)
      [[ "${2:-}" =~ ^([1-5]xx|[1-5][0-9][0-9])(,([1-5]xx|[1-5][0-9][0-9]))*$ ]] || usage "--expect needs codes like 200,401 or 2xx"
      expect="$2"; shift 2 ;;
    -*) usage "unknown option $1" ;;
    "") usage "an empty URL (is the stack output it comes from exported?)" ;;
    http://*|https://*) checks+=("$expect|$1"); shift ;;
    *) usage "not an http(s) URL: $(printable "$1")" ;;
  esac
done
[ ${#checks[@]} -gt 0 ] || usage "no URL to check"

# One request: prints the status code (000 when there was no HTTP answer at all).
status_of() {
  curl --silent --output /dev/null --write-out '%{http_code}' --max-time "$timeout" \
    --proto '=http,https' --user-agent 'kingtavo-smoke/1' "$1" || true
}

failed=0
for check in "${checks[@]}"; do
  want="${check%%|*}" url="${check#*|}"
  shown="$(printable "$url")"
  ok=0
  for ((try = 1; try <= attempts; try++)); do
    code="$(status_of "$url")"
    if accepted "$code" "$want"; then
      echo "smoke: ok $code $shown"
      ok=1
      break
    fi
    echo "smoke: try $try/$attempts: $shown answered $code (want $want)"
    [ "$try" -lt "$attempts" ] && sleep "$delay"
  done
  [ "$ok" -eq 1 ] || { echo "smoke: FAILED $shown"; failed=1; }
done
exit "$failed"
