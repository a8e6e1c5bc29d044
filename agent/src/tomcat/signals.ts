import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { ManagerClient, NO_SIGNALS, type ManagerSignals } from './manager.js'
import type { TomcatMetrics } from './metrics.js'
import type { ManagerSettings } from './settings.js'

/**
 * Polls the manager every `pollMs` while active (the monitor makes it active while the admin
 * state is drain or down, and while a watched context has old versions draining) and keeps the last signals; a failed poll is a field, a log line and a
 * metric, never a crash.
 */
export class SignalsPoller {
  private readonly settings: ManagerSettings
  private readonly client: ManagerClient
  private readonly log: Logger
  private readonly metrics: TomcatMetrics
  private readonly closing = new AbortController()
  private latest: ManagerSignals = NO_SIGNALS
  private loop: { abort: AbortController; done: Promise<void> } | null = null

  private readonly onSignals: (signals: ManagerSignals) => void

  constructor(options: {
    settings: ManagerSettings
    logger: Logger
    metrics: TomcatMetrics
    /** Called after each reading, in the polling loop. */
    onSignals?: (signals: ManagerSignals) => void
  }) {
    this.settings = options.settings
    this.onSignals = options.onSignals ?? (() => {})
    this.client = new ManagerClient(options.settings)
    this.log = options.logger
    this.metrics = options.metrics
  }

  get polling(): boolean {
    return this.loop !== null
  }

  signals(): ManagerSignals {
    return this.latest
  }

  setActive(active: boolean): void {
    if (active && !this.loop && !this.closing.signal.aborted) {
      const abort = new AbortController()
      const done = this.run(AbortSignal.any([abort.signal, this.closing.signal])).catch((err: unknown) => {
        this.log.error({ err }, 'tomcat manager polling failed')
      })
      this.loop = { abort, done }
    } else if (!active && this.loop) {
      this.loop.abort.abort()
      this.loop = null
    }
  }

  async close(): Promise<void> {
    this.closing.abort()
    const loop = this.loop
    this.loop = null
    await loop?.done
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = Date.now()
      const signals = await this.client.read(signal)
      if (signal.aborted) return
      this.apply(signals)
      try {
        await sleep(Math.max(0, this.settings.pollMs - (Date.now() - started)), undefined, { signal, ref: false })
      } catch {
        return
      }
    }
  }

  private apply(signals: ManagerSignals): void {
    const previousError = this.latest.error
    this.latest = signals
    this.metrics.managerSignals(signals)
    if (signals.error && signals.error !== previousError) this.log.warn({ error: signals.error }, `tomcat manager: ${signals.error}`)
    this.onSignals(signals)
  }
}
