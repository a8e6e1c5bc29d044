import type { Logger } from 'pino'
import type { ChangeSource } from './audit.js'
import type { AdminState, StateRecord } from './model.js'

/** Longest `--for` the admin API takes: a week, so that a typo of a unit does not park a server for a year. */
export const MAX_EXPIRY_SECONDS = 7 * 24 * 3600
/** Timers are re-armed at least daily: setTimeout cannot hold 25 days, and the clock may be set meanwhile. */
const MAX_TIMER_MS = 24 * 3600 * 1000
const RETRY_MS = 5_000

/** The part of the state store the expiry needs (StateStore has it). */
export interface ExpiringStore {
  readonly current: StateRecord | null
  readonly problem: unknown
  on(event: 'change' | 'problem', listener: () => void): unknown
  off(event: 'change' | 'problem', listener: () => void): unknown
  set(input: { state: AdminState; reason?: string; by?: string }, source: ChangeSource, ifStill?: StateRecord): Promise<StateRecord>
}

export interface StateExpiryOptions {
  store: ExpiringStore
  logger: Logger
  onExpired?: (from: AdminState) => void
  now?: () => number
}

/** When a record ends by itself: epoch ms, or null for a state without an expiry (ready never expires). */
export function expiresAt(record: StateRecord | null): number | null {
  if (!record || record.state === 'ready' || !record.until) return null
  const at = Date.parse(record.until)
  return Number.isNaN(at) ? null : at
}

/**
 * Ends a drain or down that was set with an expiry (`agentctl drain --for 2h`, `until=` in the
 * state file) by writing `ready` through the store, exactly as `agentctl ready` does: the same
 * file write, audit entry and rules (Tomcat alive, warmed up) decide whether the load balancers
 * then get 200. A change made meanwhile wins: the write only happens if the expiring record is
 * still in force. While the state file is broken the expiry waits: writing over it could destroy
 * an edit in progress.
 */
export class StateExpiry {
  private readonly options: StateExpiryOptions
  private readonly log: Logger
  private readonly now: () => number
  private timer: NodeJS.Timeout | null = null
  private writing = false
  private waitingForFile = false
  private closed = false
  private readonly rearm = () => this.arm()

  constructor(options: StateExpiryOptions) {
    this.options = options
    this.log = options.logger.child({ component: 'expiry' })
    this.now = options.now ?? Date.now
  }

  start(): void {
    this.options.store.on('change', this.rearm)
    this.options.store.on('problem', this.rearm)
    this.arm()
  }

  close(): void {
    this.closed = true
    this.options.store.off('change', this.rearm)
    this.options.store.off('problem', this.rearm)
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    if (this.closed || this.writing) return
    const record = this.options.store.current
    const at = expiresAt(record)
    if (at === null || !record) return
    const left = at - this.now()
    if (left > 0) {
      this.timer = setTimeout(this.rearm, Math.min(left, MAX_TIMER_MS))
      this.timer.unref()
      return
    }
    this.expire(record)
  }

  private expire(record: StateRecord): void {
    if (this.options.store.problem) {
      if (!this.waitingForFile)
        this.log.warn(
          { state: record.state, until: record.until },
          `${record.state} expired, but the state file is not readable: ready once it is`,
        )
      this.waitingForFile = true
      return
    }
    this.waitingForFile = false
    this.writing = true
    const reason = `${record.state} expired (set until ${record.until}${record.by ? ` by ${record.by}` : ''})`
    this.options.store
      .set({ state: 'ready', reason, by: 'health-agent' }, 'expired', record)
      .then((after) => {
        if (after.state === 'ready' && after.reason === reason) {
          this.log.info(
            { from: record.state, until: record.until },
            `${record.state} expired: admin state ready (the load balancers get 200 once Tomcat is up and warmed up)`,
          )
          this.options.onExpired?.(record.state)
        }
      })
      .catch((err: unknown) => {
        this.log.error(
          { err, state: record.state },
          `${record.state} expired, but ready could not be written: trying again in ${RETRY_MS / 1000} s`,
        )
        if (this.closed) return
        this.timer = setTimeout(this.rearm, RETRY_MS)
        this.timer.unref()
      })
      .finally(() => {
        this.writing = false
        if (!this.timer) this.arm()
      })
  }
}
