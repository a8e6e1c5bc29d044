import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { AgentError } from '../errors.js'
import { WAIT_GOALS, type WaitGoal } from '../lb/confirm.js'
import type { WaitEvent, WaitHandle, WaitOptions } from '../lb/tracker.js'

export const DEFAULT_WAIT_TIMEOUT_S = 300
const MAX_WAIT_S = 86_400

export interface WaitRequest {
  goal: WaitGoal
  timeoutMs: number
  forceAfterMs: number
  progressMs: number
}

export type StartWait = (goal: WaitGoal, options: WaitOptions) => WaitHandle

function seconds(query: Record<string, unknown>, key: string, fallback: number, min: number, max: number): number {
  const raw = query[key]
  if (raw === undefined) return fallback
  const text = Array.isArray(raw) ? raw[raw.length - 1] : raw
  if (typeof text !== 'string' || !/^\d+(\.\d+)?$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new AgentError('AGENT_ERR_BAD_REQUEST', `"${key}": expected a number of seconds from ${min} to ${max}, got ${JSON.stringify(text)}`)
  }
  return Number(text)
}

/** `?for=drained&timeout=300&force-after=0&progress=1`: seconds, 0 meaning never for timeout and force-after. */
export function parseWaitQuery(query: unknown): WaitRequest {
  const q = (query ?? {}) as Record<string, unknown>
  const unknown = Object.keys(q).filter((k) => !['for', 'timeout', 'force-after', 'progress'].includes(k))
  if (unknown.length > 0) {
    throw new AgentError('AGENT_ERR_BAD_REQUEST', `unknown parameter "${unknown[0]}": expected for, timeout, force-after, progress`)
  }
  const goal = q.for
  if (typeof goal !== 'string' || !(WAIT_GOALS as readonly string[]).includes(goal)) {
    throw new AgentError(
      'AGENT_ERR_BAD_REQUEST',
      `"for": expected one of ${WAIT_GOALS.join(', ')}, got ${goal === undefined ? 'nothing' : JSON.stringify(goal)}`,
    )
  }
  return {
    goal: goal as WaitGoal,
    timeoutMs: seconds(q, 'timeout', DEFAULT_WAIT_TIMEOUT_S, 0, MAX_WAIT_S) * 1000,
    forceAfterMs: seconds(q, 'force-after', 0, 0, MAX_WAIT_S) * 1000,
    progressMs: seconds(q, 'progress', 1, 0.1, 60) * 1000,
  }
}

/**
 * `GET /v1/wait`: one request that lasts until the goal is confirmed, the deadline passes or the
 * admin state changes, streaming NDJSON: a `progress` line at once, then at least every `progress`
 * seconds and whenever a load balancer's status changes, and a last `done` line with the outcome.
 * A client that only wants the answer reads the last line. Closing the connection ends the wait.
 */
export function registerWaitRoute(app: FastifyInstance, startWait: StartWait): void {
  app.get('/v1/wait', async (request, reply) => {
    const params = parseWaitQuery(request.query)
    const stream = new PassThrough()
    const write = (event: WaitEvent) => {
      // The client may have gone: fastify destroys the stream then.
      if (stream.destroyed || stream.writableEnded) return
      stream.write(`${JSON.stringify(event)}\n`)
      if (event.event === 'done') stream.end()
    }
    let handle: WaitHandle
    try {
      handle = startWait(params.goal, { timeoutMs: params.timeoutMs, forceAfterMs: params.forceAfterMs, progressMs: params.progressMs, onEvent: write })
    } catch (err) {
      stream.destroy()
      throw err
    }
    reply.raw.once('close', () => handle.cancel())
    return reply
      .header('content-type', 'application/x-ndjson; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-accel-buffering', 'no')
      .send(stream)
  })
}
