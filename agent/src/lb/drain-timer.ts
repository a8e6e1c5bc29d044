import type { Logger } from 'pino'
import type { StateRecord } from '../state/model.js'
import type { Confirmation } from './confirm.js'

/**
 * Times each drain begun while the agent runs, from its start to the first check that confirms it
 * (for the drain-duration histogram and a log line). It only observes: it is told of admin changes
 * and asked to look after checks; it holds no wait and changes nothing.
 */
export class DrainTimer {
  private since: number | null = null
  // A view going stale or a manager reading can confirm a drain between checks.
  private tick: NodeJS.Timeout | null = null

  constructor(
    private readonly options: {
      evaluateDrained: () => Confirmation | null
      confirmed: (seconds: number) => void
      logger: Logger
    },
  ) {}

  /** True while a drain is being timed (the tracker then looks after every check). */
  get timing(): boolean {
    return this.since !== null
  }

  adminChanged(from: StateRecord | null, to: StateRecord): void {
    if (to.state !== 'drain') {
      if (this.since !== null) this.options.logger.info({ to: to.state }, 'drain ended before every load balancer confirmed it')
      this.stop()
      return
    }
    if (from?.state === 'drain' || this.since !== null || !to.since) return
    this.since = Date.parse(to.since)
    this.tick = setInterval(() => this.look(), 1000)
    this.tick.unref()
    // Confirmed at once (nothing was checking, or everything was already idle): nothing to follow.
    this.look()
  }

  /** After a check: is the drain confirmed now? */
  look(): void {
    if (this.since === null) return
    const c = this.options.evaluateDrained()
    if (!c?.confirmed) return
    const seconds = Math.max(0, Date.now() - this.since) / 1000
    this.stop()
    this.options.confirmed(seconds)
    const lbs = c.counted
    this.options.logger.info(
      { seconds, loadBalancers: lbs },
      `drain confirmed by ${lbs} load balancer(s) ${seconds.toFixed(1)}s after it began`,
    )
  }

  stop(): void {
    this.since = null
    if (this.tick) clearInterval(this.tick)
    this.tick = null
  }
}
