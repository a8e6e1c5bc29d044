import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { TObject } from '@sinclair/typebox'
import type { Logger } from 'pino'
import type { AgentCore } from '../core/agent-core.js'
import { AgentError, isAgentError } from '../errors.js'
import { WEIGHT_HINTS } from '../protocol/requests.js'
import { requestValidator } from '../protocol/validate.js'
import { historyRoutes } from './history.js'
import { stateRoutes } from './state.js'
import { trafficRoutes } from './traffic.js'
import { bearerMatches } from './token.js'
import { waitRoutes } from './wait.js'
import { weightRoutes } from './weight.js'
import { cutConnectionsOnClose } from './connection-limits.js'

export const ADMIN_BODY_LIMIT = 16 * 1024

/** What every admin route plugin is given. */
export interface AdminRouteOptions {
  core: AgentCore
  log: Logger
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
    return new AgentError('AGENT_ERR_BAD_REQUEST', `invalid request body: ${err.message}`, { cause: err })
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

/**
 * The admin listener: every route needs the bearer token; requests are validated against the
 * protocol's schemas before a handler runs; state changes go through the core (and so the state file).
 * Routes are plugins registered the same way, each with the core and the admin log.
 */
export function buildAdminServer(core: AgentCore, token: string): FastifyInstance {
  const log = core.logger.child({ component: 'admin' })
  const app = Fastify({ logger: false, bodyLimit: ADMIN_BODY_LIMIT, return503OnClosing: true })
  cutConnectionsOnClose(app)

  app.setValidatorCompiler(({ schema, httpPart }) =>
    requestValidator(schema as TObject, httpPart === 'querystring' ? 'query' : 'body', WEIGHT_HINTS),
  )
  app.addHook('onRequest', async (request, reply) => {
    if (!bearerMatches(request.headers.authorization, token)) {
      const why = request.headers.authorization ? 'wrong token' : 'missing Authorization: Bearer <token> header'
      return refuse(request, reply, new AgentError('AGENT_ERR_UNAUTHORIZED', why), log)
    }
  })

  const options: AdminRouteOptions = { core, log }
  for (const routes of [stateRoutes, waitRoutes, weightRoutes, historyRoutes, trafficRoutes]) app.register(routes, options)

  app.setNotFoundHandler((request, reply) =>
    refuse(request, reply, new AgentError('AGENT_ERR_NOT_FOUND', `no such route: ${request.method} ${request.url}`), log),
  )
  app.setErrorHandler((err: FastifyError | AgentError, request, reply) => refuse(request, reply, toAgentError(err), log))
  return app
}
