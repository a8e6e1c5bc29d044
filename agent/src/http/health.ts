import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import Fastify, { type FastifyInstance } from 'fastify'
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
 *
 * The check itself is answered by a plain node:http handler in front of fastify: it is the one
 * request that comes all the time, from every load balancer, and fastify's routing and reply
 * objects would cost it a third of its throughput. Everything else goes through fastify.
 */
export function buildHealthServer(deps: HealthDeps): FastifyInstance {
  let answered: Verdict | null = null
  let body = ''
  let headers: Record<string, string | number> = {}
  const answerCheck = (request: IncomingMessage, response: ServerResponse) => {
    const verdict = deps.verdict()
    if (verdict !== answered) {
      answered = verdict
      body = checkBody(verdict)
      headers = {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
        'x-health-state': verdict.state,
      }
    }
    deps.metrics.countCheck(verdict.httpStatus)
    deps.onCheck?.(request.headers['x-haproxy-server-state'], request.socket.remoteAddress, verdict.httpStatus)
    response.writeHead(verdict.httpStatus, headers)
    // Node sends no body for HEAD by itself.
    response.end(body)
  }
  const isCheck = (request: IncomingMessage) => {
    const method = request.method
    if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') return false
    const url = request.url ?? ''
    return url === deps.checkPath || (url.startsWith(deps.checkPath) && url[deps.checkPath.length] === '?')
  }

  const app = Fastify({
    logger: false,
    return503OnClosing: true,
    serverFactory: (handler) => {
      const server = createServer((request, response) => (isCheck(request) ? answerCheck(request, response) : handler(request, response)))
      // HAProxy opens a connection per check; other checkers keep theirs: do not drop them first.
      server.keepAliveTimeout = 65_000
      return server
    },
  })

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
