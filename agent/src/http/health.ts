import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type { AgentCore } from '../core/agent-core.js'
import { publicStatus, renderStatus } from '../protocol/render.js'
import { followChanges } from './page/changes.js'
import { statusPage } from './page/plugin.js'
import type { Verdict } from '../state/effective.js'
import { HOLD_HEADER, holdCapAfterCut, holdMs, parseHoldHeader } from '../lb/hold.js'
import type { LbView } from '../lb/views.js'
import { HeldChecks } from './held-checks.js'

function checkBody(verdict: Verdict): string {
  return verdict.why ? `${verdict.state}: ${verdict.why}\n` : `${verdict.state}\n`
}

/**
 * The check itself, answered by a plain node:http handler in front of fastify: it is the one
 * request that comes all the time, from every load balancer, and fastify's routing and reply
 * objects would cost it a third of its throughput. It answers from a verdict already computed,
 * so it never waits; the body and headers are rebuilt only when the verdict changes. A check
 * that asks to be held (lb/hold.ts) is answered when the answer changes or its hold runs out.
 */
function checkAnswerer(core: AgentCore): {
  isCheck: (request: IncomingMessage) => boolean
  answer: (request: IncomingMessage, response: ServerResponse) => void
  held: HeldChecks
} {
  const checkPath = core.config.checkPath
  const held = new HeldChecks()
  let answered: Verdict | null = null
  let body = ''
  let headers: Record<string, string | number> = {}
  const send = (response: ServerResponse, view: LbView) => {
    const verdict = core.verdict()
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
    core.metrics.countCheck(verdict.httpStatus)
    view.answered = verdict.httpStatus
    response.writeHead(verdict.httpStatus, headers)
    // Node sends no body for HEAD by itself.
    response.end(body)
  }
  core.on('announce', () => held.releaseAll())
  // A new wait wants every load balancer's next view: the held ones come back after one inter.
  core.on('wait', () => held.releaseAll())
  const holdCut = (view: LbView, heldMs: number, wantedMs: number) => {
    const before = view.holdCapMs
    view.holdCapMs = holdCapAfterCut(heldMs, before)
    if (view.holdCapMs === before) return
    core.logger.warn(
      { lb: view.node, server: view.name, heldMs, holdMs: wantedMs, capMs: view.holdCapMs },
      `load balancer ${view.node} (${view.name}) hung up on a check held ${heldMs} ms of ${wantedMs}: its timeout check is shorter than its X-Health-Hold, or it reloaded; holding its checks at most ${view.holdCapMs} ms from now on`,
    )
  }
  return {
    held,
    isCheck: (request) => {
      const method = request.method
      if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') return false
      const url = request.url ?? ''
      return url === checkPath || (url.startsWith(checkPath) && url[checkPath.length] === '?')
    },
    answer: (request, response) => {
      const httpStatus = core.verdict().httpStatus
      const view = core.recordCheck(request.headers['x-haproxy-server-state'], request.socket, httpStatus)
      const requestedMs = parseHoldHeader(request.headers[HOLD_HEADER])
      const ms =
        requestedMs === null
          ? 0
          : holdMs({
              requestedMs,
              maxMs: core.config.checkHoldMaxMs,
              capMs: view.holdCapMs,
              state: view.state,
              httpStatus,
              wantedSoon: core.lb.tracker.wantsViewSoon(view),
            })
      if (ms > 0)
        held.hold(
          response,
          ms,
          () => send(response, view),
          (heldMs) => holdCut(view, heldMs, ms),
        )
      else send(response, view)
    },
  }
}

/** The health listener's other routes: metrics, a text status and the live page, read-only by construction. */
export const healthRoutes: FastifyPluginAsync<{ core: AgentCore }> = async (app, { core }) => {
  app.get('/metrics', async (_, reply) => {
    const body = await core.metrics.registry.metrics()
    return reply.header('content-type', core.metrics.registry.contentType).send(body)
  })

  // The same detail rule as the page: who and why only with --page-detail full.
  const shown = () => (core.config.pageDetail === 'full' ? core.status() : publicStatus(core.status()))
  app.get('/', async (_, reply) => reply.header('content-type', 'text/plain; charset=utf-8').send(renderStatus(shown())))

  await app.register(statusPage, {
    status: () => core.status(),
    detail: core.config.pageDetail,
    onChange: followChanges([
      [core, ['admin', 'verdict']],
      [core.store, ['problem', 'committed']],
      [core.tomcat, ['change']],
    ]),
    history: (limit) => core.history({ limit, maxBytes: 64 * 1024 }).then((tail) => tail.entries),
  })
}

/**
 * The listener the load balancers reach. It has no route that changes anything: the check,
 * `/metrics` and `/`.
 */
export function buildHealthServer(core: AgentCore): FastifyInstance {
  const check = checkAnswerer(core)
  const app = Fastify({
    logger: false,
    return503OnClosing: true,
    serverFactory: (handler) => {
      const server = createServer((request, response) =>
        check.isCheck(request) ? check.answer(request, response) : handler(request, response),
      )
      // HAProxy opens a connection per check; other checkers keep theirs: do not drop them first.
      server.keepAliveTimeout = 65_000
      return server
    },
  })
  app.register(healthRoutes, { core })
  // Held checks would keep the listener open for their hold: they get their answer now.
  app.addHook('preClose', (done) => {
    check.held.releaseAll()
    done()
  })
  core.metrics.heldChecks(() => check.held.size)
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .header('content-type', 'text/plain; charset=utf-8')
      .send(`no such route: ${request.method} ${request.url} (the check path is ${core.config.checkPath}; read-only listener)\n`),
  )
  return app
}
