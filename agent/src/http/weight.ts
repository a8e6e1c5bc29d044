import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { MAX_OVERRIDE_SECONDS, type WeightController } from '../agentcheck/weight.js'
import { MAX_OVERRIDE_PERCENT, MIN_OVERRIDE_PERCENT } from '../agentcheck/weight-file.js'
import { AgentError } from '../errors.js'
import type { AgentStatus } from '../status.js'
import { MAX_BY, MAX_REASON, optionalText } from './admin.js'

export interface WeightRequest {
  percent: number
  expiresInSeconds?: number
  reason?: string
  by?: string
}

const RANGE = `${MIN_OVERRIDE_PERCENT}% to ${MAX_OVERRIDE_PERCENT}%`

/** `"50%"` or `50`: a whole percentage of the server's HAProxy weight. */
export function parsePercent(value: unknown): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim().replace(/%$/, '') : null
  const percent = text !== null && /^\d{1,3}$/.test(text) ? Number(text) : NaN
  if (!(percent >= MIN_OVERRIDE_PERCENT && percent <= MAX_OVERRIDE_PERCENT)) {
    const zero = percent === 0 ? ' (0% would drain the server behind the agent\'s back: use agentctl drain)' : ''
    throw new AgentError('AGENT_ERR_BAD_REQUEST', `"weight": expected ${RANGE} such as "50%", got ${JSON.stringify(value)}${zero}`)
  }
  return percent
}

function asObject(body: unknown, example: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AgentError('AGENT_ERR_BAD_REQUEST', `expected a JSON object such as ${example}`)
  }
  return body as Record<string, unknown>
}

function refuseUnknown(fields: Record<string, unknown>, known: string[]): void {
  const unknown = Object.keys(fields).filter((k) => !known.includes(k))
  if (unknown.length > 0) throw new AgentError('AGENT_ERR_BAD_REQUEST', `unknown field "${unknown[0]}": expected ${known.join(', ')}`)
}

/** Validates a `PUT /v1/weight` body, naming what was wrong. */
export function parseWeightRequest(body: unknown): WeightRequest {
  const fields = asObject(body, '{"weight":"50%","expiresInSeconds":600}')
  refuseUnknown(fields, ['weight', 'expiresInSeconds', 'reason', 'by'])
  if (fields.weight === undefined) throw new AgentError('AGENT_ERR_BAD_REQUEST', `"weight" is missing: expected ${RANGE} such as "50%"`)
  const percent = parsePercent(fields.weight)
  const expires = fields.expiresInSeconds
  if (expires !== undefined && expires !== null && !(Number.isInteger(expires) && (expires as number) >= 1 && (expires as number) <= MAX_OVERRIDE_SECONDS)) {
    throw new AgentError('AGENT_ERR_BAD_REQUEST', `"expiresInSeconds": expected an integer from 1 to ${MAX_OVERRIDE_SECONDS} (7 days), got ${JSON.stringify(expires)}`)
  }
  return {
    percent,
    expiresInSeconds: expires === undefined || expires === null ? undefined : (expires as number),
    reason: optionalText(fields, 'reason', MAX_REASON),
    by: optionalText(fields, 'by', MAX_BY),
  }
}

/**
 * The weight override on the admin listener, behind its token check and error handler:
 * `PUT /v1/weight` sets it, `DELETE /v1/weight` clears it; both answer the new status.
 */
export function registerWeightRoutes(app: FastifyInstance, deps: { weight: WeightController; status: () => AgentStatus; logger: Logger }): void {
  const log = deps.logger.child({ component: 'admin' })

  app.put('/v1/weight', async (request) => {
    const input = parseWeightRequest(request.body)
    await deps.weight.setOverride(input)
    log.info({ remote: request.ip, percent: input.percent, expiresInSeconds: input.expiresInSeconds, reason: input.reason, by: input.by }, 'weight override set through the admin API')
    return deps.status()
  })

  app.delete('/v1/weight', async (request) => {
    const fields = request.body === undefined || request.body === null ? {} : asObject(request.body, '{"reason":"load test over"}')
    refuseUnknown(fields, ['reason', 'by'])
    const input = { reason: optionalText(fields, 'reason', MAX_REASON), by: optionalText(fields, 'by', MAX_BY) }
    const cleared = await deps.weight.clearOverride(input)
    log.info({ remote: request.ip, cleared: cleared?.percent ?? null, by: input.by }, cleared ? 'weight override cleared through the admin API' : 'no weight override to clear')
    return deps.status()
  })
}
