import type { AgentStatus, Cause, ProbeResult, TomcatStatus, Verdict } from './status.js'

/**
 * What anyone who reaches the health listener may read (`--page-detail public`, the default): the
 * states, the numbers and the load balancers, but no operator's words (who, reason, weight reason,
 * the agent check's `#description`), no file path and no error text (they name hosts, users,
 * paths, tickets). Every public route (the check's body, `/`, the page and its events) shows
 * what these functions leave; the admin API shows everything.
 */

const ON_ADMIN = '(details on the admin API)'

/** Why the answer differs from the admin state, in words that carry nothing but the cause. */
const PUBLIC_WHY: Readonly<Record<Cause, string | null>> = {
  admin: null,
  'no-state': 'no valid admin state',
  'tomcat-down': 'tomcat probe failing',
  'tomcat-unknown': 'waiting for the first passing tomcat probe',
  warmup: 'tomcat warm-up not passed',
  returning: 'back to ready: waiting for fresh passing tomcat probes',
}

export function publicVerdict(verdict: Verdict): Verdict {
  return verdict.why === null ? verdict : { ...verdict, why: `${PUBLIC_WHY[verdict.cause] ?? verdict.cause} ${ON_ADMIN}` }
}

function publicResult(result: ProbeResult | null): ProbeResult | null {
  return result && { ...result, error: result.error === null ? null : ON_ADMIN }
}

function publicTomcat(tomcat: TomcatStatus): TomcatStatus {
  const { probe, warmup, manager } = tomcat
  return {
    probe: probe && {
      ...probe,
      pidFile: probe.pidFile === null ? null : 'the pid file',
      last: publicResult(probe.last),
      lastFailure: publicResult(probe.lastFailure),
    },
    warmup: warmup && { ...warmup, lastError: warmup.lastError === null ? null : ON_ADMIN },
    manager: manager && { ...manager, signals: { ...manager.signals, error: manager.signals.error === null ? null : ON_ADMIN } },
  }
}

function publicWeight(weight: AgentStatus['weight']): AgentStatus['weight'] {
  return {
    ...weight,
    override: weight.override && { ...weight.override, reason: null, by: null },
    file: { ...weight.file, path: 'the weight file', problem: weight.file.problem === null ? null : ON_ADMIN },
  }
}

/** The agent check's line without its `#description` (an admin reason, a weight note, an error). */
function publicReply(reply: string): string {
  const at = reply.indexOf(' #')
  return at < 0 ? reply : reply.slice(0, at)
}

export function publicStatus(status: AgentStatus): AgentStatus {
  const problem = status.stateFile.problem
  return {
    ...status,
    effective: publicVerdict(status.effective),
    admin: status.admin && { ...status.admin, by: null, reason: null },
    stateFile: {
      ...status.stateFile,
      path: 'the state file',
      problem: problem && { ...problem, message: `${problem.kind} ${ON_ADMIN}` },
    },
    auditFile: '',
    tomcat: publicTomcat(status.tomcat),
    weight: publicWeight(status.weight),
    agentCheck: { ...status.agentCheck, reply: publicReply(status.agentCheck.reply) },
  }
}
