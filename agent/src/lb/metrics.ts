import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { LB_STATUSES } from './send-state.js'
import type { WaitGoal } from './confirm.js'
import type { WaitOutcome } from './tracker.js'
import type { LbViews } from './views.js'

const PREFIX = 'health_agent_'

/**
 * Metrics of the load balancers' views and of drains, on the agent's own registry. The per-LB
 * series are rebuilt from the views at each scrape, so a forgotten load balancer leaves no series
 * behind. Labels: `lb` (node name, or source address without send-state) and `server` (backend/server).
 */
export class LbMetrics {
  private readonly drainDuration: Histogram
  private readonly waits: Counter<'goal' | 'outcome'>

  constructor(registry: Registry, views: LbViews) {
    const labels = (v: { node: string | null; source: string; name: string | null }) => ({ lb: v.node ?? v.source, server: v.name ?? '' })
    new Gauge({
      name: `${PREFIX}lb_last_check_age_seconds`,
      help: 'Seconds since each load balancer last checked this agent',
      labelNames: ['lb', 'server'],
      registers: [registry],
      collect() {
        this.reset()
        const now = Date.now()
        for (const v of views.list(now)) this.set(labels(v), Math.max(0, now - v.lastCheckAt) / 1000)
      },
    })
    new Gauge({
      name: `${PREFIX}lb_status`,
      help: 'Status of this server as each load balancer reported it in its last check (send-state): 1 for the status in force',
      labelNames: ['lb', 'server', 'status'],
      registers: [registry],
      collect() {
        this.reset()
        for (const v of views.list()) {
          if (!v.state) continue
          for (const status of LB_STATUSES) this.set({ ...labels(v), status }, v.state.status === status ? 1 : 0)
        }
      },
    })
    new Gauge({
      name: `${PREFIX}lb_scur`,
      help: 'Sessions in flight on this server as each load balancer reported them in its last check (send-state scur)',
      labelNames: ['lb', 'server'],
      registers: [registry],
      collect() {
        this.reset()
        for (const v of views.list()) if (v.state) this.set(labels(v), v.state.scur.server)
      },
    })
    new Gauge({
      name: `${PREFIX}lb_views`,
      help: 'Load balancer views remembered (capped by --max-lb-views)',
      registers: [registry],
      collect() {
        this.set(views.size)
      },
    })
    new Gauge({
      name: `${PREFIX}lb_invalid_headers`,
      help: 'Checks whose X-Haproxy-Server-State header did not parse since the agent started (the checker counts as one without send-state)',
      registers: [registry],
      collect() {
        this.set(views.invalidHeaders)
      },
    })
    new Gauge({
      name: `${PREFIX}lb_views_evicted`,
      help: 'Load balancer views dropped since the agent started because --max-lb-views was reached (a flood of distinct checkers)',
      registers: [registry],
      collect() {
        this.set(views.evicted)
      },
    })
    this.drainDuration = new Histogram({
      name: `${PREFIX}drain_duration_seconds`,
      help: 'Time from the start of a drain to its confirmation by every load balancer',
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [registry],
    })
    this.waits = new Counter({
      name: `${PREFIX}waits_total`,
      help: 'Waits of the admin API (agentctl --wait) by goal and outcome: confirmed, timeout, forced, state-changed, closing, cancelled',
      labelNames: ['goal', 'outcome'],
      registers: [registry],
    })
  }

  drainConfirmed(seconds: number): void {
    this.drainDuration.observe(seconds)
  }

  waitEnded(goal: WaitGoal, outcome: WaitOutcome): void {
    this.waits.labels(goal, outcome).inc()
  }
}
