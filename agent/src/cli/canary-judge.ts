import type { Traffic } from '../protocol/traffic.js'

/** The fixed limits a canary is held to. */
export interface CanaryLimits {
  /** Largest share of 5xx answers, 0..1. */
  max5xxRatio: number
  /** Largest p99 of Tomcat's time taken, in milliseconds. */
  maxP99Ms: number
  /** Fewer requests than this in the watch: no judgement can be made, which fails the gate. */
  minRequests: number
}

/** What the host answered between two documents of the same deploy. */
export interface CanaryWindow {
  requests: number
  errors5xx: number
  ratio5xx: number
  /** null with no request; Infinity when the p99 is above the largest bucket. */
  p99Ms: number | null
}

export type CanaryJudgement =
  | { verdict: 'pass' | 'watching'; window: CanaryWindow }
  | { verdict: 'fail'; window: CanaryWindow; limit: 'max-5xx-ratio' | 'max-p99-ms' | 'min-requests' | 'restarted'; why: string }

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0)

/** The p-quantile of a cumulative histogram, linear within its bucket (as Prometheus' histogram_quantile). */
export function quantile(buckets: Array<{ le: number; count: number }>, total: number, q: number): number | null {
  if (total <= 0) return null
  const rank = q * total
  let lowerLe = 0
  let lowerCount = 0
  for (const { le, count } of buckets) {
    if (count >= rank) return count === lowerCount ? le : lowerLe + ((le - lowerLe) * (rank - lowerCount)) / (count - lowerCount)
    lowerLe = le
    lowerCount = count
  }
  return Infinity
}

/** The answers between `start` and `now`; null when the deploy changed (Tomcat restarted meanwhile). */
export function windowOf(start: Traffic, now: Traffic): CanaryWindow | null {
  if (start.deploy !== now.deploy) return null
  const requests = sum(now.responses) - sum(start.responses)
  const errors5xx = (now.responses['5xx'] ?? 0) - (start.responses['5xx'] ?? 0)
  const before = new Map(start.duration.buckets.map((b) => [b.le, b.count]))
  const buckets = now.duration.buckets.map((b) => ({ le: b.le, count: b.count - (before.get(b.le) ?? 0) }))
  const p99 = quantile(buckets, now.duration.count - start.duration.count, 0.99)
  return { requests, errors5xx, ratio5xx: requests > 0 ? errors5xx / requests : 0, p99Ms: p99 === null ? null : p99 * 1000 }
}

export const percent = (ratio: number) => `${(ratio * 100).toFixed(2)}%`
export const millis = (ms: number | null) => (ms === null ? 'n/a' : ms === Infinity ? 'above the largest bucket' : `${Math.round(ms)} ms`)

/**
 * A limit broken once there are enough requests fails at once (the bad version's answers stop
 * sooner); a pass needs the whole watch and at least minRequests.
 */
export function judge(window: CanaryWindow | null, limits: CanaryLimits, finished: boolean): CanaryJudgement {
  if (window === null) {
    const empty = { requests: 0, errors5xx: 0, ratio5xx: 0, p99Ms: null }
    return { verdict: 'fail', window: empty, limit: 'restarted', why: 'Tomcat restarted during the watch (a new deploy in its access log)' }
  }
  if (window.requests >= limits.minRequests) {
    if (window.ratio5xx > limits.max5xxRatio) {
      return {
        verdict: 'fail',
        window,
        limit: 'max-5xx-ratio',
        why: `5xx ratio ${percent(window.ratio5xx)} (${window.errors5xx} of ${window.requests}) above the limit ${percent(limits.max5xxRatio)}`,
      }
    }
    if (window.p99Ms !== null && window.p99Ms > limits.maxP99Ms) {
      return {
        verdict: 'fail',
        window,
        limit: 'max-p99-ms',
        why: `p99 latency ${millis(window.p99Ms)} above the limit ${limits.maxP99Ms} ms`,
      }
    }
  }
  if (!finished) return { verdict: 'watching', window }
  if (window.requests < limits.minRequests) {
    return {
      verdict: 'fail',
      window,
      limit: 'min-requests',
      why: `only ${window.requests} requests, fewer than the ${limits.minRequests} needed to judge`,
    }
  }
  return { verdict: 'pass', window }
}
