# deploy-war --parallel: Tomcat's parallel deployment, driven through agentctl (which talks to the
# manager's text API and to the agent). No Tomcat restart: the new version is deployed beside the
# running one, new sessions go to it once it is warm, sticky users keep the version that made
# their session, and the old version is undeployed when its sessions end (or at a maximum age).
# shellcheck shell=bash
# The options (war, reason, agent_args, ready_timeout, retire_mode...) are deploy-war's, which sources this file.
# shellcheck disable=SC2154

# parallel_context_path NAME: sets REPLY to the context path of a context name (ROOT -> /, a#b -> /a/b).
parallel_context_path() {
  if [ "$1" = ROOT ]; then REPLY=/; else REPLY="/${1//#//}"; fi
}

# parallel_args: sets TOMCAT_ARGS to the manager flags given to deploy-war (else agentctl reads the
# agent's config and environment).
parallel_args() {
  TOMCAT_ARGS=()
  [ -z "${manager_url:-}" ] || TOMCAT_ARGS+=(--tomcat-manager-url "$manager_url")
  [ -z "${manager_credentials:-}" ] || TOMCAT_ARGS+=(--tomcat-manager-credentials-file "$manager_credentials")
}

ctl_tomcat() { "${AGENTCTL_CMD[@]}" tomcat "$@" "${TOMCAT_ARGS[@]}" "${agent_args[@]}"; }

parallel_ready() {
  "$SCRIPTS_DIR/post-deploy" --reason "$1" --ready-timeout "$ready_timeout" "${agent_args[@]}"
}

parallel_canary() { "${AGENTCTL_CMD[@]}" canary --for "$canary_for" "${canary_args[@]}" "${agent_args[@]}"; }

# The new version failed (to deploy, warm up or pass the canary): it is undeployed and the running
# version, never stopped, takes the new sessions again once the agent has it warm.
parallel_roll_back() {
  local why="$1" code="$2"
  log "$why: rolling back (nothing was restarted)"
  step "undeploy $path##$version" ctl_tomcat undeploy --path "$path" --version "$version" || log "could not undeploy $path##$version"
  if step "post-deploy" parallel_ready "rollback of $reason"; then
    DIE_CODE="$code" die "$why; the previous version serves, $path##$version is undeployed"
  fi
  DIE_CODE=4 die "$why, and the previous version did not come back to ready; the server is left drained"
}

parallel_retire() {
  local args=(retire --path "$path" --max-age "$retire_max_age")
  if [ "$retire_mode" = none ]; then
    log "the old versions stay deployed: agentctl tomcat retire --path $path undeploys them as their sessions end"
    return 0
  fi
  if [ "$retire_mode" = wait ]; then
    step "retire the old versions as their sessions end (at most $retire_max_age)" ctl_tomcat "${args[@]}" \
      || log "retire failed: the old versions stay deployed (agentctl tomcat list, agentctl tomcat retire)"
    return 0
  fi
  # Sessions can last hours: the watch goes on after this script, detached, its lines in a log.
  local retire_log="${retire_log:-$base/logs/retire-$context.log}"
  nohup setsid "${AGENTCTL_CMD[@]}" tomcat "${args[@]}" "${TOMCAT_ARGS[@]}" "${agent_args[@]}" >>"$retire_log" 2>&1 </dev/null &
  log "the old versions are retired in the background (pid $!, at most $retire_max_age): see $retire_log"
}

# The parallel roll of one host: drain (confirmed: no new session lands here while the new version
# is cold), deploy beside, warm up the new version, ready (confirmed UP), the canary if asked,
# then retire the old versions as their sessions end.
parallel_deploy() {
  parallel_context_path "$context"
  path=$REPLY
  [ -n "$version" ] || version="$(TZ=UTC date +%Y%m%dT%H%M%S)"
  parallel_args
  find_agentctl 1
  now_us
  local started_all=$REPLY drain_args=(drain --reason "$reason" --wait --timeout "$drain_timeout" "${agent_args[@]}")
  [ -z "$force_after" ] || drain_args+=(--force-after "$force_after")
  step "drain and wait until every load balancer confirms" "${AGENTCTL_CMD[@]}" "${drain_args[@]}" \
    || die "the drain was not confirmed; nothing was deployed (the server is left drained: agentctl ready undoes it)"
  if ! step "deploy $path##$version beside the running version" ctl_tomcat deploy --path "$path" --version "$version" --war "$war"; then
    if step "post-deploy" parallel_ready "$reason (not deployed)"; then
      DIE_CODE=3 die "$path##$version could not be deployed; the previous version serves"
    fi
    DIE_CODE=4 die "$path##$version could not be deployed and the server did not come back to ready; it is left drained"
  fi
  step "warm up $path##$version" ctl_tomcat wait-version --version "$version" --timeout "$ready_timeout" \
    || parallel_roll_back "$path##$version failed its warm-up" 3
  step "post-deploy" parallel_ready "$reason" || parallel_roll_back "$path##$version did not come to ready" 3
  if [ -n "$canary_for" ]; then
    if ! step "canary" parallel_canary; then
      step "drain and wait until every load balancer confirms" "${AGENTCTL_CMD[@]}" "${drain_args[@]}" || true
      parallel_roll_back "$path##$version failed the canary gate" 5
    fi
  fi
  parallel_retire
  seconds_since "$started_all"
  log "deployed $path##$version beside the previous version, no restart ($REPLY s)"
}
