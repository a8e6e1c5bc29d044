import type { Logger } from 'pino'
import { validateRequest } from '../protocol/validate.js'
import { WeightRequestSchema } from '../protocol/requests.js'
import type { AuditLog } from '../state/audit.js'
import type { AdminState } from '../state/model.js'
import { rampAt, type RampSettings } from './ramp.js'
import { WeightFile, type WeightOverride } from './weight-file.js'
import type { WeightSource, WeightStatus } from '../protocol/status.js'
export type { WeightSource, WeightStatus }

export interface WeightNow {
  percent: number
  source: WeightSource
  /** A short note for the agent-check answer's description. */
  note: string | null
}

export interface WeightControllerOptions {
  ramp: RampSettings
  file: string
  audit: AuditLog
  logger: Logger
  now?: () => number
}

/**
 * The weight the agent reports to HAProxy's agent check: a ramp from a low start to 100% each time
 * the server becomes ready again, unless an operator set an override (kept in a file, audited,
 * optionally expiring).
 */
export class WeightController {
  private readonly options: WeightControllerOptions
  private readonly file: WeightFile
  private readonly log: Logger
  private readonly now: () => number
  private rampStartedAt: number | null = null
  private rampEndTimer: NodeJS.Timeout | null = null
  private override: WeightOverride | null = null
  private expiryTimer: NodeJS.Timeout | null = null
  private fileProblem: string | null = null
  private writes: Promise<unknown> = Promise.resolve()

  constructor(options: WeightControllerOptions) {
    this.options = options
    this.file = new WeightFile(options.file)
    this.log = options.logger.child({ component: 'weight' })
    this.now = options.now ?? Date.now
  }

  /** Reads a persisted override; an expired one is ended (and audited) now, a bad file is reported and ignored. */
  async load(): Promise<void> {
    const read = await this.file.read()
    if (!read.ok) {
      this.fileProblem = `weight file ${this.file.path}: ${read.error}`
      this.log.warn({ file: this.file.path }, `${this.fileProblem}; no weight override in force`)
      return
    }
    this.fileProblem = null
    if (!read.override) return
    this.override = read.override
    if (this.expired(read.override)) {
      try {
        await this.endOverride('expired', { reason: 'expired while the agent was stopped', by: 'health-agent' })
      } catch (err) {
        // Not applied either way (it has expired); a file left behind must not stop the agent.
        this.fileProblem = `weight file ${this.file.path}: cannot remove the expired override: ${(err as Error).message}`
        this.log.warn({ err, file: this.file.path }, this.fileProblem)
      }
      return
    }
    this.armExpiry()
    this.log.info(
      { percent: read.override.percent, until: read.override.until, by: read.override.by },
      `weight override ${read.override.percent}% restored from ${this.file.path}`,
    )
  }

  close(): void {
    for (const timer of [this.expiryTimer, this.rampEndTimer]) if (timer) clearTimeout(timer)
    this.expiryTimer = null
    this.rampEndTimer = null
  }

  /**
   * The agent has started: without a probe it cannot tell a cold Tomcat (a host reboot) from a
   * warm one, so a server that starts ready ramps too. An agent-only restart costs one ramp at a
   * lower weight; a cold JVM at full weight would cost failed or slow requests.
   */
  onAgentStart(state: AdminState): void {
    if (state === 'ready') this.startRamp('agent started')
  }

  /** Effective state changed: becoming ready starts a ramp, leaving ready ends it. */
  onEffectiveState(previous: AdminState, next: AdminState): void {
    if (next === 'ready' && previous !== 'ready') this.startRamp(`${previous} -> ready`)
    else if (next !== 'ready' && this.rampStartedAt !== null) {
      this.stopRamp()
      this.log.info({ state: next }, `weight ramp stopped: the server is ${next}`)
    }
  }

  /** Starts (or restarts) a ramp now; also for a signal that Tomcat restarted behind a steady ready. */
  startRamp(why: string): void {
    const { durationMs, startPercent, steps } = this.options.ramp
    if (durationMs <= 0 || startPercent >= 100) return
    this.stopRamp()
    this.rampStartedAt = this.now()
    this.rampEndTimer = setTimeout(() => {
      this.rampEndTimer = null
      this.log.info('weight ramp done: 100%')
    }, durationMs)
    this.rampEndTimer.unref()
    this.log.info(
      { why, startPercent, durationMs, steps },
      `weight ramp started (${why}): ${startPercent}% to 100% in ${steps} steps over ${durationMs} ms`,
    )
  }

  private stopRamp(): void {
    if (this.rampEndTimer) clearTimeout(this.rampEndTimer)
    this.rampEndTimer = null
    this.rampStartedAt = null
  }

  private expired(override: WeightOverride): boolean {
    return override.until !== null && Date.parse(override.until) <= this.now()
  }

  private activeOverride(): WeightOverride | null {
    return this.override && !this.expired(this.override) ? this.override : null
  }

  /** The weight to answer now, for the given effective state. On the agent check's path: no I/O. */
  current(state: AdminState): WeightNow {
    const override = this.activeOverride()
    if (override) {
      const until = override.until ? ` until ${override.until}` : ''
      return {
        percent: override.percent,
        source: 'override',
        note: `weight override${until}${override.reason ? `: ${override.reason}` : ''}`,
      }
    }
    const { startPercent, durationMs } = this.options.ramp
    const ramps = durationMs > 0 && startPercent < 100
    if (state !== 'ready') {
      return ramps ? { percent: startPercent, source: 'ramp-pending', note: null } : { percent: 100, source: 'full', note: null }
    }
    if (this.rampStartedAt === null) return { percent: 100, source: 'full', note: null }
    const position = rampAt(this.options.ramp, this.now() - this.rampStartedAt)
    if (position.done) return { percent: 100, source: 'full', note: null }
    return { percent: position.percent, source: 'ramp', note: `ramp ${position.step}/${position.steps}` }
  }

  status(state: AdminState): WeightStatus {
    const now = this.current(state)
    let ramp: WeightStatus['ramp'] = null
    if (this.rampStartedAt !== null) {
      const position = rampAt(this.options.ramp, this.now() - this.rampStartedAt)
      if (!position.done) {
        ramp = {
          startedAt: new Date(this.rampStartedAt).toISOString(),
          endsAt: new Date(this.rampStartedAt + this.options.ramp.durationMs).toISOString(),
          startPercent: this.options.ramp.startPercent,
          step: position.step,
          steps: position.steps,
          progress: Math.round(position.progress * 1000) / 1000,
        }
      }
    }
    return {
      percent: now.percent,
      source: now.source,
      ramp,
      override: this.activeOverride(),
      settings: { ...this.options.ramp },
      file: { path: this.file.path, ok: this.fileProblem === null, problem: this.fileProblem },
    }
  }

  /** Sets an override: written to the weight file first (atomically), then applied and audited. */
  setOverride(input: { percent: number; expiresInSeconds?: number; reason?: string; by?: string }): Promise<WeightOverride> {
    const { percent, expiresInSeconds } = input
    // Callers other than the admin API (an embedding program) get the same checks.
    validateRequest(WeightRequestSchema, { weight: percent, ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }) })
    return this.serialize(async () => {
      const now = this.now()
      const override: WeightOverride = {
        percent,
        until: expiresInSeconds === undefined ? null : new Date(now + expiresInSeconds * 1000).toISOString(),
        reason: input.reason ?? null,
        by: input.by ?? null,
        since: new Date(now).toISOString(),
      }
      await this.file.write(override)
      const previous = this.activeOverride()
      this.override = override
      this.fileProblem = null
      this.armExpiry()
      this.audit(previous, override, 'api', override)
      this.log.info(
        { percent, until: override.until, reason: override.reason, by: override.by },
        `weight override set: ${percent}%${override.until ? ` until ${override.until}` : ''}`,
      )
      return override
    })
  }

  /** Clears the override (if any): the ramp or 100% applies again. Returns the override that was cleared. */
  clearOverride(input: { reason?: string; by?: string } = {}): Promise<WeightOverride | null> {
    return this.serialize(() => this.endOverride('api', input))
  }

  private async endOverride(source: 'api' | 'expired', who: { reason?: string; by?: string }): Promise<WeightOverride | null> {
    const previous = this.override
    await this.file.remove()
    this.override = null
    this.fileProblem = null
    if (this.expiryTimer) clearTimeout(this.expiryTimer)
    this.expiryTimer = null
    if (!previous) return null
    this.audit(previous, null, source, { until: null, reason: who.reason ?? null, by: who.by ?? null })
    this.log.info(
      { percent: previous.percent, source, reason: who.reason, by: who.by },
      `weight override ${previous.percent}% ${source === 'expired' ? 'expired' : 'cleared'}`,
    )
    return previous
  }

  private armExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer)
    this.expiryTimer = null
    const until = this.override?.until
    if (!until) return
    const delay = Math.max(0, Date.parse(until) - this.now())
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null
      this.serialize(() => this.endOverride('expired', { reason: 'expired', by: 'health-agent' })).catch((err: unknown) =>
        this.log.error(
          { err, file: this.file.path },
          'could not remove the expired weight override file; the override is no longer applied',
        ),
      )
    }, delay)
    this.expiryTimer.unref()
  }

  private audit(
    from: WeightOverride | null,
    to: WeightOverride | null,
    source: 'api' | 'expired',
    who: Pick<WeightOverride, 'until' | 'reason' | 'by'>,
  ): void {
    this.options.audit.append({
      time: new Date(this.now()).toISOString(),
      kind: 'weight',
      from: from ? `${from.percent}%` : null,
      to: to ? `${to.percent}%` : null,
      until: who.until,
      source,
      reason: who.reason,
      by: who.by,
    })
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writes.then(work)
    this.writes = run.catch(() => undefined)
    return run
  }
}
