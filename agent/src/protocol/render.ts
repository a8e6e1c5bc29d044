import { describeTomcat } from './render-tomcat.js'
import type { AgentStatus, LbProgress } from './status.js'

/** One renderer of the status as text: `agentctl status` and the health listener's `/` show the same lines. */

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`
}

export function lbName(lb: LbProgress): string {
  return lb.server ? `${lb.lb} ${lb.server}` : lb.lb
}

/** `lb1 be/s1  NOLB  scur=1 qcur=0  checked 0.2s ago  waiting: NOLB with 1 session in flight` */
export function lbLine(lb: LbProgress, extraAgeMs = 0): string {
  const numbers = lb.scur === null ? 'no send-state' : `scur=${lb.scur} qcur=${lb.qcur}`
  const verdict = lb.confirmed ? 'ok' : lb.stale && !lb.expected ? 'stale, ignored' : `waiting: ${lb.why}`
  return `${lbName(lb).padEnd(24)} ${lb.status.padEnd(13)} ${numbers.padEnd(16)} checked ${seconds(lb.ageMs + extraAgeMs)} ago  ${verdict}`
}

function describeLoadBalancers(status: AgentStatus): string[] {
  const lbs = status.loadBalancers
  const c = lbs?.confirmation
  if (!c) return []
  const settings = `stale after ${lbs.staleAfterMs / 1000}s${lbs.expected.length ? `, expected ${lbs.expected.join(', ')}` : ''}`
  const lines = [`lbs         ${c.goal} ${c.confirmed ? 'confirmed' : 'not confirmed'} (${settings})`]
  for (const lb of c.loadBalancers) lines.push(`  ${lbLine(lb)}`)
  if (c.omitted > 0) lines.push(`  and ${c.omitted} more not shown (expected ones first, then those in the way, then those counted)`)
  for (const name of c.missing)
    if (!c.loadBalancers.some((lb) => lb.lb === name)) lines.push(`  ${name.padEnd(24)} expected, has not checked`)
  if (!c.confirmed && c.loadBalancers.length === 0) lines.push(`  ${c.why}`)
  return lines
}

function weightWhy(w: AgentStatus['weight']): string {
  switch (w.source) {
    case 'override': {
      const o = w.override
      return `override${o?.until ? ` until ${o.until}` : ' until cleared'}${o?.by ? ` by ${o.by}` : ''}${o?.reason ? `: ${o.reason}` : ''}`
    }
    case 'ramp':
      return w.ramp
        ? `ramp step ${w.ramp.step}/${w.ramp.steps}, ${Math.round(w.ramp.progress * 100)}% of the way, 100% at ${w.ramp.endsAt}`
        : 'ramp'
    case 'ramp-pending':
      return `not ready: a return to ready starts a ramp at ${w.settings.startPercent}%`
    default:
      return 'full'
  }
}

/** The status lines about the weight and the agent check (absent from agents that predate them). */
export function describeWeight(status: AgentStatus): string[] {
  const w = status.weight
  const a = status.agentCheck
  if (!w || !a) return []
  const lines = [`weight      ${w.percent}% (${weightWhy(w)})`]
  if (w.source === 'override' && w.ramp)
    lines.push(`            a ramp is under way behind the override: step ${w.ramp.step}/${w.ramp.steps}`)
  if (!w.file.ok) lines.push(`            weight file problem: ${w.file.problem}`)
  lines.push(
    a.listen
      ? `agent check ${a.listen} answers "${a.reply}"`
      : 'agent check off (--agent-check-listen); the HTTP check cannot carry a weight',
  )
  return lines
}

/** The whole status as aligned text lines, ending with a line break. */
export function renderStatus(status: AgentStatus): string {
  const e = status.effective
  const lines = [`effective   ${e.state} (HTTP ${e.httpStatus})${e.why ? `  because ${e.why}` : ''}`]
  if (status.admin) {
    const a = status.admin
    lines.push(
      `admin       ${a.state} since ${a.since}${a.until ? ` until ${a.until}` : ''}${a.by ? ` by ${a.by}` : ''}${a.reason ? `: ${a.reason}` : ''}`,
    )
  } else {
    lines.push('admin       unknown (no valid state file read yet)')
  }
  for (const [label, text] of describeTomcat(status.tomcat)) lines.push(`${label.padEnd(11)} ${text}`)
  const problem = status.stateFile.problem
  lines.push(
    `state file  ${status.stateFile.path}: ${problem ? `${problem.kind} since ${problem.since}: ${problem.message} (last good state kept)` : 'ok'}`,
  )
  lines.push(`check path  ${status.checkPath} (metrics on /metrics)`)
  lines.push(...describeLoadBalancers(status))
  lines.push(...describeWeight(status))
  lines.push(`agent       ${status.agent.name} ${status.agent.version} (node ${status.agent.node}, pid ${status.agent.pid})`)
  return `${lines.join('\n')}\n`
}

export { publicStatus } from './public-status.js'
