import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { LB_STATUSES } from './send-state.js'
import type { WaitGoal } from './confirm.js'
import type { WaitOutcome } from './tracker.js'
import { REFUSED_REASONS, type LbView, type LbViews } from './views.js'

const PREFIX = 'health_agent_'

/**
 * Views that get their own `lb`/`server` labels; any others are added up under `lb="_other"`.
 * Anyone who can reach the health listener can invent load balancers (a `node=` per check), and
 * a series per invented one hurts the Prometheus server that scrapes the agent.
 */
export const MAX_LABELLED_LB_VIEWS = 16
export const OTHER_LB = '_other'

/**
 * The views to label: the ones that checked most (a real load balancer checks every few seconds,
 * an invented one is seen once), the most recent first among equals; the rest are summed. One
 * pass keeping the best MAX_LABELLED_LB_VIEWS, not a sort of them all (a scrape of /metrics is
 * open to anyone who reaches the health listener).
 */
export function splitViews(views: LbView[]): { labelled: LbView[]; others: LbView[] } {
  if (views.length <= MAX_LABELLED_LB_VIEWS) return { labelled: views, others: [] }
  const before = (a: LbView, b: LbView) => b.checks - a.checks || b.lastCheckAt - a.lastCheckAt
  const top: LbView[] = []
  for (const view of views) {
    if (top.length === MAX_LABELLED_LB_VIEWS && before(view, top[top.length - 1] as LbView) >= 0) continue
    let i = Math.min(top.length, MAX_LABELLED_LB_VIEWS - 1)
    while (i > 0 && before(view, top[i - 1] as LbView) < 0) i--
    top.splice(i, 0, view)
    if (top.length > MAX_LABELLED_LB_VIEWS) top.pop()
  }
  const labelled = new Set(top)
  return { labelled: top, others: views.filter((v) => !labelled.has(v)) }
}

/**
 * Metrics of the load balancers' views and of drains, on the agent's own registry. The per-LB
 * series are rebuilt from the views at each scrape, so a forgotten load balancer leaves no series
 * behind. Labels: `lb` (node name, or source address without send-state) and `server` (backend/server),
 * for at most MAX_LABELLED_LB_VIEWS views; the others are one `lb="_other",server="_other"` series.
 */
export class LbMetrics {
  private readonly drainDuration: Histogram
  private readonly waits: Counter<'goal' | 'outcome'>

  constructor(registry: Registry, views: LbViews) {
    registerPerLbGauges(registry, views)
    registerViewCounts(registry, views)
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

/** Per load balancer: last check age, status and scur, for the labelled views; the rest summed under `_other`. */
function registerPerLbGauges(registry: Registry, views: LbViews): void {
  const labels = (v: { node: string | null; source: string; name: string | null }) => ({ lb: v.node ?? v.source, server: v.name ?? '' })
  const other = { lb: OTHER_LB, server: OTHER_LB }
  new Gauge({
    name: `${PREFIX}lb_last_check_age_seconds`,
    help: 'Seconds since each load balancer last checked this agent (lb="_other": the most recent of the views not labelled)',
    labelNames: ['lb', 'server'],
    registers: [registry],
    collect() {
      this.reset()
      const now = Date.now()
      const { labelled, others } = splitViews(views.list(now))
      for (const v of labelled) this.set(labels(v), Math.max(0, now - v.lastCheckAt) / 1000)
      if (others.length > 0) this.set(other, Math.max(0, now - others.reduce((latest, v) => Math.max(latest, v.lastCheckAt), 0)) / 1000)
    },
  })
  new Gauge({
    name: `${PREFIX}lb_status`,
    help: 'Status of this server as each load balancer reported it in its last check (send-state): 1 for the status in force (lb="_other": how many of the views not labelled report it)',
    labelNames: ['lb', 'server', 'status'],
    registers: [registry],
    collect() {
      this.reset()
      const { labelled, others } = splitViews(views.list())
      for (const v of labelled) {
        if (!v.state) continue
        for (const status of LB_STATUSES) this.set({ ...labels(v), status }, v.state.status === status ? 1 : 0)
      }
      const reporting = others.filter((v) => v.state)
      if (reporting.length === 0) return
      for (const status of LB_STATUSES) this.set({ ...other, status }, reporting.filter((v) => v.state?.status === status).length)
    },
  })
  new Gauge({
    name: `${PREFIX}lb_scur`,
    help: 'Sessions in flight on this server as each load balancer reported them in its last check (send-state scur; lb="_other": the sum over the views not labelled)',
    labelNames: ['lb', 'server'],
    registers: [registry],
    collect() {
      this.reset()
      const { labelled, others } = splitViews(views.list())
      for (const v of labelled) if (v.state) this.set(labels(v), v.state.scur.server)
      const reporting = others.filter((v) => v.state)
      if (reporting.length > 0)
        this.set(
          other,
          reporting.reduce((sum, v) => sum + (v.state?.scur.server ?? 0), 0),
        )
    },
  })
}

/** The views themselves: how many, headers that did not parse, views evicted by the cap. */
function registerViewCounts(registry: Registry, views: LbViews): void {
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
  new Counter({
    name: `${PREFIX}lb_refused_checks_total`,
    help: 'Checks answered but not kept as a load balancer view, by reason: source (outside --lb-sources), node-bound (a node name already checking from another address), full (--max-lb-views taken by load balancers heard from recently)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset()
      for (const reason of REFUSED_REASONS) this.inc({ reason }, views.refused[reason])
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
}
