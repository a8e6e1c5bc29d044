import type { Logger } from 'pino'
import { AgentError } from '../errors.js'
import type { AdminState, StateRecord } from '../state/model.js'
import { confirm, goalOf, GOAL_STATES, type Confirmation, type WaitGoal } from './confirm.js'
import type { TomcatSignalsProvider } from './tomcat-signals.js'
import type { LbView, LbViews } from './views.js'
import { DrainTimer } from './drain-timer.js'
import { Wait, type WaitContext, type WaitHandle, type WaitOptions, type WaitOutcome } from './wait.js'

export { WAIT_OUTCOMES, type WaitEvent, type WaitHandle, type WaitOptions, type WaitOutcome } from './wait.js'

/** For this long after a drained or down wait begins, a view that still shows sessions is wanted again at once. */
export const FRESH_VIEWS_MS = 10_000

/** Evaluations driven by checks take at most this share of the agent's time (see schedule). */
export const EVALUATION_SHARE = 0.1

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
  /** An agent-check listener is on (its load balancers are not in the views). */
  agentCheck?: boolean
  logger: Logger
  hooks?: LbTrackerHooks
}

/**
 * Evaluates confirmations as checks arrive and runs the waits of the admin API: each wait ends as
 * soon as the check that confirms it has been recorded (coalesced to one evaluation per event-loop
 * turn), on its deadline, or when the admin state leaves the states the goal belongs to.
 */
export class LbTracker {
  private readonly options: LbTrackerOptions
  private readonly log: Logger
  private readonly waits = new Set<Wait>()
  private readonly drainTimer: DrainTimer
  private scheduled: { cancel(): void } | null = null
  private lastEvaluation = { at: 0, tookMs: 0 }
  private listening = false
  private readonly onCheck = () => this.schedule()

  constructor(options: LbTrackerOptions) {
    this.options = options
    this.log = options.logger.child({ component: 'lb' })
    this.drainTimer = new DrainTimer({
      evaluateDrained: () => this.evaluate('drained'),
      confirmed: (seconds) => options.hooks?.drainConfirmed?.(seconds),
      logger: this.log,
    })
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
      agentCheck: o.agentCheck,
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
  wait(goal: WaitGoal, options: WaitOptions): WaitHandle {
    const admin = this.options.admin()
    if (!admin || !GOAL_STATES[goal].includes(admin.state)) {
      throw new AgentError(
        'AGENT_ERR_WRONG_STATE',
        `cannot wait for ${goal}: the admin state is ${admin?.state ?? 'unknown'}, expected ${GOAL_STATES[goal].join(' or ')} (set it first)`,
      )
    }
    const wait = new Wait(goal, options, this.waitContext(goal))
    this.waits.add(wait)
    this.listenForChecks()
    // The first event, at once: already confirmed, or the starting point of the progress.
    wait.evaluate('tick')
    return wait
  }

  /**
   * Whether a wait needs this load balancer's next view soon: a drained or down wait begun in the
   * last FRESH_VIEWS_MS while the view still shows sessions on the server. A held check would
   * delay that view by the hold; past the window (sticky clients, long requests) holds resume.
   */
  wantsViewSoon(view: LbView, now = Date.now()): boolean {
    const state = view.state
    if (this.waits.size === 0 || !state || (state.scur.server === 0 && state.qcur === 0)) return false
    for (const wait of this.waits) if (wait.goal !== 'ready' && now - wait.startedAt < FRESH_VIEWS_MS) return true
    return false
  }

  /** Follows the admin state: wakes the waits, and times a drain begun while the agent runs. */
  adminChanged(from: StateRecord | null, to: StateRecord): void {
    this.schedule('state')
    this.drainTimer.adminChanged(from, to)
    this.listenForChecks()
  }

  /** Ends every wait (the agent is closing): their clients get a last `closing` event. */
  close(): void {
    this.scheduled?.cancel()
    this.scheduled = null
    for (const wait of [...this.waits]) wait.finish('closing')
    this.drainTimer.stop()
    this.listenForChecks()
  }

  private waitContext(goal: WaitGoal): WaitContext {
    return {
      evaluate: () => this.evaluate(goal),
      stillAimed: () => {
        const state = this.options.admin()?.state
        return state !== undefined && GOAL_STATES[goal].includes(state)
      },
      adminState: () => this.options.admin()?.state ?? null,
      ended: (wait, last) => {
        this.waits.delete(wait)
        this.listenForChecks()
        this.options.hooks?.waitEnded?.(goal, last.outcome as WaitOutcome)
        const why = wait.confirmation?.why ?? null
        const fields = { goal, outcome: last.outcome, elapsedMs: last.elapsedMs, why }
        const after = `after ${(last.elapsedMs / 1000).toFixed(1)}s`
        if (last.outcome === 'confirmed') this.log.info(fields, `wait for ${goal}: confirmed ${after}`)
        else this.log.warn(fields, `wait for ${goal}: ${last.outcome} ${after}${why ? `: ${why}` : ''}`)
      },
    }
  }

  /** Checks are followed only while something needs them: a wait, or a drain being timed. */
  private listenForChecks(): void {
    const wanted = this.waits.size > 0 || this.drainTimer.timing
    if (wanted && !this.listening) this.options.views.on('check', this.onCheck)
    if (!wanted && this.listening) this.options.views.off('check', this.onCheck)
    this.listening = wanted
  }

  /**
   * One evaluation per event-loop turn with checks in it, but at most EVALUATION_SHARE of the time:
   * an evaluation goes over every view, and anyone who reaches the health listener can make
   * thousands of them and send checks as fast as it likes. With a few load balancers an evaluation
   * takes microseconds and this changes nothing; with 10,000 views it spaces them a few ms apart.
   */
  private schedule(trigger: 'check' | 'state' = 'check'): void {
    if (this.scheduled || (this.waits.size === 0 && !this.drainTimer.timing)) return
    const run = () => {
      this.scheduled = null
      const started = performance.now()
      for (const wait of [...this.waits]) wait.evaluate(trigger)
      this.drainTimer.look()
      this.listenForChecks()
      this.lastEvaluation = { at: performance.now(), tookMs: performance.now() - started }
    }
    const { at, tookMs } = this.lastEvaluation
    const waitMs = trigger === 'check' ? at + tookMs / EVALUATION_SHARE - tookMs - performance.now() : 0
    if (waitMs >= 1) {
      const timer = setTimeout(run, waitMs)
      this.scheduled = { cancel: () => clearTimeout(timer) }
    } else {
      const immediate = setImmediate(run)
      this.scheduled = { cancel: () => clearImmediate(immediate) }
    }
  }
}
