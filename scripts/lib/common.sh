# Shared by the deploy scripts: messages, step timing and how to call agentctl.
# shellcheck shell=bash

SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROG="${PROG:-$(basename "$0")}"

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit "${DIE_CODE:-1}"; }
usage_error() { log "$*"; log "see $PROG --help"; exit 2; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# step NAME CMD...: runs CMD, printing the step and how long it took; returns CMD's exit code.
step() {
  local name="$1"; shift
  local started rc=0
  started=$(now)
  log "step: $name"
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then
    log "done: $name ($(elapsed "$started") s)"
  else
    log "FAILED: $name (exit $rc, after $(elapsed "$started") s)"
  fi
  return "$rc"
}

# find_agentctl EXIT_CODE: sets AGENTCTL_CMD (an array, so that a path with spaces stays one word)
# to the agentctl of this checkout (built), or of the installed package, or the one on PATH.
# Call it directly, not in $(...): when none is found the script itself must stop, with EXIT_CODE.
# shellcheck disable=SC2034 # AGENTCTL_CMD is read by the scripts that source this file
find_agentctl() {
  if [ -n "${AGENTCTL:-}" ]; then
    read -r -a AGENTCTL_CMD <<<"$AGENTCTL"
  elif [ -f "$SCRIPTS_DIR/../dist/bin/agentctl.mjs" ]; then
    AGENTCTL_CMD=(node "$SCRIPTS_DIR/../dist/bin/agentctl.mjs")
  elif command -v agentctl >/dev/null 2>&1; then
    AGENTCTL_CMD=(agentctl)
  else
    DIE_CODE="$1" die "agentctl not found (PATH=$PATH): install the package, build this checkout (npm ci), or set AGENTCTL"
  fi
}

# need_value FLAG VALUE: a flag that takes a value was given none.
need_value() { [ -n "${2:-}" ] || usage_error "$1 needs a value"; }

# is_number VALUE: a whole or decimal number of seconds.
is_number() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
