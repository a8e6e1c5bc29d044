import type { FastifyPluginAsync } from 'fastify'
import { StateRequestSchema, textOrUndefined, type StateRequest } from '../protocol/requests.js'
import type { AdminRouteOptions } from './admin.js'

/** `GET /v1/status` and `PUT /v1/state`: read the status, set the admin state (answering the new status). */
export const stateRoutes: FastifyPluginAsync<AdminRouteOptions> = async (app, { core, log }) => {
  app.get('/v1/status', async () => core.status())

  app.put<{ Body: StateRequest }>('/v1/state', { schema: { body: StateRequestSchema } }, async (request) => {
    const input = { state: request.body.state, reason: textOrUndefined(request.body.reason), by: textOrUndefined(request.body.by) }
    await core.setState(input, 'api')
    log.info({ remote: request.ip, state: input.state, reason: input.reason, by: input.by }, 'state set through the admin API')
    return core.status()
  })
}
