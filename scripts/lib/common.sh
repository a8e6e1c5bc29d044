# Shared by the deploy scripts: messages, step timing and how to call agentctl.
# shellcheck shell=bash

# Paths from parameter expansion, not dirname: a roll starts these scripts several times a host,
# between one host's ready and the next one's drain, and under load every process started counts.
SCRIPTS_DIR="${BASH_SOURCE[0]%/lib/common.sh}"
[[ "$SCRIPTS_DIR" == /* ]] || SCRIPTS_DIR="$PWD/$SCRIPTS_DIR"
PROG="${PROG:-${0##*/}}"

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit "${DIE_CODE:-1}"; }
usage_error() { log "$*"; log "see $PROG --help"; exit 2; }

# now_us: sets REPLY to the microseconds since the epoch. bash 5's EPOCHREALTIME needs no process:
# timing a step used to cost four (date and awk, twice), tens of milliseconds a host.
now_us() {
  if [ -n "${EPOCHREALTIME:-}" ]; then REPLY="${EPOCHREALTIME/[.,]/}"; else REPLY="$(date +%s%6N)"; fi
}
# seconds_since START_US: sets REPLY to the seconds since START_US (from now_us), two decimals.
seconds_since() {
  local start="$1" us
  now_us
  us=$((REPLY - start))
  printf -v REPLY '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000))
}

# step NAME CMD...: runs CMD, printing the step and how long it took; returns CMD's exit code.
step() {
  local name="$1"; shift
  local started rc=0
  now_us; started=$REPLY
  log "step: $name"
  "$@" || rc=$?
  step_ended "$name" "$rc" "$started"
  return "$rc"
}

# step_ended NAME RC START_US: the line that ends step NAME, begun at START_US (from now_us).
step_ended() {
  seconds_since "$3"
  if [ "$2" -eq 0 ]; then
    log "done: $1 ($REPLY s)"
  else
    log "FAILED: $1 (exit $2, after $REPLY s)"
  fi
}

# find_agentctl EXIT_CODE: sets AGENTCTL_CMD (an array, so that a path with spaces stays one word)
# to the agentctl of this checkout or npm package (dist/bin), or of the Debian package these
# scripts came with (PREFIX/lib/tomcat-health-agent/scripts: PREFIX/bin/agentctl, whatever PATH
# says), or the one on PATH.
# Call it directly, not in $(...): when none is found the script itself must stop, with EXIT_CODE.
# shellcheck disable=SC2034 # AGENTCTL_CMD is read by the scripts that source this file
find_agentctl() {
  if [ -n "${AGENTCTL:-}" ]; then
    read -r -a AGENTCTL_CMD <<<"$AGENTCTL"
  elif [ -f "$SCRIPTS_DIR/../dist/bin/agentctl.mjs" ]; then
    AGENTCTL_CMD=(node "$SCRIPTS_DIR/../dist/bin/agentctl.mjs")
  elif [[ "$SCRIPTS_DIR" == */lib/tomcat-health-agent/scripts ]] && [ -x "${SCRIPTS_DIR%/lib/tomcat-health-agent/scripts}/bin/agentctl" ]; then
    AGENTCTL_CMD=("${SCRIPTS_DIR%/lib/tomcat-health-agent/scripts}/bin/agentctl")
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
