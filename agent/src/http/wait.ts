import { PassThrough } from 'node:stream'
import type { FastifyPluginAsync } from 'fastify'
import type { WaitEvent, WaitHandle } from '../lb/tracker.js'
import { WAIT_DEFAULTS, WaitQuerySchema, type WaitQuery } from '../protocol/requests.js'
import type { AdminRouteOptions } from './admin.js'

/**
 * `GET /v1/wait`: one request that lasts until the goal is confirmed, the deadline passes or the
 * admin state changes, streaming NDJSON: a `progress` line at once, then at least every `progress`
 * seconds and whenever a load balancer's status changes, and a last `done` line with the outcome.
 * A client that only wants the answer reads the last line. Closing the connection ends the wait.
 */
export const waitRoutes: FastifyPluginAsync<AdminRouteOptions> = async (app, { core }) => {
  app.get<{ Querystring: WaitQuery }>('/v1/wait', { schema: { querystring: WaitQuerySchema } }, async (request, reply) => {
    const query = { ...WAIT_DEFAULTS, ...request.query }
    const stream = new PassThrough()
    const write = (event: WaitEvent) => {
      // The client may have gone: fastify destroys the stream then.
      if (stream.destroyed || stream.writableEnded) return
      stream.write(`${JSON.stringify(event)}\n`)
      if (event.event === 'done') stream.end()
    }
    let handle: WaitHandle
    try {
      handle = core.wait(query.for, {
        timeoutMs: query.timeout * 1000,
        forceAfterMs: query['force-after'] * 1000,
        progressMs: query.progress * 1000,
        onEvent: write,
      })
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
