import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createTcpServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'

export interface SeenRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  at: number
}

export interface TestServer {
  port: number
  url(path?: string): string
  /** Every request received, in order. */
  requests: SeenRequest[]
  /** The most requests that were in flight at once. */
  maxInFlight: number
  close(): Promise<void>
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => unknown

/** A small HTTP server on a loopback port, standing in for Tomcat; closed at teardown. */
export async function startHttpServer(t: Test, handler: Handler): Promise<TestServer> {
  const sockets = new Set<Socket>()
  let inFlight = 0
  const state = { requests: [] as SeenRequest[], maxInFlight: 0 }
  const server = createServer((req, res) => {
    state.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, at: Date.now() })
    inFlight++
    state.maxInFlight = Math.max(state.maxInFlight, inFlight)
    res.on('close', () => inFlight--)
    Promise.resolve(handler(req, res)).catch((err: unknown) => {
      res.statusCode = 599
      res.end(String(err))
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  t.teardown(close)
  return {
    port,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    get requests() {
      return state.requests
    },
    get maxInFlight() {
      return state.maxInFlight
    },
    close,
  }
}

/** A TCP server that accepts connections and never answers: a hung (or SIGSTOPped) JVM. */
export async function startSilentServer(t: Test): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  let accepted = 0
  const server = createTcpServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  t.teardown(close)
  return { port: (server.address() as AddressInfo).port, connections: () => accepted, close }
}

/** A loopback port that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createTcpServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
