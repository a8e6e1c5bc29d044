import type { Logger } from 'pino'
import { AgentError } from '../errors.js'
import type { AdminState, StateRecord } from '../state/model.js'
import { confirm, goalOf, GOAL_STATES, type Confirmation, type WaitGoal } from './confirm.js'
import type { TomcatSignalsProvider } from './tomcat-signals.js'
import type { LbViews } from './views.js'

export const WAIT_OUTCOMES = ['confirmed', 'timeout', 'forced', 'state-changed', 'closing', 'cancelled'] as const
export type WaitOutcome = (typeof WAIT_OUTCOMES)[number]

export interface WaitEvent {
  event: 'progress' | 'done'
  goal: WaitGoal
  /** On `done` only. */
  outcome?: WaitOutcome
  elapsedMs: number
  /** The admin state when the event was made. */
  state: string | null
  confirmation: Confirmation | null
}

export interface WaitOptions {
  /** End with `timeout` after this long; 0 waits until confirmed (or the state changes). */
  timeoutMs: number
  /** End with `forced` after this long instead; 0 for never. */
  forceAfterMs: number
  /** A progress event at least this often, and whenever a load balancer's status changes. */
  progressMs: number
  onEvent: (event: WaitEvent) => void
}

export interface WaitHandle {
  readonly done: Promise<WaitEvent>
  cancel(): void
}

export interface LbTrackerHooks {
  /** A drain begun while the agent runs was confirmed this long after it began. */
  drainConfirmed?: (seconds: number) => void
  waitEnded?: (goal: WaitGoal, outcome: WaitOutcome) => void
}

export interface LbTrackerOptions {
  views: LbViews
  staleMs: number
  expect: readonly string[]
  maxSessions: number
  tomcatSignals?: TomcatSignalsProvider
  admin: () => StateRecord | null
  /** What the agent answers now: `ready` is confirmed only once the agent itself answers ready. */
  answer?: () => { state: AdminState; why: string | null }
  startedAt: number
  logger: Logger
  hooks?: LbTrackerHooks
}

interface Waiter {
  goal: WaitGoal
  startedAt: number
  evaluate(trigger: 'check' | 'tick' | 'state'): void
  finish(outcome: WaitOutcome): void
}

/** Repeated changes of the same status inside this window reach a waiter as one progress event. */
const MIN_PROGRESS_GAP_MS = 100

function progressSignature(c: Confirmation | null): string {
  if (!c) return ''
  return JSON.stringify([c.confirmed, c.missing, c.loadBalancers.map((l) => [l.lb, l.server, l.status, l.scur, l.qcur, l.stale, l.confirmed])])
}

/**
 * Evaluates confirmations as checks arrive and runs the waits of the admin API: each wait ends as
 * soon as the check that confirms it has been recorded (coalesced to one evaluation per event-loop
 * turn), on its deadline, or when the admin state leaves the states the goal belongs to.
 */
export class LbTracker {
  private readonly options: LbTrackerOptions
  private readonly log: Logger
  private readonly waiters = new Set<Waiter>()
  private scheduled: NodeJS.Immediate | null = null
  private drain: { since: number; handle: WaitHandle } | null = null
  private readonly onCheck = () => this.schedule()

  constructor(options: LbTrackerOptions) {
    this.options = options
    this.log = options.logger.child({ component: 'lb' })
  }

  get staleMs(): number {
    return this.options.staleMs
  }

  get expect(): readonly string[] {
    return this.options.expect
  }

  /** The confirmation of `goal` against the current admin state's start; null with no admin state. */
  evaluate(goal: WaitGoal, now = Date.now()): Confirmation | null {
    const admin = this.options.admin()
    if (!admin?.since) return null
    const o = this.options
    return confirm({
      goal,
      since: Date.parse(admin.since),
      now,
      views: o.views.list(now),
      staleMs: o.staleMs,
      expect: o.expect,
      startedAt: o.startedAt,
      tomcat: o.tomcatSignals ? { signals: o.tomcatSignals(), maxSessions: o.maxSessions } : undefined,
      answer: o.answer?.(),
    })
  }

  /** The confirmation of what the current admin state aims at (drain: drained, down: down, ready: ready). */
  current(): Confirmation | null {
    const admin = this.options.admin()
    return admin ? this.evaluate(goalOf(admin.state)) : null
  }

  /**
   * Waits for `goal`. Refused (AGENT_ERR_WRONG_STATE) when the admin state is not one the goal
   * belongs to: waiting for `drained` while ready would only ever time out.
   */
  wait(goal: WaitGoal, options: WaitOptions, internal = false): WaitHandle {
    const admin = this.options.admin()
    if (!admin || !GOAL_STATES[goal].includes(admin.state)) {
      throw new AgentError(
        'AGENT_ERR_WRONG_STATE',
        `cannot wait for ${goal}: the admin state is ${admin?.state ?? 'unknown'}, expected ${GOAL_STATES[goal].join(' or ')} (set it first)`,
      )
    }
    const startedAt = Date.now()
    let finished = false
    let lastSignature = ''
    let lastProgressAt = 0
    let latest: Confirmation | null = null
    const timers: NodeJS.Timeout[] = []
    let resolveDone: (event: WaitEvent) => void = () => undefined
    const done = new Promise<WaitEvent>((resolve) => (resolveDone = resolve))

    const event = (kind: WaitEvent['event'], outcome?: WaitOutcome): WaitEvent => ({
      event: kind,
      goal,
      ...(outcome ? { outcome } : {}),
      elapsedMs: Date.now() - startedAt,
      state: this.options.admin()?.state ?? null,
      confirmation: latest,
    })

    const waiter: Waiter = {
      goal,
      startedAt,
      evaluate: (trigger) => {
        if (finished) return
        const state = this.options.admin()?.state
        if (!state || !GOAL_STATES[goal].includes(state)) return waiter.finish('state-changed')
        latest = this.evaluate(goal)
        if (latest?.confirmed) return waiter.finish('confirmed')
        const elapsed = Date.now() - startedAt
        if (options.forceAfterMs > 0 && elapsed >= options.forceAfterMs) return waiter.finish('forced')
        if (options.timeoutMs > 0 && elapsed >= options.timeoutMs) return waiter.finish('timeout')
        const signature = progressSignature(latest)
        const now = Date.now()
        const changed = signature !== lastSignature && now - lastProgressAt >= MIN_PROGRESS_GAP_MS
        if (trigger === 'tick' || changed) {
          lastSignature = signature
          lastProgressAt = now
          options.onEvent(event('progress'))
        }
      },
      finish: (outcome) => {
        if (finished) return
        finished = true
        for (const timer of timers) clearTimeout(timer)
        this.waiters.delete(waiter)
        if (this.waiters.size === 0) this.options.views.off('check', this.onCheck)
        if (outcome !== 'confirmed' && outcome !== 'state-changed') latest = this.evaluate(goal) ?? latest
        const last = event('done', outcome)
        if (!internal) {
          this.options.hooks?.waitEnded?.(goal, outcome)
          const fields = { goal, outcome, elapsedMs: last.elapsedMs, why: latest?.why ?? null }
          if (outcome === 'confirmed') this.log.info(fields, `wait for ${goal}: confirmed after ${(last.elapsedMs / 1000).toFixed(1)}s`)
          else this.log.warn(fields, `wait for ${goal}: ${outcome} after ${(last.elapsedMs / 1000).toFixed(1)}s${latest?.why ? `: ${latest.why}` : ''}`)
        }
        options.onEvent(last)
        resolveDone(last)
      },
    }

    if (this.waiters.size === 0) this.options.views.on('check', this.onCheck)
    this.waiters.add(waiter)
    const every = setInterval(() => waiter.evaluate('tick'), options.progressMs)
    every.unref()
    timers.push(every)
    for (const ms of [options.timeoutMs, options.forceAfterMs]) {
      if (ms > 0) {
        const timer = setTimeout(() => waiter.evaluate('tick'), ms)
        timer.unref()
        timers.push(timer)
      }
    }
    // The first event, at once: already confirmed, or the starting point of the progress.
    waiter.evaluate('tick')
    return { done, cancel: () => waiter.finish('cancelled') }
  }

  /** Follows the admin state: a drain begun while the agent runs is timed until confirmed, for the histogram. */
  adminChanged(from: StateRecord | null, to: StateRecord): void {
    this.schedule('state')
    if (to.state !== 'drain') {
      if (this.drain) this.log.info({ to: to.state }, 'drain ended before every load balancer confirmed it')
      this.drain?.handle.cancel()
      this.drain = null
      return
    }
    if (from?.state === 'drain' || this.drain || !to.since) return
    const since = Date.parse(to.since)
    let ended = false
    const handle = this.wait(
      'drained',
      {
        timeoutMs: 0,
        forceAfterMs: 0,
        progressMs: 1000,
        onEvent: (e) => {
          if (e.event !== 'done') return
          ended = true
          this.drain = null
          if (e.outcome !== 'confirmed') return
          const seconds = Math.max(0, Date.now() - since) / 1000
          this.options.hooks?.drainConfirmed?.(seconds)
          const lbs = e.confirmation?.counted ?? 0
          this.log.info({ seconds, loadBalancers: lbs }, `drain confirmed by ${lbs} load balancer(s) ${seconds.toFixed(1)}s after it began`)
        },
      },
      true,
    )
    // Confirmed at once (nothing was checking, or everything was already idle): nothing to follow.
    if (!ended) this.drain = { since, handle }
  }

  /** Ends every wait (the agent is closing): their clients get a last `closing` event. */
  close(): void {
    if (this.scheduled) clearImmediate(this.scheduled)
    this.scheduled = null
    for (const waiter of [...this.waiters]) waiter.finish('closing')
    this.drain = null
  }

  private schedule(trigger: 'check' | 'state' = 'check'): void {
    if (this.scheduled || this.waiters.size === 0) return
    this.scheduled = setImmediate(() => {
      this.scheduled = null
      for (const waiter of [...this.waiters]) waiter.evaluate(trigger)
    })
  }
}
