import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { AgentCheckMetrics } from './agentcheck/metrics.js'
import { AgentCheckServer } from './agentcheck/server.js'
import type { ResolvedConfig } from './config/load.js'
import { AgentCore } from './core/agent-core.js'
import { buildAdminServer } from './http/admin.js'
import { buildHealthServer } from './http/health.js'
import { loadOrCreateToken } from './http/token.js'
import { stopListening } from './listen.js'

/** The core and its doors, none of them listening yet: main.ts (or a test) decides where. */
export interface Agent {
  readonly core: AgentCore
  /** The load balancers' listener: the check, `/metrics`, `/`. */
  readonly health: FastifyInstance
  /** The token-protected admin API. */
  readonly admin: FastifyInstance
  /** HAProxy's agent-check listener, when `agentCheckListen` is set. */
  readonly agentCheck: AgentCheckServer | null
  /** Starts the core (reads the state, starts watching and probing). Does not listen. */
  start(): Promise<void>
  /** Closes the doors, then the core. */
  close(): Promise<void>
}

/** Builds the agent from a validated config: the core, then each door over it. */
export function buildAgent(config: ResolvedConfig, logger: Logger): Agent {
  const core = new AgentCore(config, logger)
  const token = loadOrCreateToken(config.tokenFile, logger)
  const health = buildHealthServer(core)
  const admin = buildAdminServer(core, token)
  // The weight and agent-check series exist whether or not the listener is on (the dashboards chart them).
  const agentCheckMetrics = new AgentCheckMetrics(core.metrics.registry, () => core.weight.status(core.verdict().state))
  const agentCheck = config.agentCheckListen ? buildAgentCheckServer(core, agentCheckMetrics) : null
  return {
    core,
    health,
    admin,
    agentCheck,
    start: () => core.start(),
    async close() {
      // Open waits would hold the admin listener's close: end them first.
      core.endWaits()
      await Promise.allSettled([health.close(), admin.close(), agentCheck?.close()])
      await Promise.allSettled([stopListening(health.server), stopListening(admin.server)])
      await core.close()
    },
  }
}

function buildAgentCheckServer(core: AgentCore, metrics: AgentCheckMetrics): AgentCheckServer {
  const server = new AgentCheckServer({
    reply: () => core.agentReply(),
    timeoutMs: core.config.agentCheckTimeoutMs,
    maxConnections: core.config.agentCheckMaxconn,
    metrics,
    logger: core.logger,
  })
  core.attachAgentCheck({ address: () => server.address, connections: () => server.connections })
  return server
}
