import { WAIT_OUTCOMES, type WaitEvent, type WaitOutcome } from '../protocol/status.js'
import type { Confirmation, WaitGoal } from './confirm.js'

export { WAIT_OUTCOMES, type WaitEvent, type WaitOutcome }

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

/** What a wait reads of the world each time it is evaluated. */
export interface WaitContext {
  /** The confirmation of the goal now; null with no admin state. */
  evaluate(): Confirmation | null
  /** False once the admin state has left the states the goal belongs to. */
  stillAimed(): boolean
  adminState(): string | null
  /** Called once, with the last event, when the wait ends. */
  ended(wait: Wait, last: WaitEvent): void
}

/** Repeated changes of the same status inside this window reach a waiter as one progress event. */
const MIN_PROGRESS_GAP_MS = 100

function progressSignature(c: Confirmation | null): string {
  if (!c) return ''
  return JSON.stringify([
    c.confirmed,
    c.missing,
    c.loadBalancers.map((l) => [l.lb, l.server, l.status, l.scur, l.qcur, l.stale, l.confirmed]),
  ])
}

/**
 * One wait for a goal: evaluated on every check (by the tracker), on a progress tick and at its
 * deadlines; it ends once, with the first of confirmed, forced, timeout, state-changed, closing or
 * cancelled, and streams progress events in between.
 */
export class Wait implements WaitHandle {
  readonly done: Promise<WaitEvent>
  readonly startedAt = Date.now()
  private finished = false
  private lastSignature = ''
  private lastProgressAt = 0
  private latest: Confirmation | null = null
  private readonly timers: NodeJS.Timeout[] = []
  private resolveDone: (event: WaitEvent) => void = () => undefined

  constructor(
    readonly goal: WaitGoal,
    private readonly options: WaitOptions,
    private readonly context: WaitContext,
  ) {
    this.done = new Promise<WaitEvent>((resolve) => (this.resolveDone = resolve))
    const every = setInterval(() => this.evaluate('tick'), options.progressMs)
    every.unref()
    this.timers.push(every)
    for (const ms of [options.timeoutMs, options.forceAfterMs]) {
      if (ms <= 0) continue
      const timer = setTimeout(() => this.evaluate('tick'), ms)
      timer.unref()
      this.timers.push(timer)
    }
  }

  get confirmation(): Confirmation | null {
    return this.latest
  }

  evaluate(trigger: 'check' | 'tick' | 'state'): void {
    if (this.finished) return
    if (!this.context.stillAimed()) return this.finish('state-changed')
    this.latest = this.context.evaluate()
    if (this.latest?.confirmed) return this.finish('confirmed')
    const elapsed = Date.now() - this.startedAt
    const { forceAfterMs, timeoutMs } = this.options
    if (forceAfterMs > 0 && elapsed >= forceAfterMs) return this.finish('forced')
    if (timeoutMs > 0 && elapsed >= timeoutMs) return this.finish('timeout')
    const signature = progressSignature(this.latest)
    const now = Date.now()
    const changed = signature !== this.lastSignature && now - this.lastProgressAt >= MIN_PROGRESS_GAP_MS
    if (trigger === 'tick' || changed) {
      this.lastSignature = signature
      this.lastProgressAt = now
      this.options.onEvent(this.event('progress'))
    }
  }

  finish(outcome: WaitOutcome): void {
    if (this.finished) return
    this.finished = true
    for (const timer of this.timers) clearTimeout(timer)
    if (outcome !== 'confirmed' && outcome !== 'state-changed') this.latest = this.context.evaluate() ?? this.latest
    const last = this.event('done', outcome)
    this.context.ended(this, last)
    this.options.onEvent(last)
    this.resolveDone(last)
  }

  cancel(): void {
    this.finish('cancelled')
  }

  private event(kind: WaitEvent['event'], outcome?: WaitOutcome): WaitEvent {
    return {
      event: kind,
      goal: this.goal,
      ...(outcome ? { outcome } : {}),
      elapsedMs: Date.now() - this.startedAt,
      state: this.context.adminState(),
      confirmation: this.latest,
    }
  }
}
