import { Counter, Gauge, type Registry } from 'prom-client'
import { expiresAt } from './expiry.js'
import type { AdminState, StateRecord } from './model.js'

const PREFIX = 'health_agent_'

/**
 * How long the admin state has been in force and when it ends by itself, read at each scrape: an
 * alert can then catch a drain that nobody set an expiry on, and one whose expiry did not happen.
 */
export class StateAgeMetrics {
  private readonly expiries: Counter<'from'>

  constructor(registry: Registry, current: () => StateRecord | null, now: () => number = Date.now) {
    new Gauge({
      name: `${PREFIX}admin_state_age_seconds`,
      help: 'Seconds since the admin state in force began (label state: that state)',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        this.reset()
        const record = current()
        if (record?.since) this.set({ state: record.state }, Math.max(0, now() - Date.parse(record.since)) / 1000)
      },
    })
    new Gauge({
      name: `${PREFIX}admin_state_expiry_timestamp_seconds`,
      help: 'Unix time at which the drain or down in force ends by itself (until=, agentctl --for); 0 when it does not',
      registers: [registry],
      collect() {
        const at = expiresAt(current())
        this.set(at === null ? 0 : at / 1000)
      },
    })
    this.expiries = new Counter({
      name: `${PREFIX}admin_state_expiries_total`,
      help: 'Drains and downs that ended by their expiry (admin state set to ready by the agent)',
      labelNames: ['from'],
      registers: [registry],
    })
  }

  expired(from: AdminState): void {
    this.expiries.labels(from).inc()
  }
}
