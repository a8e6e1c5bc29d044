import type { Logger } from 'pino'
import type { Refusal, RefusedReason } from './views.js'

/** At most one log line per reason in this long: a forger sending thousands of checks must not flood the log. */
export const REFUSAL_LOG_EVERY_MS = 10_000

const WHY: Readonly<Record<RefusedReason, (r: Refusal) => string>> = {
  source: (r) =>
    `a check from ${r.source}${r.node === null ? '' : ` claiming node ${r.node}`} is outside --lb-sources: answered, not counted`,
  'node-bound': (r) =>
    `a check from ${r.source} claims node ${r.node}, which checks from ${r.boundTo}: refused (another load balancer with the same node name, or someone forging it)`,
  full: (r) =>
    `a check from ${r.source}${r.node === null ? '' : ` as node ${r.node}`} is not kept: every view (--max-lb-views) belongs to a load balancer heard from recently`,
}

/** Logs refused checks: the first of each reason at once, then one line per REFUSAL_LOG_EVERY_MS with how many more there were. */
export function refusalLogger(logger: Logger, everyMs = REFUSAL_LOG_EVERY_MS): (refusal: Refusal) => void {
  const last = new Map<RefusedReason, { at: number; since: number }>()
  return (refusal) => {
    const now = Date.now()
    const seen = last.get(refusal.reason)
    if (seen && now - seen.at < everyMs) {
      seen.since++
      return
    }
    const more = seen && seen.since > 0 ? ` (and ${seen.since} more refused for this reason since the last such line)` : ''
    last.set(refusal.reason, { at: now, since: 0 })
    logger.warn({ ...refusal }, `${WHY[refusal.reason](refusal)}${more}`)
  }
}
