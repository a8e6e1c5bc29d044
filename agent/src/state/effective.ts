import { HTTP_STATUS_OF, type StateRecord } from './model.js'
import type { Cause, Verdict, WarmupPhase } from '../protocol/status.js'
export type { Cause, Verdict, WarmupPhase }

/** What the Tomcat monitor knows, as plain facts (see tomcat/monitor.ts). */
export interface TomcatFacts {
  startupPolicy: 'down' | 'admin'
  liveness: 'unknown' | 'up' | 'down'
  /** When the liveness became what it is (for down: the first failure of the run); null while unknown. */
  since: number | null
  passes: number
  failures: number
  rise: number
  fall: number
  lastError: string | null
  /** Set while a return from drain or down to ready waits for `rise` probes begun after it (see tomcat/return-gate.ts). */
  returning?: { from: 'drain' | 'down'; passes: number } | null
  warmup: {
    phase: WarmupPhase
    done: number
    failed: number
    total: number | null
    maxFailures: number
    lastError: string | null
    /** When a failed warm-up is tried again. */
    retryAt: number | null
    /** Set while the warm-up is for this version, deployed beside a running one (no restart): it holds at drain, not down. */
    newVersion?: string | null
  }
}

export interface DecisionInputs {
  admin: StateRecord | null
  stateFileProblem: string | null
  /** Absent or null: Tomcat is not probed, the admin state alone decides. */
  tomcat?: TomcatFacts | null
  /** ms since the epoch, for "failing for 12 s"; defaults to now. */
  now?: number
}

const OPEN_PHASES: readonly WarmupPhase[] = ['none', 'skipped', 'passed', 'ready-anyway']

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, ms) / 1000
  return seconds < 10 ? `${seconds.toFixed(1)} s` : `${Math.round(seconds)} s`
}

function down(cause: Cause, why: string): Verdict {
  return { state: 'down', httpStatus: HTTP_STATUS_OF.down, cause, why }
}

/** The reason Tomcat keeps the answer down, or null when it lets the admin state through. */
function tomcatHold(t: TomcatFacts, now: number): Verdict | null {
  const last = t.lastError ? `: ${t.lastError}` : ''
  if (t.liveness === 'down') {
    const since = t.since === null ? '' : ` for ${formatDuration(now - t.since)}`
    if (t.passes > 0) {
      return down(
        'tomcat-down',
        `tomcat down${since}, coming back: ${t.passes} of ${t.rise} passing probes (last failure${last || ': unknown'})`,
      )
    }
    return down('tomcat-down', `tomcat probe failing${since} (${t.failures} in a row)${last}`)
  }
  if (t.liveness === 'unknown') {
    if (t.startupPolicy === 'admin') return null
    const progress =
      t.failures > 0 ? ` (${t.failures} failed so far${last})` : t.passes > 0 ? ` (${t.passes} of ${t.rise} passing probes)` : ''
    return down('tomcat-unknown', `waiting for the first passing tomcat probe${progress}`)
  }
  const w = t.warmup
  if (OPEN_PHASES.includes(w.phase)) return null
  if (w.phase === 'pending') return down('warmup', 'tomcat is up; its warm-up has not started yet')
  if (w.phase === 'running') {
    const of = w.total === null ? '' : ` of ${w.total}`
    return down('warmup', `warming tomcat up: ${w.done}${of} requests done, ${w.failed} failed`)
  }
  const retry = w.retryAt === null ? '' : `; trying again in ${formatDuration(w.retryAt - now)}`
  return down(
    'warmup',
    `tomcat warm-up failed: ${w.failed} of ${w.done} requests failed (at most ${w.maxFailures} allowed)${w.lastError ? `, last: ${w.lastError}` : ''}${retry}`,
  )
}

/**
 * A version deployed beside a running one (Tomcat's parallel deployment) is warmed up without a
 * restart: the old version keeps serving its sessions, so the answer is drain (404: sticky users
 * stay, no new session lands on the cold version), never down (which would send them elsewhere).
 */
function newVersionHold(held: Verdict, t: TomcatFacts, state: StateRecord['state']): Verdict {
  const version = t.warmup.newVersion
  if (held.cause !== 'warmup' || !version || state === 'down') return held
  return {
    state: 'drain',
    httpStatus: HTTP_STATUS_OF.drain,
    cause: 'warmup',
    why: `new version ${version}, deployed beside the running one: ${held.why}; answering drain until it passes`,
  }
}

/**
 * The state answered to the load balancers. Only a readable admin state can make it ready:
 * with no good state known (a corrupt file at start) the answer is down. Tomcat can only take the
 * answer down, never up: down after `fall` failed probes, until `rise` passes and the warm-up are
 * done; before the first probe result, as the startup policy says. A return from drain or down to
 * ready keeps answering the state being left until fresh probes have passed.
 */
export function decide(inputs: DecisionInputs): Verdict {
  if (!inputs.admin) {
    return down('no-state', `no valid admin state: ${inputs.stateFileProblem ?? 'the state file has not been read'}`)
  }
  const state = inputs.admin.state
  if (inputs.tomcat) {
    const held = tomcatHold(inputs.tomcat, inputs.now ?? Date.now())
    if (held) return newVersionHold(held, inputs.tomcat, state)
    const back = inputs.tomcat.returning
    if (back && state === 'ready') {
      const why = `back to ready from ${back.from}: ${back.passes} of ${inputs.tomcat.rise} passing probes begun since (Tomcat may have restarted)`
      return { state: back.from, httpStatus: HTTP_STATUS_OF[back.from], cause: 'returning', why }
    }
  }
  return { state, httpStatus: HTTP_STATUS_OF[state], cause: 'admin', why: null }
}

export function sameVerdict(a: Verdict, b: Verdict): boolean {
  return a.state === b.state && a.cause === b.cause && a.why === b.why
}
