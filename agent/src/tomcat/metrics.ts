import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Liveness } from './liveness.js'
import type { ManagerSignals } from './manager.js'
import type { ProbeResult } from './probe.js'
import type { WarmupOutcome } from './warmup.js'
import { roleOf } from './versions.js'

const PREFIX = 'health_agent_tomcat_'
const LIVENESS: readonly Liveness[] = ['unknown', 'up', 'down']

/** The Tomcat instruments, registered on the agent's own registry (see metrics.ts). */
export class TomcatMetrics {
  private readonly probeUp: Gauge
  private readonly liveness: Gauge<'state'>
  private readonly probes: Counter<'result'>
  private readonly probeDuration: Histogram<'result'>
  private readonly warmupDuration: Histogram<'outcome'>
  private readonly warmupRequests: Counter<'result'>
  private readonly busyThreads: Gauge
  private readonly sessions: Gauge<'context'>
  private readonly managerErrors: Counter
  private readonly versionSessions: Gauge<'context' | 'version' | 'role'>

  constructor(registry: Registry) {
    const registers = [registry]
    this.probeUp = new Gauge({ name: `${PREFIX}probe_up`, help: '1 when the last Tomcat probe passed, 0 when it failed', registers })
    this.liveness = new Gauge({
      name: `${PREFIX}liveness`,
      help: 'Tomcat as the agent sees it after rise/fall: 1 for the liveness in force (unknown, up, down), 0 for the others',
      labelNames: ['state'],
      registers,
    })
    this.probes = new Counter({
      name: `${PREFIX}probes_total`,
      help: 'Tomcat probes, by result (pass, fail)',
      labelNames: ['result'],
      registers,
    })
    this.probeDuration = new Histogram({
      name: `${PREFIX}probe_duration_seconds`,
      help: 'Time a Tomcat probe took, by result (a hung Tomcat shows as failures at the timeout)',
      labelNames: ['result'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    })
    this.warmupDuration = new Histogram({
      name: `${PREFIX}warmup_duration_seconds`,
      help: 'Duration of the warm-ups run after Tomcat came (back) up, by outcome (passed, failed, aborted, unreachable: Tomcat could not be reached)',
      labelNames: ['outcome'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    })
    this.warmupRequests = new Counter({
      name: `${PREFIX}warmup_requests_total`,
      help: 'Warm-up requests, by result (pass, fail)',
      labelNames: ['result'],
      registers,
    })
    this.busyThreads = new Gauge({
      name: `${PREFIX}busy_threads`,
      help: "Tomcat request threads busy (manager status, the agent's own request left out), polled while draining",
      registers,
    })
    this.sessions = new Gauge({
      name: `${PREFIX}active_sessions`,
      help: 'Active HTTP sessions per context (manager), polled while draining',
      labelNames: ['context'],
      registers,
    })
    this.versionSessions = new Gauge({
      name: `${PREFIX}version_sessions`,
      help: 'Active HTTP sessions per deployed version of a watched context (parallel deployment, manager list); role new: takes new sessions, old: drains its own, stopped: starting or failed',
      labelNames: ['context', 'version', 'role'],
      registers,
    })
    this.managerErrors = new Counter({
      name: `${PREFIX}manager_errors_total`,
      help: 'Manager polls that failed in part or whole',
      registers,
    })
  }

  probe(result: ProbeResult): void {
    const label = result.ok ? 'pass' : 'fail'
    this.probeUp.set(result.ok ? 1 : 0)
    this.probes.labels(label).inc()
    this.probeDuration.labels(label).observe(result.latencyMs / 1000)
  }

  setLiveness(liveness: Liveness): void {
    for (const l of LIVENESS) this.liveness.labels(l).set(l === liveness ? 1 : 0)
  }

  warmupRequest(ok: boolean): void {
    this.warmupRequests.labels(ok ? 'pass' : 'fail').inc()
  }

  warmupFinished(outcome: WarmupOutcome, seconds: number): void {
    this.warmupDuration.labels(outcome).observe(seconds)
  }

  managerSignals(signals: ManagerSignals): void {
    if (signals.busyThreads !== null) this.busyThreads.set(signals.busyThreads)
    for (const [context, count] of Object.entries(signals.sessions ?? {})) this.sessions.labels(context).set(count)
    if (signals.versions) {
      // Undeployed versions must leave the exposition, not stay at their last count.
      this.versionSessions.reset()
      for (const [context, versions] of Object.entries(signals.versions)) {
        for (const v of versions) this.versionSessions.labels(context, v.version, roleOf(versions, v)).set(v.sessions)
      }
    }
    if (signals.error) this.managerErrors.inc()
  }
}
