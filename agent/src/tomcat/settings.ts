import type { Config } from '../config/schema.js'
import { AgentError } from '../errors.js'

/** Decides whether an HTTP status passes, from a list such as `200,204` or `2xx,3xx`. */
export interface StatusMatcher {
  (status: number): boolean
  readonly text: string
}

export function statusMatcher(items: readonly string[]): StatusMatcher {
  const codes = new Set<number>()
  const classes = new Set<number>()
  for (const item of items) {
    if (/^[1-5]xx$/.test(item)) classes.add(Number(item[0]))
    else codes.add(Number(item))
  }
  const matches = (status: number) => codes.has(status) || classes.has(Math.floor(status / 100))
  return Object.assign(matches, { text: items.join(',') })
}

export interface ProbeSettings {
  url: string
  intervalMs: number
  /** While drain/down or a return to ready is pending; never slower than intervalMs. */
  fastIntervalMs: number
  /** Tomcat's PID file, read after each probe; null: not read. */
  pidFile: string | null
  timeoutMs: number
  fall: number
  rise: number
  expectStatus: StatusMatcher
  expectBody: RegExp | null
}

export interface WarmupSettings {
  /** Absolute URLs, in the configured order. */
  urls: string[]
  requests: number
  durationMs: number
  concurrency: number
  timeoutMs: number
  maxFailures: number
  onFailure: 'down' | 'ready'
  expectStatus: StatusMatcher
}

export interface ManagerSettings {
  /** Base URL of the manager application, without a trailing slash. */
  url: string
  credentialsFile: string
  contexts: string[]
  pollMs: number
  timeoutMs: number
}

export interface TomcatSettings {
  /** null: no probe configured; the admin state alone decides. */
  probe: ProbeSettings | null
  startupPolicy: 'down' | 'admin'
  /** null: no warm-up URLs. */
  warmup: WarmupSettings | null
  /** null: no manager configured. */
  manager: ManagerSettings | null
}

type TomcatConfig = Pick<
  Config,
  | 'tomcatUrl'
  | 'tomcatIntervalMs'
  | 'tomcatFastIntervalMs'
  | 'tomcatPidFile'
  | 'tomcatTimeoutMs'
  | 'tomcatFall'
  | 'tomcatRise'
  | 'tomcatExpectStatus'
  | 'tomcatExpectBody'
  | 'tomcatStartupPolicy'
  | 'warmupUrls'
  | 'warmupRequests'
  | 'warmupDurationMs'
  | 'warmupConcurrency'
  | 'warmupTimeoutMs'
  | 'warmupMaxFailures'
  | 'warmupOnFailure'
  | 'tomcatManagerUrl'
  | 'tomcatManagerCredentialsFile'
  | 'tomcatManagerContexts'
  | 'tomcatManagerPollMs'
>

/** The context path of a probe URL: its first path segment (`/app/health` -> `/app`), or `/` for ROOT. */
export function contextOf(url: string): string {
  const segment = new URL(url).pathname.split('/')[1] ?? ''
  return segment === '' ? '/' : `/${segment}`
}

/**
 * The Tomcat part of a validated config, with what one setting cannot check alone: warm-up URLs
 * need the probe (the warm-up starts when the probe sees Tomcat come up), the manager needs
 * credentials and a context to count sessions in.
 */
export function tomcatSettings(config: TomcatConfig): TomcatSettings {
  const expectStatus = statusMatcher(config.tomcatExpectStatus)
  const probe: ProbeSettings | null = config.tomcatUrl
    ? {
        url: config.tomcatUrl,
        intervalMs: config.tomcatIntervalMs,
        fastIntervalMs: Math.min(config.tomcatFastIntervalMs, config.tomcatIntervalMs),
        pidFile: config.tomcatPidFile || null,
        timeoutMs: config.tomcatTimeoutMs,
        fall: config.tomcatFall,
        rise: config.tomcatRise,
        expectStatus,
        expectBody: config.tomcatExpectBody ? new RegExp(config.tomcatExpectBody) : null,
      }
    : null

  let warmup: WarmupSettings | null = null
  if (config.warmupUrls.length > 0) {
    if (!probe) {
      throw new AgentError(
        'AGENT_ERR_CONFIG',
        'invalid warmupUrls: the warm-up runs when the Tomcat probe sees Tomcat come up, so it needs tomcatUrl (--tomcat-url) too',
      )
    }
    warmup = {
      urls: config.warmupUrls.map((u) => new URL(u, probe.url).href),
      requests: config.warmupRequests,
      durationMs: config.warmupDurationMs,
      concurrency: config.warmupConcurrency,
      timeoutMs: config.warmupTimeoutMs,
      maxFailures: config.warmupMaxFailures,
      onFailure: config.warmupOnFailure,
      expectStatus,
    }
  }

  let manager: ManagerSettings | null = null
  if (config.tomcatManagerUrl) {
    if (!config.tomcatManagerCredentialsFile) {
      throw new AgentError(
        'AGENT_ERR_CONFIG',
        'invalid tomcatManagerUrl: the manager needs a user, so tomcatManagerCredentialsFile (--tomcat-manager-credentials-file) must name a file holding USER:PASSWORD',
      )
    }
    const contexts = config.tomcatManagerContexts.length > 0 ? config.tomcatManagerContexts : probe ? [contextOf(probe.url)] : []
    if (contexts.length === 0) {
      throw new AgentError(
        'AGENT_ERR_CONFIG',
        'invalid tomcatManagerContexts: expected the context paths to count sessions in (such as /app), since there is no tomcatUrl to take it from',
      )
    }
    manager = {
      url: config.tomcatManagerUrl.replace(/\/+$/, ''),
      credentialsFile: config.tomcatManagerCredentialsFile,
      contexts,
      pollMs: config.tomcatManagerPollMs,
      timeoutMs: config.tomcatTimeoutMs,
    }
  }

  return { probe, startupPolicy: config.tomcatStartupPolicy, warmup, manager }
}
