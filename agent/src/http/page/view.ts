import type { HistoryEntry } from '../../state/audit-reader.js'
import type { AgentStatus } from '../../protocol/status.js'
import { describeTomcat } from '../../protocol/render-tomcat.js'

/**
 * public: no `by`, no `reason` (they may name people, tickets, incidents) and no file paths;
 * full: with them, for a health listener only trusted people can reach.
 */
export type PageDetail = 'public' | 'full'

export interface PageLb {
  lb: string
  server: string | null
  status: string
  scur: number | null
  qcur: number | null
  weight: string | null
  ageMs: number
  stale: boolean
  expected: boolean
  confirmed: boolean
  why: string | null
}

export interface PageHistoryEntry {
  time: string
  from: string | null
  to: string
  source: string
  durationMs: number
  current: boolean
  until: string | null
  by?: string | null
  reason?: string | null
}

/** Everything the status page shows, and nothing else: this is what leaves the agent. */
export interface PageView {
  at: string
  detail: PageDetail
  agent: { name: string; version: string; startedAt: string }
  effective: { state: string; httpStatus: number; why: string | null }
  admin: { state: string; since: string; until: string | null; by?: string | null; reason?: string | null } | null
  stateFile: { ok: boolean; problem: string | null }
  tomcat: Array<{ label: string; text: string }>
  warmup: { phase: string; done: number; failed: number; total: number | null } | null
  /** What the admin state waits for (drained, down, ready) and how far the load balancers are. */
  goal: { goal: string; since: string; confirmed: boolean; why: string | null; confirming: number; of: number } | null
  loadBalancers: PageLb[]
  /** Views not in loadBalancers (at most 32 are sent). */
  omitted: number
  missing: string[]
  weight: { percent: number; source: string; rampProgress: number | null }
  history: PageHistoryEntry[]
}

function historyEntry(e: HistoryEntry, detail: PageDetail): PageHistoryEntry {
  const base = {
    time: e.time,
    from: e.from,
    to: e.to,
    source: e.source,
    durationMs: e.durationMs,
    current: e.current,
    until: e.until ?? null,
  }
  return detail === 'full' ? { ...base, by: e.by, reason: e.reason } : base
}

/** The page's view of a status: a pure function, so what the public page can show is tested by value. */
export function pageView(status: AgentStatus, history: readonly HistoryEntry[], detail: PageDetail, now = Date.now()): PageView {
  const c = status.loadBalancers.confirmation
  const a = status.admin
  const lbs = c?.loadBalancers ?? []
  // One that does not count (a one-off, or stale and not expected) is not in "N of M confirm" either.
  const counted = lbs.filter((lb) => (!lb.stale || lb.expected) && !lb.oneOff)
  const w = status.tomcat.warmup
  return {
    at: new Date(now).toISOString(),
    detail,
    agent: { name: status.agent.name, version: status.agent.version, startedAt: status.agent.startedAt },
    effective: { state: status.effective.state, httpStatus: status.effective.httpStatus, why: status.effective.why },
    admin: a
      ? { state: a.state, since: a.since, until: a.until ?? null, ...(detail === 'full' ? { by: a.by, reason: a.reason } : {}) }
      : null,
    stateFile: {
      ok: status.stateFile.ok,
      problem: status.stateFile.problem ? `${status.stateFile.problem.kind} since ${status.stateFile.problem.since}` : null,
    },
    tomcat: describeTomcat(status.tomcat).map(([label, text]) => ({ label, text })),
    warmup: w ? { phase: w.phase, done: w.done, failed: w.failed, total: w.total } : null,
    goal: c
      ? {
          goal: c.goal,
          since: c.since,
          confirmed: c.confirmed,
          why: c.why,
          confirming: counted.filter((lb) => lb.confirmed).length,
          of: counted.length + c.missing.filter((name) => !lbs.some((lb) => lb.lb === name)).length,
        }
      : null,
    loadBalancers: lbs.map((lb) => ({
      lb: lb.lb,
      server: lb.server,
      status: lb.status,
      scur: lb.scur,
      qcur: lb.qcur,
      weight: lb.weight,
      ageMs: lb.ageMs,
      stale: lb.stale,
      expected: lb.expected,
      confirmed: lb.confirmed,
      why: lb.why,
    })),
    omitted: c?.omitted ?? 0,
    missing: c?.missing ?? [],
    weight: { percent: status.weight.percent, source: status.weight.source, rampProgress: status.weight.ramp?.progress ?? null },
    history: history.map((e) => historyEntry(e, detail)),
  }
}
