import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { AgentStatus } from '../status.js'
import type { AgentMetrics } from '../metrics.js'
import type { Verdict } from '../state/effective.js'
import { describeTomcat } from '../tomcat/describe.js'

export interface HealthDeps {
  checkPath: string
  metrics: AgentMetrics
  verdict: () => Verdict
  status: () => AgentStatus
  /** Told of every check: the send-state header (if any), the checker's address and the answer. */
  onCheck?: (stateHeader: string | string[] | undefined, remoteAddress: string | undefined, httpStatus: number) => void
}

function checkBody(verdict: Verdict): string {
  return verdict.why ? `${verdict.state}: ${verdict.why}\n` : `${verdict.state}\n`
}

function statusPage(status: AgentStatus): string {
  const lines = [
    `${status.agent.name} ${status.agent.version}`,
    `effective: ${status.effective.state} (HTTP ${status.effective.httpStatus})${status.effective.why ? ` because ${status.effective.why}` : ''}`,
    status.admin
      ? `admin:     ${status.admin.state} since ${status.admin.since}${status.admin.reason ? ` reason="${status.admin.reason}"` : ''}${status.admin.by ? ` by=${status.admin.by}` : ''}`
      : 'admin:     unknown',
    ...describeTomcat(status.tomcat).map(([label, text]) => `${label ? `${label}:` : ''}`.padEnd(11) + text),
    `state file: ${status.stateFile.path} ${status.stateFile.problem ? `PROBLEM (${status.stateFile.problem.kind}): ${status.stateFile.problem.message}` : 'ok'}`,
    `check path: ${status.checkPath}   metrics: /metrics`,
    ...lbLines(status),
  ]
  return `${lines.join('\n')}\n`
}

function lbLines(status: AgentStatus): string[] {
  const c = status.loadBalancers.confirmation
  if (!c) return []
  const lines = [`${c.goal}: ${c.confirmed ? 'confirmed by every load balancer' : `not confirmed: ${c.why}`}`]
  for (const lb of c.loadBalancers) {
    const numbers = lb.scur === null ? '' : ` scur=${lb.scur} qcur=${lb.qcur}`
    lines.push(`  ${lb.lb}${lb.server ? ` ${lb.server}` : ''}: ${lb.status}${numbers}, last check ${(lb.ageMs / 1000).toFixed(1)}s ago${lb.stale ? ' (stale)' : ''}`)
  }
  return lines
}

/**
 * The listener the load balancers reach: read-only by construction, it has no route that
 * changes anything. The check answers from a verdict already computed, so it never waits.
 */
export function buildHealthServer(deps: HealthDeps): FastifyInstance {
  const app = Fastify({ logger: false, return503OnClosing: true, keepAliveTimeout: 65_000 })

  const answerCheck = (request: FastifyRequest, reply: FastifyReply) => {
    const verdict = deps.verdict()
    deps.metrics.countCheck(verdict.httpStatus)
    deps.onCheck?.(request.headers['x-haproxy-server-state'], request.socket.remoteAddress, verdict.httpStatus)
    return reply
      .code(verdict.httpStatus)
      .header('content-type', 'text/plain; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-health-state', verdict.state)
      .send(checkBody(verdict))
  }
  // HEAD is added by fastify for every GET route.
  app.route({ method: ['GET', 'OPTIONS'], url: deps.checkPath, handler: answerCheck })

  app.get('/metrics', async (_, reply) => {
    const body = await deps.metrics.registry.metrics()
    return reply.header('content-type', deps.metrics.registry.contentType).send(body)
  })

  app.get('/', async (_, reply) => reply.header('content-type', 'text/plain; charset=utf-8').send(statusPage(deps.status())))

  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .header('content-type', 'text/plain; charset=utf-8')
      .send(`no such route: ${request.method} ${request.url} (the check path is ${deps.checkPath}; read-only listener)\n`),
  )
  return app
}
