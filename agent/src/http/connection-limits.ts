import type { ServerOptions } from 'node:http'
import type { FastifyInstance } from 'fastify'

/**
 * node:http's own limits on the connections it reads, so that none outlives its use whatever the
 * peer does. Every client of the agent sends its head in one write: one that trickles it is holding
 * a descriptor, not checking.
 */
export const NODE_HTTP_LIMITS: ServerOptions = {
  headersTimeout: 10_000,
  requestTimeout: 10_000,
  // node:http checks the two timeouts above this often; its default (30 s) would triple their reach.
  connectionsCheckingInterval: 1000,
}

/**
 * An answered keep-alive connection left idle this long is closed (Node's own default; it used to be
 * 65 s here, which let any client keep a descriptor a minute per connection).
 */
export const KEEP_ALIVE_TIMEOUT_MS = 5000

/** Once a listener closes, in-flight answers get this long; then every connection still open is cut. */
export const CLOSE_GRACE_MS = 250

/**
 * Closing a node:http server waits for every connection to end, and a peer that never finishes its
 * request (or never reads) would hold the agent's exit: after CLOSE_GRACE_MS they are all cut.
 */
export function cutConnectionsOnClose(app: FastifyInstance): void {
  app.addHook('preClose', (done) => {
    const timer = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS).unref()
    app.server.once('close', () => clearTimeout(timer))
    done()
  })
}
