import { Counter, Histogram, type Registry } from 'prom-client'
import type { AccessLogProblem, AccessLogReset } from './access-log.js'
import type { AccessEntry } from './access-pattern.js'
import { STATUS_CLASSES, type Traffic } from '../protocol/traffic.js'

const PREFIX = 'health_agent_access_'

/** Fine enough at the low end to tell a 3x slower p99 of a fast app. */
export const ACCESS_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30]

const CLASSES = STATUS_CLASSES

/**
 * Tomcat's answers as its access log tells them, per deploy: a deploy is one run of Tomcat as the
 * agent saw it come up, named by the time it did. The series of the deploy in force and the one
 * before are kept (a canary compares them); older ones are removed so that the series stay few.
 */
export class AccessMetrics {
  private readonly responses: Counter<'deploy' | 'class'>
  private readonly duration: Histogram<'deploy'>
  private readonly problems: Counter<'kind'>
  private readonly resets: Counter<'kind'>
  private deploys: string[] = []

  constructor(registry: Registry, firstDeploy: string) {
    const registers = [registry]
    this.responses = new Counter({
      name: `${PREFIX}responses_total`,
      help: "Tomcat's responses read from its access log, by deploy (when the agent saw this Tomcat run come up) and status class",
      labelNames: ['deploy', 'class'],
      registers,
    })
    this.duration = new Histogram({
      name: `${PREFIX}request_duration_seconds`,
      help: 'Time Tomcat took to process each request (the access log time), by deploy',
      labelNames: ['deploy'],
      buckets: ACCESS_DURATION_BUCKETS,
      registers,
    })
    this.problems = new Counter({
      name: `${PREFIX}log_errors_total`,
      help: 'Access log lines not counted, by kind (unparsed: not in the configured pattern; too-long; read: the file could not be read)',
      labelNames: ['kind'],
      registers,
    })
    this.resets = new Counter({
      name: `${PREFIX}log_resets_total`,
      help: 'Times the access log was rotated (a new file) or truncated, and reading started over at its beginning',
      labelNames: ['kind'],
      registers,
    })
    for (const kind of ['unparsed', 'too-long', 'read']) this.problems.labels(kind).inc(0)
    this.newDeploy(firstDeploy)
  }

  get deploy(): string {
    return this.deploys[this.deploys.length - 1] as string
  }

  newDeploy(name: string): void {
    if (name === this.deploy) return
    this.deploys.push(name)
    for (const c of CLASSES) this.responses.labels(name, c).inc(0)
    this.duration.zero({ deploy: name })
    while (this.deploys.length > 2) {
      const old = this.deploys.shift() as string
      for (const c of CLASSES) this.responses.remove(old, c)
      this.duration.remove(old)
    }
  }

  response(entry: AccessEntry): void {
    const deploy = this.deploy
    this.responses.labels(deploy, CLASSES[Math.floor(entry.status / 100) - 1] ?? '5xx').inc()
    this.duration.labels(deploy).observe(entry.seconds)
  }

  /** The deploy in force, for a watcher (agentctl canary) on the admin API. */
  async snapshot(now = new Date()): Promise<Traffic> {
    const deploy = this.deploy
    const responses: Record<string, number> = {}
    for (const v of (await this.responses.get()).values) if (v.labels.deploy === deploy) responses[String(v.labels.class)] = v.value
    const duration: Traffic['duration'] = { count: 0, sumSeconds: 0, buckets: [] }
    for (const v of (await this.duration.get()).values) {
      if (v.labels.deploy !== deploy) continue
      if (v.metricName?.endsWith('_count')) duration.count = v.value
      else if (v.metricName?.endsWith('_sum')) duration.sumSeconds = v.value
      else {
        const le = (v.labels as { le?: string | number }).le
        if (le !== undefined && le !== '+Inf') duration.buckets.push({ le: Number(le), count: v.value })
      }
    }
    const errors: Record<string, number> = {}
    for (const v of (await this.problems.get()).values) errors[String(v.labels.kind)] = v.value
    return { enabled: true, at: now.toISOString(), deploy, responses, duration, errors }
  }

  problem(kind: AccessLogProblem | 'unparsed'): void {
    this.problems.labels(kind).inc()
  }

  reset(kind: AccessLogReset): void {
    this.resets.labels(kind).inc()
  }
}
