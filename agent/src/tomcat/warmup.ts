import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { PACKAGE_NAME, PACKAGE_VERSION } from '../package-info.js'
import { GetError, httpGet } from './http-get.js'
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

/** `unreachable`: a request could not reach Tomcat at all; whatever came before is not a warmed-up Tomcat. */
export type WarmupOutcome = 'passed' | 'failed' | 'aborted' | 'unreachable'

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
])

/**
 * A failure of the connection rather than of the application: refused, reset, closed before or
 * during the answer. That is Tomcat not being there (stopped, restarting), not a slow or failing
 * page, so it never counts as one of the failures --warmup-max-failures tolerates. A timeout is
 * an application failure: a JVM that accepts and is slow to answer is there.
 */
export function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof GetError)) return false
  const cause = err.cause as NodeJS.ErrnoException | undefined
  if (cause?.code && CONNECTION_CODES.has(cause.code)) return true
  return cause?.message === 'socket hang up' || err.message === 'answer cut short'
}

export interface WarmupRunOptions {
  signal: AbortSignal
  /** Called after every request, for status and metrics. */
  onRequest?: (progress: WarmupProgress, ok: boolean) => void
  now?: () => number
}

/**
 * Requests every warm-up URL `requests` times, round-robin so that each URL's first (slow) request
 * comes early, `concurrency` at a time, and keeps going until `durationMs` has passed when set.
 * Stops early once the failures pass the limit when that means staying down anyway, and at the
 * first connection-level failure, whatever the limit (outcome `unreachable`).
 */
export async function runWarmup(
  settings: WarmupSettings,
  options: WarmupRunOptions,
): Promise<{ outcome: WarmupOutcome; progress: WarmupProgress }> {
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
  // Ends the requests still in flight once one of them found no Tomcat.
  const unreachable = new AbortController()
  const signal = AbortSignal.any([options.signal, unreachable.signal])
  let issued = 0
  const more = () => !signal.aborted && !tooManyFailures() && (issued < planned || now() - progress.startedAt < settings.durationMs)

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
          signal,
          agent: url.startsWith('https:') ? agents.https : agents.http,
        })
        entry.slowestMs = Math.max(entry.slowestMs, answer.latencyMs)
        ok = settings.expectStatus(answer.status)
        if (!ok) progress.lastError = `GET ${url}: HTTP ${answer.status} (expected ${settings.expectStatus.text})`
      } catch (err) {
        if (signal.aborted) return
        progress.lastError = `GET ${url}: ${(err as Error).message}`
        if (isConnectionFailure(err)) unreachable.abort()
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
  const outcome: WarmupOutcome = options.signal.aborted
    ? 'aborted'
    : unreachable.signal.aborted
      ? 'unreachable'
      : progress.failed > settings.maxFailures
        ? 'failed'
        : 'passed'
  return { outcome, progress }
}
