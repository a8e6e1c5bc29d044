import { lbLine, lbName } from '../protocol/render.js'
import type { Confirmation, WaitEvent } from '../protocol/status.js'

/** Without a terminal, a progress line at most this often (a log, not an animation). */
export const PLAIN_PROGRESS_EVERY_MS = 5000

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`
}

/** What is left that is not a load balancer's own line: missing expected ones, Tomcat, the agent's start. */
function otherBlockers(c: Confirmation): string[] {
  const lines = c.missing
    .filter((name) => !c.loadBalancers.some((lb) => lb.lb === name))
    .map((name) => `${name.padEnd(24)} expected, has not checked`)
  if (c.tomcat) {
    const t = c.tomcat
    lines.push(
      `${'tomcat'.padEnd(24)} busy=${t.busyThreads ?? '?'} sessions=${t.sessions ?? '?'}${t.maxSessions === null ? '' : `/${t.maxSessions}`}  ${t.confirmed ? 'ok' : `waiting: ${t.why}`}`,
    )
  }
  if (c.loadBalancers.length === 0 && c.missing.length === 0 && c.why) lines.push(c.why)
  return lines
}

/** The block redrawn on a terminal: a heading and one line per load balancer. */
export function ttyBlock(event: WaitEvent, limits: string, extraAgeMs = 0): string[] {
  const c = event.confirmation
  const heading = `waiting for ${event.goal}: ${seconds(event.elapsedMs + extraAgeMs)}${limits}`
  if (!c) return [heading]
  return [heading, ...c.loadBalancers.map((lb) => `  ${lbLine(lb, extraAgeMs)}`), ...otherBlockers(c).map((l) => `  ${l}`)]
}

/** One line for a log: `[6.0s] waiting for drained: lb1 be/s1 NOLB scur=1 (0.1s ago); lb2 ...` */
export function plainLine(event: WaitEvent): string {
  const c = event.confirmation
  const lbs = c?.loadBalancers.map(
    (lb) =>
      `${lbName(lb)} ${lb.status}${lb.scur === null ? '' : ` scur=${lb.scur}`} (${seconds(lb.ageMs)} ago${lb.stale ? ', stale' : ''})`,
  )
  const rest = c ? otherBlockers(c) : []
  return `[${seconds(event.elapsedMs)}] waiting for ${event.goal}: ${[...(lbs ?? []), ...rest].join('; ') || 'no load balancer seen'}`
}

/** Redraws a block of lines in place on a terminal. */
export class TtyPainter {
  private height = 0
  constructor(private readonly out: NodeJS.WriteStream) {}

  paint(lines: string[]): void {
    const width = Math.max(20, (this.out.columns || 120) - 1)
    const up = this.height > 0 ? `\x1b[${this.height}A\r` : ''
    this.out.write(`${up}\x1b[J${lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l)).join('\n')}\n`)
    this.height = lines.length
  }
}

/** How a wait ended, for people: what is confirmed, or what is still in the way. */
export function outcomeMessage(event: WaitEvent, action: string): string {
  const c = event.confirmation
  const after = seconds(event.elapsedMs)
  // One-offs are listed with the load balancers but confirm nothing: not named among those that did.
  const fresh = c?.loadBalancers.filter((lb) => !lb.stale && !lb.oneOff) ?? []
  switch (event.outcome) {
    case 'confirmed':
      if (c?.noLoadBalancer)
        return `${event.goal}: no load balancer checks this server (none seen since the agent started, none expected): nothing to drain or confirm`
      return `${event.goal}: confirmed by ${fresh.length} load balancer${fresh.length === 1 ? '' : 's'} after ${after}${fresh.length ? ` (${fresh.map((lb) => `${lbName(lb)} ${lb.status}${lb.scur === null ? '' : ` scur=${lb.scur}`}`).join(', ')})` : ''}`
    case 'timeout':
      return `${event.goal} not confirmed within ${after}; the server stays ${action === 'drain' ? 'drained' : action}: ${c?.why ?? 'unknown'}`
    case 'forced':
      return `WARNING: ${event.goal} NOT confirmed after ${after}; going on anyway because of --force-after: ${c?.why ?? 'unknown'}`
    case 'state-changed':
      return `the admin state changed to ${event.state ?? 'unknown'} while waiting for ${event.goal}; stopped waiting`
    case 'closing':
      return `the agent is shutting down; ${event.goal} was not confirmed`
    default:
      return `the wait for ${event.goal} ended: ${event.outcome ?? 'unknown'}`
  }
}
