import type { FastifyPluginAsync } from 'fastify'
import {
  textOrUndefined,
  weightPercent,
  WeightClearRequestSchema,
  WeightRequestSchema,
  type WeightClearRequest,
  type WeightRequest,
} from '../protocol/requests.js'
import type { AdminRouteOptions } from './admin.js'

/** The agent-check weight override: `PUT /v1/weight` sets it, `DELETE /v1/weight` clears it; both answer the new status. */
export const weightRoutes: FastifyPluginAsync<AdminRouteOptions> = async (app, { core, log }) => {
  app.put<{ Body: WeightRequest }>('/v1/weight', { schema: { body: WeightRequestSchema } }, async (request) => {
    const body = request.body
    const input = {
      percent: weightPercent(body.weight),
      expiresInSeconds: body.expiresInSeconds,
      reason: textOrUndefined(body.reason),
      by: textOrUndefined(body.by),
    }
    await core.weight.setOverride(input)
    log.info(
      { remote: request.ip, percent: input.percent, expiresInSeconds: input.expiresInSeconds, reason: input.reason, by: input.by },
      'weight override set through the admin API',
    )
    return core.status()
  })

  app.delete<{ Body: WeightClearRequest | undefined }>('/v1/weight', { schema: { body: WeightClearRequestSchema } }, async (request) => {
    const input = { reason: textOrUndefined(request.body?.reason), by: textOrUndefined(request.body?.by) }
    const cleared = await core.weight.clearOverride(input)
    log.info(
      { remote: request.ip, cleared: cleared?.percent ?? null, by: input.by },
      cleared ? 'weight override cleared through the admin API' : 'no weight override to clear',
    )
    return core.status()
  })
}
