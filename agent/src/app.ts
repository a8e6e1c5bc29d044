import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { AgentCheckMetrics } from './agentcheck/metrics.js'
import { agentReply } from './agentcheck/reply.js'
import { AgentCheckServer } from './agentcheck/server.js'
import { WeightController } from './agentcheck/weight.js'
import type { ResolvedConfig } from './config/load.js'
import { buildAdminServer } from './http/admin.js'
import { buildHealthServer } from './http/health.js'
import { loadOrCreateToken } from './http/token.js'
import { LbMetrics } from './lb/metrics.js'
import type { TomcatSignals, TomcatSignalsProvider } from './lb/tomcat-signals.js'
import type { ManagerSignals } from './tomcat/manager.js'
import { LbTracker } from './lb/tracker.js'
import { LbViews } from './lb/views.js'
import { registerWeightRoutes } from './http/weight.js'
import { AgentMetrics } from './metrics.js'
import { PACKAGE_NAME, PACKAGE_VERSION } from './package-info.js'
import { AuditLog } from './state/audit.js'
import { decide, sameVerdict, type Verdict } from './state/effective.js'
import { StateStore } from './state/store.js'
import type { AgentStatus } from './status.js'
import { TomcatMetrics } from './tomcat/metrics.js'
import { TomcatMonitor } from './tomcat/monitor.js'
import { tomcatSettings } from './tomcat/settings.js'

export interface Agent {
  readonly config: ResolvedConfig
  readonly logger: Logger
  readonly metrics: AgentMetrics
  readonly store: StateStore
  /** Probe, warm-up gate and manager signals (`tomcat.signals()`). */
  readonly tomcat: TomcatMonitor
  readonly health: FastifyInstance
  readonly admin: FastifyInstance
  /** The load balancers' views and the confirmations and waits built on them. */
  readonly lb: { readonly views: LbViews; readonly tracker: LbTracker }
  readonly weight: WeightController
  /** HAProxy's agent-check listener, when `agentCheckListen` is set; it does not listen until told to. */
  readonly agentCheck: AgentCheckServer | null
  verdict(): Verdict
  status(): AgentStatus
  /** Reads the state (writing the initial one if needed) and starts watching the file. Does not listen. */
  start(): Promise<void>
  /** Reopens the audit file (SIGHUP, after logrotate). */
  reopenFiles(): void
  close(): Promise<void>
}

export interface AgentOptions {
  /** Tomcat manager readings for drain confirmation; without it the load balancers alone confirm. */
  tomcatSignals?: TomcatSignalsProvider
}

/**
 * Builds an agent from a validated config: state store, audit, metrics and both HTTP servers.
 * It never listens; main.ts (or a test) decides where.
 */
export function buildAgent(config: ResolvedConfig, logger: Logger, options: AgentOptions = {}): Agent {
  const startedAt = new Date().toISOString()
  // Settings that only make sense together are checked before anything touches the disk.
  const tomcatConfig = tomcatSettings(config)
  const metrics = new AgentMetrics()
  const audit = new AuditLog(config.auditFile)
  const store = new StateStore({
    path: config.stateFile,
    initialState: config.initialState,
    pollMs: config.statePollMs,
    audit,
    logger,
  })
  const token = loadOrCreateToken(config.tokenFile, logger)
  const tomcat = new TomcatMonitor({ settings: tomcatConfig, logger, metrics: new TomcatMetrics(metrics.registry) })
  // A view silent for ten stale periods (at least a minute) is forgotten.
  const views = new LbViews({ maxViews: config.maxLbViews, forgetAfterMs: Math.max(10 * config.lbStaleMs, 60_000) })
  const lbMetrics = new LbMetrics(metrics.registry, views)
  const tracker = new LbTracker({
    views,
    staleMs: config.lbStaleMs,
    expect: config.expectLb,
    maxSessions: config.maxSessions,
    tomcatSignals: options.tomcatSignals ?? (tomcatConfig.manager ? () => managerSignalsForDrain(tomcat.signals()) : undefined),
    admin: () => store.current,
    answer: () => current,
    startedAt: Date.parse(startedAt),
    logger,
    hooks: { drainConfirmed: (s) => lbMetrics.drainConfirmed(s), waitEnded: (goal, outcome) => lbMetrics.waitEnded(goal, outcome) },
  })
  const weight = new WeightController({
    ramp: { startPercent: config.weightRampStartPercent, durationMs: config.weightRampMs, steps: config.weightRampSteps },
    file: config.weightFile,
    audit,
    logger,
  })

  const decideNow = () =>
    decide({ admin: store.current, stateFileProblem: store.problem?.message ?? null, tomcat: tomcat.facts(), now: Date.now() })
  let current: Verdict = decideNow()
  // Until start() has read the state, changes are the start itself, not transitions to report.
  let started = false
  const recompute = (source: string) => {
    const next = decideNow()
    if (sameVerdict(next, current)) return
    const previous = current
    current = next
    metrics.setEffectiveState(next.state)
    if (started) weight.onEffectiveState(previous.state, next.state)
    if (started && previous.state !== next.state) {
      metrics.countTransition('effective', next.cause === 'admin' ? source : next.cause, next.state)
      logger.info({ from: previous.state, to: next.state, cause: next.cause, why: next.why }, `answering ${next.httpStatus} (${next.state})`)
    }
  }

  store.on('change', (change) => {
    tomcat.setAdminState(change.to.state)
    metrics.setAdminState(change.to.state)
    if (change.from?.state !== change.to.state) metrics.countTransition('admin', change.source, change.to.state)
    recompute(change.source)
    if (started) tracker.adminChanged(change.from, change.to)
  })
  store.on('problem', (problem) => {
    metrics.stateFileProblem(problem?.kind ?? null)
    recompute('file')
  })
  tomcat.on('change', (cause) => recompute(cause))

  const replyNow = () => {
    const w = weight.current(current.state)
    return agentReply({ verdict: current, weightPercent: w.percent, weightNote: w.note, adminReason: store.current?.reason ?? null })
  }
  const agentCheckMetrics = new AgentCheckMetrics(metrics.registry, () => weight.status(current.state))
  const agentCheck = config.agentCheckListen
    ? new AgentCheckServer({
        reply: replyNow,
        timeoutMs: config.agentCheckTimeoutMs,
        maxConnections: config.agentCheckMaxconn,
        metrics: agentCheckMetrics,
        logger,
      })
    : null

  const status = (): AgentStatus => {
    const admin = store.current
    return {
      agent: { name: PACKAGE_NAME, version: PACKAGE_VERSION, node: process.version, pid: process.pid, startedAt },
      effective: current,
      admin: admin
        ? { state: admin.state, since: admin.since ?? startedAt, reason: admin.reason ?? null, by: admin.by ?? null }
        : null,
      stateFile: { path: config.stateFile, ok: store.problem === null, problem: store.problem },
      auditFile: config.auditFile,
      checkPath: config.checkPath,
      tomcat: tomcat.status(),
      loadBalancers: { staleAfterMs: config.lbStaleMs, expected: config.expectLb, views: views.size, confirmation: tracker.current() },
      weight: weight.status(current.state),
      agentCheck: { listen: agentCheck?.address ?? null, reply: replyNow().line.trimEnd(), connections: agentCheck?.connections ?? 0 },
    }
  }

  const health = buildHealthServer({
    checkPath: config.checkPath,
    metrics,
    verdict: () => current,
    status,
    onCheck: (header, address, code) => views.record(header, address, code),
  })
  const admin = buildAdminServer({
    token,
    logger,
    status,
    setState: (input) => store.set(input, 'api'),
    wait: (goal, waitOptions) => tracker.wait(goal, waitOptions),
  })
  registerWeightRoutes(admin, { weight, status, logger })

  return {
    config,
    logger,
    metrics,
    store,
    tomcat,
    health,
    admin,
    lb: { views, tracker },
    weight,
    agentCheck,
    verdict: () => current,
    status,
    async start() {
      audit.open()
      await store.start()
      tomcat.setAdminState(store.current?.state ?? null)
      tomcat.start()
      await weight.load()
      current = decideNow()
      started = true
      metrics.setAdminState(store.current?.state ?? null)
      metrics.setEffectiveState(current.state)
      weight.onAgentStart(current.state)
      logger.info({ state: current.state, cause: current.cause, why: current.why }, `answering ${current.httpStatus} (${current.state})`)
    },
    reopenFiles() {
      audit.reopen()
    },
    async close() {
      // Open waits would hold the admin listener's close: end them first.
      tracker.close()
      await Promise.allSettled([health.close(), admin.close(), agentCheck?.close()])
      weight.close()
      await tomcat.close()
      await store.close()
      audit.close()
    },
  }
}

/** The manager's reading as the drain confirmation wants it: sessions of all watched contexts added up. */
function managerSignalsForDrain(signals: ManagerSignals): TomcatSignals | null {
  if (!signals.at) return null
  const sessions = signals.sessions ? Object.values(signals.sessions).reduce((a, b) => a + b, 0) : null
  return { busyThreads: signals.busyThreads, sessions, at: signals.at }
}
