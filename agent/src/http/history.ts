import type { FastifyInstance } from 'fastify'
import { AgentError } from '../errors.js'
import type { AuditTail } from '../state/audit-reader.js'

export const MAX_HISTORY = 1000

export interface HistoryDeps {
  read: (options: { since?: number; limit: number }) => Promise<AuditTail>
}

function parseQuery(query: Record<string, unknown>): { since?: number; limit: number } {
  const unknown = Object.keys(query).filter((k) => k !== 'since' && k !== 'limit')
  if (unknown.length > 0) throw new AgentError('AGENT_ERR_BAD_REQUEST', `unknown parameter "${unknown[0]}": expected since, limit`)
  let since: number | undefined
  if (query.since !== undefined) {
    since = typeof query.since === 'string' ? Date.parse(query.since) : NaN
    if (Number.isNaN(since)) throw new AgentError('AGENT_ERR_BAD_REQUEST', `since: expected an ISO time such as 2026-11-30T08:00:00Z, got ${JSON.stringify(query.since)}`)
  }
  let limit = 20
  if (query.limit !== undefined) {
    limit = typeof query.limit === 'string' && /^\d+$/.test(query.limit) ? Number(query.limit) : NaN
    if (!(limit >= 1 && limit <= MAX_HISTORY)) throw new AgentError('AGENT_ERR_BAD_REQUEST', `limit: expected 1 to ${MAX_HISTORY}, got ${JSON.stringify(query.limit)}`)
  }
  return { since, limit }
}

/**
 * `GET /v1/history?since=ISO&limit=N`: the last admin state changes from the audit log, with who
 * and why. On the admin listener only (behind its token): `by` and `reason` may be private.
 */
export async function historyRoutes(app: FastifyInstance, deps: HistoryDeps): Promise<void> {
  app.get('/v1/history', async (request) => deps.read(parseQuery(request.query as Record<string, unknown>)))
}
