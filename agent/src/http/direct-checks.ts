import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import { CLOSE_GRACE_MS } from './connection-limits.js'

/** Who read a connection on the health listener: the direct check reader, or node:http. */
export const CONNECTION_READERS = ['direct', 'node_http'] as const
export type ConnectionReader = (typeof CONNECTION_READERS)[number]

export interface DirectChecksOptions<Check> {
  /** The check in a connection's first chunk, or null for node:http to read the connection. */
  read: (chunk: Buffer) => Check | null
  /** Answers the check on `socket` (now or after a hold), then ends it. */
  answer: (check: Check, socket: Socket) => void
  /** Counts each connection once it is known who reads it. */
  count: (reader: ConnectionReader) => void
  /** A connection silent this long goes to node:http, whose header timeout then applies. */
  silentMs?: number
  /**
   * A connection read here is destroyed this long after its check arrived, answered or not: the
   * longest hold plus a grace for the answer to leave (a peer that never reads keeps it unsent).
   */
  deadlineMs: number
}

/** Load balancers write their check as soon as they connect: a connection silent a second is something else. */
const SILENT_MS = 1000

/**
 * Reads a check straight from the socket and answers it without node:http's request and response
 * objects: at 1,000 load balancers the check is nearly all the agent does, and those objects cost
 * about a fifth of it. The first chunk of every connection decides: a complete plain check (what
 * HAProxy sends, see check-request.ts) is answered here; anything else is put back in front of the
 * socket and handed, untouched, to node:http's own connection handler, as if it had just arrived.
 */
export class DirectChecks<Check> {
  private readonly toNodeHttp: (socket: Socket) => void
  /** Connections that have not sent anything yet, in order of arrival. */
  private readonly pending = new Map<Socket, number>()
  private sweep: NodeJS.Timeout | null = null
  /** Connections read here and not closed yet, in order of their check's arrival. */
  private readonly answering = new Map<Socket, number>()
  private deadlineSweep: NodeJS.Timeout | null = null
  private readonly onAnsweringClose: (this: Socket) => void
  private closing = false
  private readonly silentMs: number
  private readonly onFirstData: (this: Socket, chunk: Buffer) => void

  /**
   * Reads checks on `server` before node:http does; null, leaving `server` as it was, if its
   * node:http does not have the one connection listener it has in Node.js 20 and 24.
   */
  static install<Check>(server: Server, options: DirectChecksOptions<Check>): DirectChecks<Check> | null {
    const listeners = server.listeners('connection')
    if (listeners.length !== 1) return null
    return new DirectChecks(server, listeners[0] as (socket: Socket) => void, options)
  }

  private constructor(
    server: Server,
    nodeHttp: (socket: Socket) => void,
    private readonly options: DirectChecksOptions<Check>,
  ) {
    this.silentMs = options.silentMs ?? SILENT_MS
    this.toNodeHttp = (socket) => nodeHttp.call(server, socket)
    server.removeListener('connection', nodeHttp)
    server.on('connection', (socket: Socket) => this.accept(socket))
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the socket is `this` in its listener
    const self = this
    this.onFirstData = function (this: Socket, chunk: Buffer) {
      self.first(this, chunk)
    }
    this.onAnsweringClose = function (this: Socket) {
      self.answering.delete(this)
    }
  }

  /**
   * The listener is closing: the connections that have sent nothing yet are closed, and any that
   * still arrives goes to node:http, which answers it as a closing server does.
   */
  close(): void {
    this.closing = true
    for (const socket of this.pending.keys()) socket.destroy()
    this.pending.clear()
    // Held checks were answered just before: their answers leave, then anything left is cut.
    setTimeout(() => {
      for (const socket of this.answering.keys()) socket.destroy()
    }, CLOSE_GRACE_MS).unref()
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      this.toNodeHttp(socket)
      this.options.count('node_http')
      return
    }
    this.pending.set(socket, Date.now())
    socket.on('data', this.onFirstData)
    socket.on('error', destroySocket)
    // The listener allows half-open connections (node:http's choice); a checker that hangs up
    // before its answer (or a TCP connect check) is ended from this side, as node:http does.
    socket.on('end', endSocket)
    this.sweep ??= setTimeout(() => this.handOverSilent(), this.silentMs).unref()
  }

  private first(socket: Socket, chunk: Buffer): void {
    socket.removeListener('data', this.onFirstData)
    this.pending.delete(socket)
    const check = this.options.read(chunk)
    if (check === null) {
      this.handOver(socket, chunk)
      return
    }
    this.options.count('direct')
    // Kept flowing, so that a hang-up while the check is held is seen.
    socket.on('data', ignore)
    // The answer asks to close (as node:http's does): once it has left, the connection is closed
    // whatever the peer does, as node:http's destroySoon() does; the peer may keep its side open.
    socket.once('finish', destroySocket)
    this.answering.set(socket, Date.now())
    socket.once('close', this.onAnsweringClose)
    this.deadlineSweep ??= setTimeout(() => this.cutOverdue(), this.options.deadlineMs).unref()
    this.options.answer(check, socket)
  }

  /** Connections read here live at most deadlineMs, whatever the peer does (never reads, trickles). */
  private cutOverdue(): void {
    this.deadlineSweep = null
    const now = Date.now()
    for (const [socket, since] of this.answering) {
      if (now - since < this.options.deadlineMs) break
      this.answering.delete(socket)
      socket.destroy()
    }
    const oldest = this.answering.values().next()
    if (!oldest.done) this.deadlineSweep = setTimeout(() => this.cutOverdue(), oldest.value + this.options.deadlineMs - now).unref()
  }

  /** node:http reads the connection from here on, starting with `chunk` if something was read. */
  private handOver(socket: Socket, chunk: Buffer | null): void {
    socket.removeListener('data', this.onFirstData)
    socket.removeListener('error', destroySocket)
    socket.removeListener('end', endSocket)
    socket.pause()
    if (chunk) socket.unshift(chunk)
    this.toNodeHttp(socket)
    socket.resume()
    this.options.count('node_http')
  }

  private handOverSilent(): void {
    this.sweep = null
    const now = Date.now()
    for (const [socket, since] of this.pending) {
      if (socket.destroyed) {
        this.pending.delete(socket)
        continue
      }
      if (now - since < this.silentMs) break
      this.pending.delete(socket)
      this.handOver(socket, null)
    }
    if (this.pending.size > 0) this.sweep = setTimeout(() => this.handOverSilent(), this.silentMs).unref()
  }
}

function destroySocket(this: Socket): void {
  this.destroy()
}

function endSocket(this: Socket): void {
  // Ending an ended socket makes an error (with its stack) for nothing.
  if (this.writable) this.end()
}

function ignore(): void {}
