import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type { AgentCore } from '../core/agent-core.js'
import { renderStatus } from '../protocol/render.js'
import { publicStatus, publicVerdict } from '../protocol/public-status.js'
import type { Verdict } from '../state/effective.js'
import { followChanges } from './page/changes.js'
import { memoized } from './page/memo.js'
import type { AgentStatus } from '../protocol/status.js'
import { statusPage } from './page/plugin.js'
import { HOLD_HEADER, holdCapAfterCut, holdMs, parseHoldHeader } from '../lb/hold.js'
import type { LbView } from '../lb/views.js'
import { HeldChecks, type HeldConnection } from './held-checks.js'
import { readCheckRequest, type CheckRequest } from './check-request.js'
import { DirectChecks } from './direct-checks.js'
import { directAnswers, prepareAnswer, type PreparedAnswer } from './check-answer.js'
import { cutConnectionsOnClose, KEEP_ALIVE_TIMEOUT_MS, NODE_HTTP_LIMITS } from './connection-limits.js'

/** How long an answer may take to leave after its hold: a peer that never reads gets no longer. */
const ANSWER_GRACE_MS = 2000

/**
 * The check itself, answered in front of fastify: it is the one request that comes all the time,
 * from every load balancer. Most checks are read straight from the socket (direct-checks.ts); the
 * rest come through node:http. Either way it answers from a verdict already computed, so it never
 * waits; the body and headers are rebuilt only when the verdict changes. A check that asks to be
 * held (lb/hold.ts) is answered when the answer changes or its hold runs out.
 */
function checkAnswerer(core: AgentCore): {
  isCheck: (request: IncomingMessage) => boolean
  answer: (request: IncomingMessage, response: ServerResponse) => void
  answerDirect: (check: CheckRequest, socket: Socket) => void
  held: HeldChecks
} {
  const checkPath = core.config.checkPath
  const held = new HeldChecks()
  const directAnswer = directAnswers()
  const prepare = (verdict: Verdict) => prepareAnswer(verdict, core.config.pageDetail === 'full' ? verdict : publicVerdict(verdict))
  let prepared = prepare(core.verdict())
  const current = () => {
    const verdict = core.verdict()
    if (verdict !== prepared.verdict) prepared = prepare(verdict)
    return prepared
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
  /** Records the check, then answers it through `reply` now or after its hold. */
  const take = (
    serverState: string | string[] | undefined,
    holdHeader: string | string[] | undefined,
    socket: Socket,
    connection: HeldConnection,
    reply: (answer: PreparedAnswer) => void,
  ) => {
    const httpStatus = core.verdict().httpStatus
    const view = core.recordCheck(serverState, socket, httpStatus)
    const send = () => {
      const answer = current()
      core.metrics.countCheck(answer.verdict.httpStatus)
      if (view) view.answered = answer.verdict.httpStatus
      reply(answer)
    }
    const requestedMs = parseHoldHeader(holdHeader)
    // A check not kept as a view (lb/views.ts: refused) is answered at once, like any other
    // checker's that does not ask to be held: it holds nothing and changes no view.
    const ms =
      requestedMs === null || view === null
        ? 0
        : holdMs({
            requestedMs,
            maxMs: core.config.checkHoldMaxMs,
            capMs: view.holdCapMs,
            state: view.state,
            httpStatus,
            wantedSoon: core.lb.tracker.wantsViewSoon(view),
          })
    if (ms > 0 && view) held.hold(connection, ms, send, (heldMs) => holdCut(view, heldMs, ms))
    else send()
  }
  return {
    held,
    isCheck: (request) => {
      const method = request.method
      if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') return false
      const url = request.url ?? ''
      return url === checkPath || (url.startsWith(checkPath) && url[checkPath.length] === '?')
    },
    answer: (request, response) =>
      take(request.headers['x-haproxy-server-state'], request.headers[HOLD_HEADER], request.socket, response, (answer) => {
        response.writeHead(answer.verdict.httpStatus, answer.headers)
        // Node sends no body for HEAD by itself.
        response.end(answer.body)
      }),
    answerDirect: (check, socket) =>
      take(check.serverState, check.hold, socket, socket, (answer) => socket.end(directAnswer(answer, check.method))),
  }
}

/** How old the status on `/`, `/status/view` and the page's events may be (a change rebuilds it at once). */
export const STATUS_MEMO_MS = 200

/** The health listener's other routes: metrics, a text status and the live page, read-only by construction. */
export const healthRoutes: FastifyPluginAsync<{ core: AgentCore }> = async (app, { core }) => {
  app.get('/metrics', async (_, reply) => {
    const body = await core.metrics.registry.metrics()
    return reply.header('content-type', core.metrics.registry.contentType).send(body)
  })

  // The same detail rule everywhere on this listener: who, why, paths and errors only with --page-detail full.
  const onChange = followChanges([
    [core, ['admin', 'verdict']],
    [core.store, ['problem', 'committed']],
    [core.tomcat, ['change']],
  ])
  // Built once for every reader in STATUS_MEMO_MS (and at once after a change).
  const status = memoized(() => (core.config.pageDetail === 'full' ? core.status() : publicStatus(core.status())), STATUS_MEMO_MS, onChange)
  app.addHook('onClose', async () => status.close())
  let rendered: { from: AgentStatus; text: string } | null = null
  const text = () => {
    const from = status.get()
    if (rendered?.from !== from) rendered = { from, text: renderStatus(from) }
    return rendered.text
  }
  app.get('/', async (_, reply) => reply.header('content-type', 'text/plain; charset=utf-8').send(text()))

  await app.register(statusPage, {
    status: status.get,
    detail: core.config.pageDetail,
    onChange,
    history: (limit) => core.history({ limit, maxBytes: 64 * 1024 }).then((tail) => tail.entries),
  })
}

/**
 * The listener the load balancers reach. It has no route that changes anything: the check,
 * `/metrics` and `/`.
 */
export function buildHealthServer(core: AgentCore): FastifyInstance {
  const check = checkAnswerer(core)
  let direct: DirectChecks<CheckRequest> | null = null
  const app = Fastify({
    logger: false,
    return503OnClosing: true,
    serverFactory: (handler) => {
      const server = createServer(NODE_HTTP_LIMITS, (request, response) =>
        check.isCheck(request) ? check.answer(request, response) : handler(request, response),
      )
      server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
      direct = DirectChecks.install(server, {
        read: (chunk) => readCheckRequest(chunk, core.config.checkPath),
        answer: check.answerDirect,
        count: (reader) => core.metrics.countConnection(reader),
        deadlineMs: core.config.checkHoldMaxMs + ANSWER_GRACE_MS,
      })
      if (!direct)
        core.logger.warn(
          { node: process.version },
          "this Node.js's HTTP server is not built as expected: every check goes through node:http (correct, at more CPU a check)",
        )
      return server
    },
  })
  app.register(healthRoutes, { core })
  // Held checks would keep the listener open for their hold: they get their answer now; connections
  // that have sent nothing yet are closed.
  app.addHook('preClose', (done) => {
    check.held.close()
    direct?.close()
    done()
  })
  cutConnectionsOnClose(app)
  core.metrics.heldChecks(() => check.held.size)
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .header('content-type', 'text/plain; charset=utf-8')
      .send(`no such route: ${request.method} ${request.url} (the check path is ${core.config.checkPath}; read-only listener)\n`),
  )
  return app
}
