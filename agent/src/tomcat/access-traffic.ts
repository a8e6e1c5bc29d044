import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { ResolvedConfig } from '../config/load.js'
import { AgentError } from '../errors.js'
import type { Traffic } from '../protocol/traffic.js'
import { AccessLogFollower } from './access-log.js'
import { AccessMetrics } from './access-metrics.js'
import { accessLineParser, type AccessLineParser } from './access-pattern.js'

/** The access log pattern of the config, or the error that names the setting. */
export function accessParserOf(config: Pick<ResolvedConfig, 'accessLogPattern'>): AccessLineParser {
  try {
    return accessLineParser(config.accessLogPattern)
  } catch (err) {
    throw new AgentError(
      'AGENT_ERR_CONFIG',
      `invalid accessLogPattern (--access-log-pattern): ${(err as Error).message}; got "${config.accessLogPattern}"`,
      { cause: err },
    )
  }
}

/**
 * What the agent sees of Tomcat's traffic: the access log, followed off the health check's path
 * (its own reads, never on a request), counted per deploy on /metrics.
 */
export class AccessTraffic {
  private readonly follower: AccessLogFollower
  private readonly metrics: AccessMetrics

  constructor(
    config: Pick<ResolvedConfig, 'accessLogFile' | 'accessLogPattern' | 'accessLogPositionFile'>,
    registry: Registry,
    logger: Logger,
    now = new Date(),
  ) {
    const parse = accessParserOf(config)
    const metrics = new AccessMetrics(registry, deployName(now))
    this.metrics = metrics
    this.follower = new AccessLogFollower({
      path: config.accessLogFile,
      positionFile: config.accessLogPositionFile,
      logger: logger.child({ component: 'access-log' }),
      onLine: (line) => {
        const entry = line === '' ? null : parse(line)
        if (entry) metrics.response(entry)
        else if (line !== '') metrics.problem('unparsed')
      },
      onProblem: (kind) => metrics.problem(kind),
      onReset: (kind) => metrics.reset(kind),
    })
  }

  /** Tomcat came (back) up: its answers from now on are a new deploy's. */
  newDeploy(at: Date): void {
    this.metrics.newDeploy(deployName(at))
  }

  get deploy(): string {
    return this.metrics.deploy
  }

  snapshot(): Promise<Traffic> {
    return this.metrics.snapshot()
  }

  start(): Promise<void> {
    return this.follower.start()
  }

  /** Reads what is new now (tests). */
  catchUp(): Promise<void> {
    return this.follower.pump()
  }

  close(): Promise<void> {
    return this.follower.close()
  }
}

function deployName(at: Date): string {
  return at.toISOString().replace(/\.\d+Z$/, 'Z')
}
