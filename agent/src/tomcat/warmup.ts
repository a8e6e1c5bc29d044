import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { PACKAGE_NAME, PACKAGE_VERSION } from '../package-info.js'
import { httpGet } from './http-get.js'
import type { WarmupSettings } from './settings.js'

export const WARMUP_USER_AGENT = `${PACKAGE_NAME}/${PACKAGE_VERSION} (warm-up)`

export interface WarmupUrlProgress {
  url: string
  requests: number
  failures: number
  /** The slowest answer so far: the first request of a JSP pays its compilation. */
  slowestMs: number
}

export interface WarmupProgress {
  startedAt: number
  /** Requests finished, passed or failed. */
  done: number
  failed: number
  /** Requests planned; null when a duration keeps the warm-up going. */
  total: number | null
  lastError: string | null
  perUrl: WarmupUrlProgress[]
}

export type WarmupOutcome = 'passed' | 'failed' | 'aborted'

export interface WarmupRunOptions {
  signal: AbortSignal
  /** Called after every request, for status and metrics. */
  onRequest?: (progress: WarmupProgress, ok: boolean) => void
  now?: () => number
}

/**
 * Requests every warm-up URL `requests` times, round-robin so that each URL's first (slow) request
 * comes early, `concurrency` at a time, and keeps going until `durationMs` has passed when set.
 * Stops early once the failures pass the limit when that means staying down anyway.
 */
export async function runWarmup(settings: WarmupSettings, options: WarmupRunOptions): Promise<{ outcome: WarmupOutcome; progress: WarmupProgress }> {
  const now = options.now ?? Date.now
  const planned = settings.urls.length * settings.requests
  const progress: WarmupProgress = {
    startedAt: now(),
    done: 0,
    failed: 0,
    total: settings.durationMs > 0 ? null : planned,
    lastError: null,
    perUrl: settings.urls.map((url) => ({ url, requests: 0, failures: 0, slowestMs: 0 })),
  }
  const agents = {
    http: new HttpAgent({ keepAlive: true, maxSockets: settings.concurrency }),
    https: new HttpsAgent({ keepAlive: true, maxSockets: settings.concurrency }),
  }
  const tooManyFailures = () => settings.onFailure === 'down' && progress.failed > settings.maxFailures
  let issued = 0
  const more = () =>
    !options.signal.aborted && !tooManyFailures() && (issued < planned || now() - progress.startedAt < settings.durationMs)

  const worker = async () => {
    while (more()) {
      const index = issued++ % settings.urls.length
      const url = settings.urls[index] as string
      const entry = progress.perUrl[index] as WarmupUrlProgress
      let ok = false
      try {
        const answer = await httpGet(url, {
          timeoutMs: settings.timeoutMs,
          headers: { 'user-agent': WARMUP_USER_AGENT, accept: '*/*' },
          signal: options.signal,
          agent: url.startsWith('https:') ? agents.https : agents.http,
        })
        entry.slowestMs = Math.max(entry.slowestMs, answer.latencyMs)
        ok = settings.expectStatus(answer.status)
        if (!ok) progress.lastError = `GET ${url}: HTTP ${answer.status} (expected ${settings.expectStatus.text})`
      } catch (err) {
        if (options.signal.aborted) return
        progress.lastError = `GET ${url}: ${(err as Error).message}`
      }
      entry.requests++
      progress.done++
      if (!ok) {
        entry.failures++
        progress.failed++
      }
      options.onRequest?.(progress, ok)
    }
  }

  try {
    await Promise.all(Array.from({ length: settings.concurrency }, worker))
  } finally {
    agents.http.destroy()
    agents.https.destroy()
  }
  const outcome: WarmupOutcome = options.signal.aborted ? 'aborted' : progress.failed > settings.maxFailures ? 'failed' : 'passed'
  return { outcome, progress }
}
