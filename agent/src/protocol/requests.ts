import { Type, type Static } from '@sinclair/typebox'
import { ADMIN_STATES } from '../state/model.js'
import { MAX_EXPIRY_SECONDS } from '../state/expiry.js'
import { WAIT_GOALS } from '../lb/confirm.js'

/**
 * The admin API's requests, declared once: the server validates with these schemas (fastify's
 * schema support, see protocol/validate.ts) and agentctl builds and checks its requests with them.
 */

export const MAX_REASON = 500
export const MAX_BY = 100
export const MIN_WEIGHT_PERCENT = 1
export const MAX_WEIGHT_PERCENT = 100
/** A weight override lasts at most a week. */
export const MAX_WEIGHT_SECONDS = 7 * 24 * 3600
export const DEFAULT_WAIT_TIMEOUT_S = 300
export const MAX_WAIT_S = 86_400
export const MAX_HISTORY = 1000
export const DEFAULT_HISTORY = 20

const oneLine = (max: number, what: string) =>
  Type.String({
    maxLength: max,
    // The state file holds one line: a line break in a reason would split it.
    pattern: '^[^\\u0000-\\u001f\\u007f]*$',
    description: `${what} without control characters (line breaks, tabs), at most ${max} characters`,
  })

const reason = oneLine(MAX_REASON, 'text')
const by = oneLine(MAX_BY, 'a name')

export const AdminStateSchema = Type.Union(
  ADMIN_STATES.map((state) => Type.Literal(state)),
  { description: `one of ${ADMIN_STATES.join(', ')}` },
)

/** `PUT /v1/state`; `for` (drain and down only): seconds until the state ends by itself. */
export const StateRequestSchema = Type.Object(
  {
    state: AdminStateSchema,
    reason: Type.Optional(reason),
    by: Type.Optional(by),
    for: Type.Optional(
      Type.Number({ minimum: 1, maximum: MAX_EXPIRY_SECONDS, description: `a number of seconds from 1 to ${MAX_EXPIRY_SECONDS} (7 days)` }),
    ),
  },
  { additionalProperties: false, examples: ['{"state":"drain","reason":"deploy v42","for":7200}'] },
)
export type StateRequest = Static<typeof StateRequestSchema>

/** `50`, `"50"` or `"50%"`: a whole percentage of the server's HAProxy weight. */
export const WeightPercentSchema = Type.Union(
  [Type.Integer({ minimum: MIN_WEIGHT_PERCENT, maximum: MAX_WEIGHT_PERCENT }), Type.String({ pattern: '^\\s*(100|[1-9][0-9]?)%?\\s*$' })],
  { description: `${MIN_WEIGHT_PERCENT}% to ${MAX_WEIGHT_PERCENT}% such as "50%"` },
)

/** `PUT /v1/weight` */
export const WeightRequestSchema = Type.Object(
  {
    weight: WeightPercentSchema,
    expiresInSeconds: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_WEIGHT_SECONDS, description: `an integer from 1 to ${MAX_WEIGHT_SECONDS} (7 days)` }),
    ),
    reason: Type.Optional(reason),
    by: Type.Optional(by),
  },
  { additionalProperties: false, examples: ['{"weight":"50%","expiresInSeconds":600}'] },
)
export type WeightRequest = Static<typeof WeightRequestSchema>

/** `DELETE /v1/weight` (the body is optional) */
export const WeightClearRequestSchema = Type.Object(
  { reason: Type.Optional(reason), by: Type.Optional(by) },
  { additionalProperties: false, examples: ['{"reason":"load test over"}'] },
)
export type WeightClearRequest = Static<typeof WeightClearRequestSchema>

const waitSeconds = (min: number, max: number) =>
  Type.Number({ minimum: min, maximum: max, description: `a number of seconds from ${min} to ${max}` })

/** `GET /v1/wait?for=drained&timeout=300&force-after=0&progress=1` (seconds; 0 means never for timeout and force-after) */
export const WaitQuerySchema = Type.Object(
  {
    for: Type.Union(
      WAIT_GOALS.map((goal) => Type.Literal(goal)),
      { description: `one of ${WAIT_GOALS.join(', ')}` },
    ),
    timeout: Type.Optional(waitSeconds(0, MAX_WAIT_S)),
    'force-after': Type.Optional(waitSeconds(0, MAX_WAIT_S)),
    progress: Type.Optional(waitSeconds(0.1, 60)),
  },
  { additionalProperties: false },
)
export type WaitQuery = Static<typeof WaitQuerySchema>

/** The percentage a valid `weight` field stands for. */
export function weightPercent(value: WeightRequest['weight']): number {
  return typeof value === 'number' ? value : Number(value.trim().replace(/%$/, ''))
}

/** An empty reason or name is no reason or name. */
export function textOrUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.length === 0 ? undefined : value
}

export const WAIT_DEFAULTS = { timeout: DEFAULT_WAIT_TIMEOUT_S, 'force-after': 0, progress: 1 } as const

/** `GET /v1/history?since=ISO&limit=N` */
export const HistoryQuerySchema = Type.Object(
  {
    since: Type.Optional(Type.String({ description: 'an ISO time such as 2026-11-30T08:00:00Z' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_HISTORY, description: `an integer from 1 to ${MAX_HISTORY}` })),
  },
  { additionalProperties: false },
)
export type HistoryQuery = Static<typeof HistoryQuerySchema>

/** A 0% weight is refused with a pointer to what the caller most likely wants. */
export const WEIGHT_HINTS = {
  weight: (value: unknown): string =>
    /^\s*0%?\s*$/.test(String(value)) ? " (0% would drain the server behind the agent's back: use agentctl drain)" : '',
}
