import type { FastifyPluginAsync } from 'fastify'
import { AgentError } from '../errors.js'
import { DEFAULT_HISTORY, HistoryQuerySchema, type HistoryQuery } from '../protocol/requests.js'
import type { AdminRouteOptions } from './admin.js'

/**
 * `GET /v1/history?since=ISO&limit=N`: the last admin state changes from the audit log, with who
 * and why. On the admin listener only (behind its token): `by` and `reason` may be private.
 */
export const historyRoutes: FastifyPluginAsync<AdminRouteOptions> = async (app, { core }) => {
  app.get<{ Querystring: HistoryQuery }>('/v1/history', { schema: { querystring: HistoryQuerySchema } }, async (request) => {
    const { since, limit = DEFAULT_HISTORY } = request.query
    const sinceMs = since === undefined ? undefined : Date.parse(since)
    if (sinceMs !== undefined && Number.isNaN(sinceMs)) {
      throw new AgentError(
        'AGENT_ERR_BAD_REQUEST',
        `"since": expected an ISO time such as 2026-11-30T08:00:00Z, got ${JSON.stringify(since)}`,
      )
    }
    return core.history({ since: sinceMs, limit })
  })
}
