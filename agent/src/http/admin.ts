import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { AgentError, isAgentError } from '../errors.js'
import { MAX_EXPIRY_SECONDS } from '../state/expiry.js'
import { ADMIN_STATES, isAdminState, type AdminState } from '../state/model.js'
import type { AgentStatus } from '../status.js'
import { bearerMatches } from './token.js'
import { registerWaitRoute, type StartWait } from './wait.js'

export const ADMIN_BODY_LIMIT = 16 * 1024
export const MAX_REASON = 500
export const MAX_BY = 100

export interface AdminDeps {
  token: string
  logger: Logger
  status: () => AgentStatus
  setState: (input: StateRequest) => Promise<unknown>
  /** `GET /v1/wait`: waits for the load balancers to confirm a state. */
  wait?: StartWait
}

export interface StateRequest {
  state: AdminState
  reason?: string
  by?: string
  /** ISO time a drain or down ends by itself, from the request's `for` (seconds). */
  until?: string
}

export function optionalText(body: Record<string, unknown>, key: string, max: number): string | undefined {
  const value = body[key]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') {
    throw new AgentError('AGENT_ERR_BAD_REQUEST', `"${key}": expected a string, got ${typeof value}`)
  }
  // The state file holds one line: a line break in a reason would split it.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new AgentError('AGENT_ERR_BAD_REQUEST', `"${key}": control characters (line breaks, tabs) are not allowed`)
  }
  if (value.length > max) {
    throw new AgentError('AGENT_ERR_BAD_REQUEST', `"${key}": expected at most ${max} characters, got ${value.length}`)
  }
  return value.length > 0 ? value : undefined
}

/** Validates a `PUT /v1/state` body by hand, so that each refusal names what was wrong. */
export function parseStateRequest(body: unknown): StateRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AgentError('AGENT_ERR_BAD_REQUEST', 'expected a JSON object such as {"state":"drain","reason":"deploy v42"}')
  }
  const fields = body as Record<string, unknown>
  const unknown = Object.keys(fields).filter((k) => !['state', 'reason', 'by', 'for'].includes(k))
  if (unknown.length > 0) {
    throw new AgentError('AGENT_ERR_BAD_REQUEST', `unknown field "${unknown[0]}": expected state, reason, by, for`)
  }
  if (!isAdminState(fields.state)) {
    throw new AgentError(
      'AGENT_ERR_BAD_REQUEST',
      fields.state === undefined
        ? `"state" is missing: expected one of ${ADMIN_STATES.join(', ')}`
        : `unknown state ${JSON.stringify(fields.state)}: expected one of ${ADMIN_STATES.join(', ')}`,
    )
  }
  const until = expiryOf(fields.state, fields.for)
  return { state: fields.state, reason: optionalText(fields, 'reason', MAX_REASON), by: optionalText(fields, 'by', MAX_BY), ...(until ? { until } : {}) }
}

/** `for`: seconds until a drain or down ends by itself; the agent's clock turns it into `until`. */
function expiryOf(state: AdminState, value: unknown, now = Date.now()): string | undefined {
  if (value === undefined || value === null) return undefined
  if (state === 'ready') throw new AgentError('AGENT_ERR_BAD_REQUEST', '"for" goes with drain or down: ready does not expire')
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1 || value > MAX_EXPIRY_SECONDS) {
    throw new AgentError('AGENT_ERR_BAD_REQUEST', `"for": expected a number of seconds from 1 to ${MAX_EXPIRY_SECONDS}, got ${JSON.stringify(value)}`)
  }
  return new Date(now + Math.round(value * 1000)).toISOString()
}

/** Maps fastify's own body errors (bad JSON, too large, wrong type) onto the catalogue. */
function toAgentError(err: FastifyError | AgentError): AgentError {
  if (isAgentError(err)) return err
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AgentError('AGENT_ERR_BAD_REQUEST', `request body larger than ${ADMIN_BODY_LIMIT} bytes`)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AgentError('AGENT_ERR_BAD_REQUEST', 'expected Content-Type: application/json')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AgentError('AGENT_ERR_BAD_REQUEST', 'empty body: expected a JSON object')
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new AgentError('AGENT_ERR_BAD_REQUEST', `invalid request body: ${err.message}`)
  }
  return new AgentError('AGENT_ERR_INTERNAL', `internal error: ${err.message}`, { cause: err })
}

function refuse(request: FastifyRequest, reply: FastifyReply, error: AgentError, log: Logger): FastifyReply {
  const fields = { remote: request.ip, method: request.method, url: request.url, code: error.code, status: error.statusCode }
  if (error.statusCode >= 500) log.error({ ...fields, err: error.cause ?? error }, `admin call failed: ${error.message}`)
  else log.warn(fields, `admin call refused: ${error.message}`)
  if (error.statusCode === 401) reply.header('www-authenticate', 'Bearer realm="health-agent"')
  return reply.code(error.statusCode).send({ error: error.code, message: error.message })
}

/** The admin listener: every route needs the bearer token; state changes go through the state file. */
export function buildAdminServer(deps: AdminDeps): FastifyInstance {
  const log = deps.logger.child({ component: 'admin' })
  const app = Fastify({ logger: false, bodyLimit: ADMIN_BODY_LIMIT, return503OnClosing: true })

  app.addHook('onRequest', async (request, reply) => {
    if (!bearerMatches(request.headers.authorization, deps.token)) {
      const why = request.headers.authorization ? 'wrong token' : 'missing Authorization: Bearer <token> header'
      return refuse(request, reply, new AgentError('AGENT_ERR_UNAUTHORIZED', why), log)
    }
  })

  app.get('/v1/status', async () => deps.status())

  app.put('/v1/state', async (request) => {
    const input = parseStateRequest(request.body)
    await deps.setState(input)
    log.info({ remote: request.ip, state: input.state, reason: input.reason, by: input.by, until: input.until }, 'state set through the admin API')
    return deps.status()
  })

  if (deps.wait) registerWaitRoute(app, deps.wait)

  app.setNotFoundHandler((request, reply) =>
    refuse(request, reply, new AgentError('AGENT_ERR_NOT_FOUND', `no such route: ${request.method} ${request.url}`), log),
  )
  app.setErrorHandler((err: FastifyError | AgentError, request, reply) => refuse(request, reply, toAgentError(err), log))
  return app
}
