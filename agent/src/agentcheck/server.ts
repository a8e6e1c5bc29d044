import { createServer, type Server, type Socket } from 'node:net'
import type { Logger } from 'pino'
import { formatListenAddress, parseListenAddress } from '../config/listen-address.js'
import { AgentError } from '../errors.js'
import { listenFailure } from '../listen.js'
import type { AgentCheckMetrics } from './metrics.js'
import type { AgentReply } from './reply.js'
import type { AgentCheckStatus } from '../protocol/status.js'
export type { AgentCheckStatus }

/** `agent-send` is a short string; a peer that sends more than this is not HAProxy. */
export const MAX_INCOMING_BYTES = 4096

export interface AgentCheckServerOptions {
  /** Computes the answer; called once per connection, so it must not wait. */
  reply: () => AgentReply
  timeoutMs: number
  maxConnections: number
  metrics: AgentCheckMetrics
  logger: Logger
}

/**
 * HAProxy's agent-check protocol: on each connection, write one line and close. Whatever the
 * peer sends (`agent-send`) is read and dropped. HAProxy may close with a reset once it has its
 * line, so every socket has an 'error' handler; a connection still open timeoutMs after it was
 * accepted is cut off, whatever the peer sends, and at most maxConnections are open at once.
 */
export class AgentCheckServer {
  readonly server: Server
  private readonly options: AgentCheckServerOptions
  private readonly log: Logger
  private readonly sockets = new Set<Socket>()
  private bound: string | null = null

  constructor(options: AgentCheckServerOptions) {
    this.options = options
    this.log = options.logger.child({ component: 'agent-check' })
    this.server = createServer({ noDelay: true, allowHalfOpen: false }, (socket) => this.answer(socket))
    this.server.maxConnections = options.maxConnections
    this.server.on('drop', () => {
      options.metrics.countProblem('dropped')
      this.log.debug({ max: options.maxConnections }, 'agent-check connection dropped: too many open')
    })
  }

  get address(): string | null {
    return this.bound
  }

  get connections(): number {
    return this.sockets.size
  }

  private answer(socket: Socket): void {
    const { metrics } = this.options
    this.sockets.add(socket)
    metrics.connectionOpened()
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE'
      metrics.countProblem(reset ? 'reset' : 'other')
      this.log.debug({ code: err.code, remote: socket.remoteAddress }, `agent-check connection error: ${err.message}`)
    })
    socket.on('close', () => {
      this.sockets.delete(socket)
      metrics.connectionClosed()
    })
    // From the connection's start, not its last byte: a peer trickling bytes must not keep a slot.
    const deadline = setTimeout(() => {
      metrics.countProblem('timeout')
      socket.destroy()
    }, this.options.timeoutMs).unref()
    socket.once('close', () => clearTimeout(deadline))
    let received = 0
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
      if (received > MAX_INCOMING_BYTES) {
        metrics.countProblem('oversized')
        socket.destroy()
      }
    })
    let reply: AgentReply
    try {
      reply = this.options.reply()
    } catch (err) {
      // A bug, not a peer's doing: no answer is better than a wrong one (HAProxy changes nothing).
      this.log.error({ err }, 'could not compute the agent-check answer')
      socket.destroy()
      return
    }
    socket.end(reply.line)
    metrics.countReply(reply.word)
  }

  /** Listens on `HOST:PORT` (port 0 for any) and returns the address bound. */
  async listen(address: string): Promise<{ kind: 'tcp'; host: string; port: number }> {
    const parsed = parseListenAddress(address)
    if (!parsed || parsed.kind !== 'tcp')
      throw new AgentError('AGENT_ERR_LISTEN', `cannot listen on ${address}: the agent check needs HOST:PORT`)
    await new Promise<void>((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException) => reject(listenFailure(address, err, 'agent check'))
      this.server.once('error', fail)
      this.server.listen({ host: parsed.host, port: parsed.port }, () => {
        this.server.off('error', fail)
        this.server.on('error', (err) => this.log.error({ err }, 'agent-check listener error'))
        resolve()
      })
    })
    const bound = this.server.address()
    const result = { kind: 'tcp' as const, host: parsed.host, port: typeof bound === 'object' && bound ? bound.port : parsed.port }
    this.bound = formatListenAddress(result)
    return result
  }

  /** Stops listening and cuts the connections still open (an answer is a single write; nothing is lost). */
  async close(): Promise<void> {
    if (!this.server.listening) return
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const socket of this.sockets) socket.destroy()
    await closed
  }
}
