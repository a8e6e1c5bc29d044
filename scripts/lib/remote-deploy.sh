# The remote side of rolling-deploy over ssh: sent on ssh's standard input to a fixed `bash -s`,
# followed by the line `remote_deploy_main`, then NUL-separated fields and the WAR's bytes:
#   1, AGENT_DIR (may be empty), WAR_NAME, WAR_SIZE, N, N deploy-war arguments, WAR bytes.
# No shell ever parses an inventory value: ssh's command line is a constant, and the values
# arrive as data read into an array (bash reads a script from a pipe a byte at a time, so the
# fields after it are left for `read`).
#
# deploy-war runs detached from the ssh session (its own session, output to a log) so that a lost
# connection does not kill it mid-step; its record, a mktemp folder .rolling-deploy.XXXXXXXXXX in
# CATALINA_BASE/deploy-history, holds the WAR, the log, the lock it holds while it runs and its
# exit status. The next run finds a record left behind and says how that deploy ended.
# shellcheck shell=bash

REMOTE_PROG="rolling-deploy@$(uname -n)"
rlog() { printf '%s: %s\n' "$REMOTE_PROG" "$*" >&2; }
rdie() { rlog "error: $*"; exit "${2:-1}"; }

# read_fields COUNT: appends COUNT NUL-terminated fields from standard input to FIELDS.
read_fields() {
  local n="$1" field
  while [ "$n" -gt 0 ]; do
    IFS= read -r -d '' field || rdie "the request ended early (the connection was lost?); nothing changed here"
    FIELDS+=("$field")
    n=$((n - 1))
  done
}

# find_deploy_war AGENT_DIR: sets DEPLOY_WAR; without AGENT_DIR, the Debian package's place, then
# the one the Ansible role and the npm package use.
find_deploy_war() {
  local dir
  for dir in ${1:+"$1"} ${1:-/usr/lib/tomcat-health-agent /opt/tomcat-health-agent}; do
    if [ -x "$dir/scripts/deploy-war" ]; then DEPLOY_WAR="$dir/scripts/deploy-war"; return 0; fi
  done
  rdie "no scripts/deploy-war in ${1:-/usr/lib/tomcat-health-agent (the Debian package) or /opt/tomcat-health-agent}: install the package there, or set agent-dir= in the inventory"
}

# catalina_base ARG...: sets REPLY to the CATALINA_BASE deploy-war will use (its own default).
catalina_base() {
  REPLY="${CATALINA_BASE:-/var/lib/tomcat10}"
  while [ $# -gt 0 ]; do
    if [ "$1" = --catalina-base ] && [ $# -gt 1 ]; then REPLY="$2"; shift; fi
    shift
  done
}

# last_step RECORD: sets REPLY to the last step deploy-war logged in RECORD.
last_step() {
  local line
  REPLY="before its first step"
  [ -r "$1/log" ] || return 0
  while IFS= read -r line; do
    case "$line" in *"deploy-war: step: "*) REPLY="${line#*deploy-war: step: }" ;; esac
  done <"$1/log"
}

exit_meaning() {
  case "$1" in
    0) REPLY="deployed" ;;
    3) REPLY="the new version failed and the previous one is back and serving" ;;
    4) REPLY="the new version failed and so did the rollback: the server is left down" ;;
    5) REPLY="the new version failed the canary gate and the previous one is back and serving" ;;
    *) REPLY="failed" ;;
  esac
}

# check_previous HISTORY: says what a record left by an earlier run (whose connection was lost)
# shows; returns when this run may go on, exits when it must not.
check_previous() {
  local record rc started
  shopt -s nullglob
  local records=("$1"/.rolling-deploy.*/)
  shopt -u nullglob
  for record in "${records[@]}"; do
    record="${record%/}"
    started="$(cat "$record/started" 2>/dev/null || echo "at an unknown time")"
    last_step "$record"
    if [ -f "$record/exit" ]; then
      rc="$(<"$record/exit")"
      exit_meaning "$rc"
      rlog "a previous deploy here (started $started) lost its connection and ended on its own: exit $rc, $REPLY; its log:"
      sed 's/^/  | /' "$record/log" >&2 || true
      rm -rf -- "$record"
      [ "$rc" = 0 ] || rdie "this host is not deployed by this run: check it (agentctl status), then run rolling-deploy again (the record is cleared)"
    elif ! flock -n "$record/lock" true 2>/dev/null; then
      rdie "a previous deploy is still running here (started $started, pid $(cat "$record/pid" 2>/dev/null || echo ?), now at: $REPLY; log $record/log): wait for it to end, then run rolling-deploy again"
    else
      rdie "a previous deploy here (started $started) stopped at: $REPLY, without finishing (its process is gone; log $record/log): check the host (agentctl status; deploy-war --rollback if needed), then remove $record and run rolling-deploy again"
    fi
  done
}

# receive_war RECORD FILE SIZE: the WAR's bytes from standard input into FILE; on failure, says so
# and removes RECORD (nothing else was changed yet).
receive_war() {
  local got=0 problem=
  if ! head -c "$3" >"$2"; then
    problem="copying the WAR to $2 failed (see above)"
  else
    got="$(stat -c %s "$2")"
    [ "$got" = "$3" ] || problem="copying the WAR failed: $got of $3 bytes arrived (the connection was lost?)"
  fi
  [ -z "$problem" ] && return 0
  rm -rf -- "$1"
  rdie "$problem; nothing changed here"
}

# The detached part, run by bash -c with RECORD and the deploy-war command as its arguments: it
# inherits the record's lock (descriptor 9, taken when the record was made, so that a run beside
# this one never sees a record without a live owner) and holds it while deploy-war runs, then
# writes its exit status (renamed into place, so that a reader never sees half of it) and drops
# the WAR copy. deploy-war gets no copy of descriptor 9: a Tomcat it starts must not hold the
# lock for its whole life.
# shellcheck disable=SC2016 # expanded by that bash, not this one
DETACHED='record="$1"; shift
echo "$$" >"$record/pid"
rc=0; "$@" 9>&- || rc=$?
rm -f -- "$record/war/"*
echo "$rc" >"$record/exit.new" && mv "$record/exit.new" "$record/exit"'

remote_deploy_main() {
  FIELDS=()
  read_fields 5
  [ "${FIELDS[0]}" = 1 ] || rdie "unknown request format '${FIELDS[0]}': update tomcat-health-agent on the controller or here"
  local agent_dir="${FIELDS[1]}" war_name="${FIELDS[2]}" war_size="${FIELDS[3]}" count="${FIELDS[4]}"
  [[ "$count" =~ ^[0-9]+$ && "$war_size" =~ ^[0-9]+$ ]] || rdie "a malformed request; nothing changed here"
  FIELDS=()
  read_fields "$count"
  local args=("${FIELDS[@]}")
  find_deploy_war "$agent_dir"
  catalina_base "${args[@]}"
  local base="$REPLY"
  [ -d "$base/webapps" ] || rdie "no webapps folder in the Tomcat instance '$base' (see catalina-base= in the inventory); nothing changed here" 2

  local history="$base/deploy-history" record
  mkdir -p "$history" || rdie "cannot make $history"
  check_previous "$history"
  record="$(mktemp -d "$history/.rolling-deploy.XXXXXXXXXX")" || rdie "cannot make a folder in $history"
  exec 9>"$record/lock" || rdie "cannot open $record/lock"
  flock -n 9 || rdie "cannot lock $record/lock"
  printf '%(%F %T %Z)T\n' -1 >"$record/started"
  mkdir "$record/war" || rdie "cannot make a folder in $record"
  receive_war "$record" "$record/war/$war_name" "$war_size"
  : >"$record/log"
  setsid bash -c "$DETACHED" deploy "$record" "$DEPLOY_WAR" --war "$record/war/$war_name" "${args[@]}" </dev/null >>"$record/log" 2>&1 &
  local pid=$!
  # From now on only the detached part holds the lock: it outlives this session.
  exec 9>&-
  # Follows the log until deploy-war's process ends (polled every 0.1 s by tail).
  tail -n +1 -s 0.1 --pid="$pid" -f "$record/log" >&2
  [ -f "$record/exit" ] || rdie "deploy-war ended without an exit status (killed?); its record: $record"
  local rc
  rc="$(<"$record/exit")"
  rm -rf -- "$record"
  exit "$rc"
}
