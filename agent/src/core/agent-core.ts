import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { agentReply, type AgentReply } from '../agentcheck/reply.js'
import { WeightController } from '../agentcheck/weight.js'
import type { ResolvedConfig } from '../config/load.js'
import { parseListenAddress } from '../config/listen-address.js'
import type { WaitGoal } from '../lb/confirm.js'
import { registerExpectedLbMetric } from '../lb/expected-metrics.js'
import { LbMetrics } from '../lb/metrics.js'
import { LbTracker, type WaitHandle, type WaitOptions } from '../lb/tracker.js'
import { LbViews, type LbView, type SourceAddress } from '../lb/views.js'
import { refusalLogger } from '../lb/refusal-log.js'
import { listensOnWildcard, sourceFilter } from '../lb/sources.js'
import { AgentMetrics } from '../metrics.js'
import type { AgentStatus } from '../protocol/status.js'
import { publicVerdict } from '../protocol/public-status.js'
import type { Traffic } from '../protocol/traffic.js'
import { AuditLog, type ChangeSource } from '../state/audit.js'
import { readAuditTail, type AuditTail } from '../state/audit-reader.js'
import { StateExpiry } from '../state/expiry.js'
import { StateAgeMetrics } from '../state/metrics.js'
import type { Verdict } from '../state/effective.js'
import type { AdminState } from '../state/model.js'
import { StateStore, type StateChange } from '../state/store.js'
import { AccessTraffic } from '../tomcat/access-traffic.js'
import { TomcatMetrics } from '../tomcat/metrics.js'
import { TomcatMonitor } from '../tomcat/monitor.js'
import { tomcatSettings } from '../tomcat/settings.js'
import { buildStatus, type AgentCheckDoorInfo } from './status.js'
import { managerSignalsForDrain } from './tomcat-signals.js'
import { VerdictKeeper, type VerdictChange } from './verdict.js'

const TRAFFIC_OFF = (): Traffic => ({
  enabled: false,
  at: new Date().toISOString(),
  deploy: null,
  responses: {},
  duration: { count: 0, sumSeconds: 0, buckets: [] },
  errors: {},
})

export type CoreEvents = {
  /** The effective state (or why it is what it is) changed. */
  verdict: [VerdictChange]
  /** The admin state was read or changed (API, agentctl, a shell write of the state file). */
  admin: [StateChange]
  /** A wait on the load balancers began. */
  wait: [WaitGoal]
  /**
   * The HTTP answer changed and what it rests on is in the state file: what a load balancer may
   * be told at once (held checks). An API drain is answered while its file is written, but an
   * agent killed before the write comes back without it, so it is announced only once written.
   */
  announce: [number]
}

export interface StateInput {
  state: AdminState
  reason?: string
  by?: string
  /** ISO time a drain or down ends by itself (through the same rules as any return to ready). */
  until?: string
}

/**
 * The agent without any listener: the state store and its audit, the Tomcat monitor, the verdict
 * (the effective state and why), the load balancers' views and the waits on them, the weight,
 * and one `status()`. The doors (health check, admin API, agent check) are thin layers over it;
 * a test or an embedding program drives it directly.
 */
export class AgentCore extends EventEmitter<CoreEvents> {
  readonly config: ResolvedConfig
  readonly logger: Logger
  readonly metrics = new AgentMetrics()
  readonly store: StateStore
  readonly tomcat: TomcatMonitor
  readonly lb: { readonly views: LbViews; readonly tracker: LbTracker }
  readonly weight: WeightController
  /** Tomcat's access log, followed for per-deploy counts; null when not configured. */
  readonly access: AccessTraffic | null
  readonly startedAt = new Date().toISOString()
  private readonly audit: AuditLog
  private readonly expiry: StateExpiry
  private readonly verdicts: VerdictKeeper
  private agentCheckDoor: AgentCheckDoorInfo | null = null
  /** The answer last announced to held checks; null until start() has decided the first one. */
  private announced: number | null = null
  private tomcatLiveness: string | undefined

  constructor(config: ResolvedConfig, logger: Logger) {
    super()
    this.config = config
    this.logger = logger
    // Settings that only make sense together are checked before anything touches the disk.
    const tomcatConfig = tomcatSettings(config)
    this.access = config.accessLogFile ? new AccessTraffic(config, this.metrics.registry, logger) : null
    this.audit = new AuditLog(config.auditFile)
    this.store = new StateStore({
      path: config.stateFile,
      initialState: config.initialState,
      pollMs: config.statePollMs,
      audit: this.audit,
      logger,
    })
    this.tomcat = new TomcatMonitor({ settings: tomcatConfig, logger, metrics: new TomcatMetrics(this.metrics.registry) })
    this.lb = this.buildLoadBalancers(tomcatConfig.manager !== null)
    const stateAge = new StateAgeMetrics(this.metrics.registry, () => this.store.current)
    this.expiry = new StateExpiry({ store: this.store, logger, onExpired: (from) => stateAge.expired(from) })
    this.weight = new WeightController({
      ramp: { startPercent: config.weightRampStartPercent, durationMs: config.weightRampMs, steps: config.weightRampSteps },
      file: config.weightFile,
      audit: this.audit,
      logger,
    })
    this.verdicts = new VerdictKeeper(
      () => ({
        admin: this.store.current,
        stateFileProblem: this.store.problem?.message ?? null,
        tomcat: this.tomcat.facts(),
        now: Date.now(),
      }),
      (change) => this.verdictChanged(change),
    )
    this.store.on('change', (change) => this.adminChanged(change))
    this.store.on('committed', () => this.announce())
    this.store.on('problem', (problem) => {
      this.metrics.stateFileProblem(problem?.kind ?? null)
      this.verdicts.recompute('file')
    })
    this.tomcat.on('change', (cause) => {
      this.verdicts.recompute(cause)
      this.noteTomcatRun()
    })
  }

  verdict(): Verdict {
    return this.verdicts.get()
  }

  /** Writes the admin state through the state file (the single source of truth). */
  setState(input: StateInput, source: ChangeSource = 'api'): Promise<unknown> {
    return this.store.set(input, source)
  }

  /** Waits until every load balancer confirms `goal`; refused when the admin state cannot reach it. */
  wait(goal: WaitGoal, options: WaitOptions): WaitHandle {
    const handle = this.lb.tracker.wait(goal, options)
    this.emit('wait', goal)
    return handle
  }

  /** A health check was answered: what the checker said of this server (send-state), and from where. */
  recordCheck(stateHeader: string | string[] | undefined, remoteAddress: SourceAddress, httpStatus: number): LbView | null {
    return this.lb.views.record(stateHeader, remoteAddress, httpStatus)
  }

  /** The last admin state changes from the audit log (read without blocking), newest last. */
  history(options: { since?: number; limit?: number; maxBytes?: number }): Promise<AuditTail> {
    return readAuditTail(this.config.auditFile, options)
  }

  /** The agent-check line for the current verdict and weight. */
  agentReply(): AgentReply {
    const verdict = this.verdicts.get()
    const weight = this.weight.current(verdict.state)
    return agentReply({ verdict, weightPercent: weight.percent, weightNote: weight.note, adminReason: this.store.current?.reason ?? null })
  }

  /** Tomcat's answers in the deploy in force, from the access log (for a canary gate). */
  traffic(): Promise<Traffic> {
    return this.access?.snapshot() ?? Promise.resolve(TRAFFIC_OFF())
  }

  /** The agent-check door reports where it listens and its connections in the status. */
  attachAgentCheck(info: AgentCheckDoorInfo): void {
    this.agentCheckDoor = info
  }

  status(): AgentStatus {
    const verdict = this.verdicts.get()
    return buildStatus({
      config: this.config,
      startedAt: this.startedAt,
      verdict,
      admin: this.store.current,
      stateFileProblem: this.store.problem,
      tomcat: this.tomcat.status(),
      lbViews: this.lb.views.size,
      confirmation: this.lb.tracker.current(),
      weight: this.weight.status(verdict.state),
      agentCheck: { reply: this.agentReply().line.trimEnd(), door: this.agentCheckDoor },
    })
  }

  /** Reads the state (writing the initial one if needed), starts watching it and probing Tomcat. Does not listen. */
  async start(): Promise<void> {
    this.audit.open()
    await this.store.start()
    this.expiry.start()
    this.tomcat.setAdminState(this.store.current?.state ?? null)
    this.tomcat.start()
    await this.weight.load()
    await this.access?.start()
    const verdict = this.verdicts.begin()
    this.announced = verdict.httpStatus
    this.metrics.setAdminState(this.store.current?.state ?? null)
    this.metrics.setEffectiveState(verdict.state)
    this.weight.onAgentStart(verdict.state)
    this.logger.info({ state: verdict.state, cause: verdict.cause, why: verdict.why }, `answering ${verdict.httpStatus} (${verdict.state})`)
    this.warnIfOpenToAll()
  }

  /** Reopens the audit file (SIGHUP, after logrotate). */
  reopenFiles(): void {
    this.audit.reopen()
  }

  /** Ends the waits (their clients get a last `closing` event); the doors close first. */
  endWaits(): void {
    this.lb.tracker.close()
  }

  async close(): Promise<void> {
    this.endWaits()
    this.weight.close()
    await this.tomcat.close()
    await this.access?.close()
    this.expiry.close()
    await this.store.close()
    this.audit.close()
  }

  private buildLoadBalancers(managerWired: boolean): AgentCore['lb'] {
    const config = this.config
    // A view silent for ten stale periods (at least a minute) is forgotten.
    const views = new LbViews({
      maxViews: config.maxLbViews,
      forgetAfterMs: Math.max(10 * config.lbStaleMs, 60_000),
      keepFreshMs: config.lbStaleMs,
      sources: sourceFilter(config.lbSources),
    })
    views.on('refused', refusalLogger(this.logger.child({ component: 'lb' })))
    const lbMetrics = new LbMetrics(this.metrics.registry, views)
    const tracker = new LbTracker({
      views,
      staleMs: config.lbStaleMs,
      expect: config.expectLb,
      maxSessions: config.maxSessions,
      tomcatSignals: managerWired ? () => managerSignalsForDrain(this.tomcat.signals()) : undefined,
      admin: () => this.store.current,
      // Its words reach every reader of a wait or a status, the public page included: no error texts.
      answer: () => publicVerdict(this.verdicts.get()),
      startedAt: Date.parse(this.startedAt),
      agentCheck: Boolean(config.agentCheckListen),
      logger: this.logger,
      hooks: { drainConfirmed: (s) => lbMetrics.drainConfirmed(s), waitEnded: (goal, outcome) => lbMetrics.waitEnded(goal, outcome) },
    })
    registerExpectedLbMetric(this.metrics.registry, config.expectLb, () => tracker.evaluate('ready')?.missing ?? config.expectLb)
    return { views, tracker }
  }

  /** Anyone who reaches a wildcard listener could speak for a load balancer: say so once, at start. */
  private warnIfOpenToAll(): void {
    const listen = parseListenAddress(this.config.listen)
    if (this.config.lbSources.length > 0 || !listen || !listensOnWildcard(listen)) return
    this.logger.warn(
      { listen: this.config.listen },
      `the health listener is on ${this.config.listen} with no --lb-sources: any host that reaches it can report itself as a load balancer and hold or hurry a drain --wait; list the load balancers' networks with --lb-sources`,
    )
  }

  /** A Tomcat back up after being down (a restart, a deploy) starts a new deploy in the access counts. */
  private noteTomcatRun(): void {
    const facts = this.tomcat.facts()
    if (facts?.liveness === 'up' && this.tomcatLiveness === 'down') this.access?.newDeploy(new Date(facts.since ?? Date.now()))
    this.tomcatLiveness = facts?.liveness
  }

  private adminChanged(change: StateChange): void {
    this.tomcat.setAdminState(change.to.state)
    this.metrics.setAdminState(change.to.state)
    if (change.from?.state !== change.to.state) this.metrics.countTransition('admin', change.source, change.to.state)
    this.verdicts.recompute(change.source)
    // Until start() has read the state, a change is the start itself, not a transition to follow.
    if (this.verdicts.hasBegun) this.lb.tracker.adminChanged(change.from, change.to)
    this.emit('admin', change)
  }

  private verdictChanged(change: VerdictChange): void {
    const { previous, next, source, started } = change
    this.metrics.setEffectiveState(next.state)
    if (started) this.weight.onEffectiveState(previous.state, next.state)
    if (started && previous.state !== next.state) {
      this.metrics.countTransition('effective', next.cause === 'admin' ? source : next.cause, next.state)
      this.logger.info(
        { from: previous.state, to: next.state, cause: next.cause, why: next.why },
        `answering ${next.httpStatus} (${next.state})`,
      )
    }
    this.emit('verdict', change)
    this.announce()
  }

  private announce(): void {
    const httpStatus = this.verdicts.get().httpStatus
    if (this.store.uncommitted || this.announced === null || httpStatus === this.announced) return
    this.announced = httpStatus
    this.emit('announce', httpStatus)
  }
}
