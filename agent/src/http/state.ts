import type { FastifyPluginAsync } from 'fastify'
import { AgentError } from '../errors.js'
import { StateRequestSchema, textOrUndefined, type StateRequest } from '../protocol/requests.js'
import type { AdminRouteOptions } from './admin.js'

/** `GET /v1/status` and `PUT /v1/state`: read the status, set the admin state (answering the new status). */
export const stateRoutes: FastifyPluginAsync<AdminRouteOptions> = async (app, { core, log }) => {
  app.get('/v1/status', async () => core.status())

  app.put<{ Body: StateRequest }>('/v1/state', { schema: { body: StateRequestSchema } }, async (request) => {
    const body = request.body
    if (body.for !== undefined && body.state === 'ready') {
      throw new AgentError('AGENT_ERR_BAD_REQUEST', '"for" goes with drain or down: ready does not expire')
    }
    // The agent's clock turns `for` into `until`, so that the state file says when, not how long.
    const until = body.for === undefined ? undefined : new Date(Date.now() + Math.round(body.for * 1000)).toISOString()
    const input = { state: body.state, reason: textOrUndefined(body.reason), by: textOrUndefined(body.by), ...(until ? { until } : {}) }
    await core.setState(input, 'api')
    log.info({ remote: request.ip, state: input.state, reason: input.reason, by: input.by, until }, 'state set through the admin API')
    return core.status()
  })
}
