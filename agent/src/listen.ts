import { connect, type Server } from 'node:net'
import { unlink } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import { AgentError } from './errors.js'
import { formatListenAddress, parseListenAddress, type ListenAddress } from './config/listen-address.js'

/** A Unix socket file left by a crashed agent answers ECONNREFUSED; a live one must not be removed. */
async function removeStaleSocket(path: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const socket = connect({ path })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
  if (!alive) await unlink(path).catch(() => undefined)
}

/** Why a listener could not be opened, as one line naming the address (and, for a second listener, which). */
export function listenFailure(address: string, err: unknown, what?: string): AgentError {
  const code = (err as NodeJS.ErrnoException).code
  const hint =
    code === 'EADDRINUSE' ? 'address already in use (another agent?)' : code === 'EACCES' ? 'permission denied' : (err as Error).message
  return new AgentError('AGENT_ERR_LISTEN', `cannot listen on ${address}${what ? ` (${what})` : ''}: ${hint}`, { cause: err })
}

/**
 * Binds the fastify instance's node server itself rather than through `fastify.listen()`: on a
 * wildcard address fastify's listen lists the host's interfaces (os.networkInterfaces(), a netlink
 * socket) only to log them, and the systemd unit forbids AF_NETLINK. The agent logs its own line.
 */
async function bind(server: FastifyInstance, options: { path: string } | { host: string; port: number }): Promise<void> {
  await server.ready()
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => reject(err)
    server.server.once('error', failed)
    server.server.listen(options, () => {
      server.server.off('error', failed)
      resolve()
    })
  })
}

/** Listens on `HOST:PORT` or `unix:PATH` and returns the address actually bound (port 0 resolved). */
export async function listenOn(server: FastifyInstance, address: string): Promise<ListenAddress> {
  const parsed = parseListenAddress(address)
  if (!parsed) throw new Error(`not a listen address: ${address}`)
  try {
    if (parsed.kind === 'unix') {
      await removeStaleSocket(parsed.path)
      await bind(server, { path: parsed.path })
      return parsed
    }
    await bind(server, { host: parsed.host, port: parsed.port })
  } catch (err) {
    throw listenFailure(address, err)
  }
  const bound = server.server.address()
  const port = typeof bound === 'object' && bound ? bound.port : parsed.port
  return { kind: 'tcp', host: parsed.host, port }
}

/**
 * Closes a server that listenOn bound, after `fastify.close()`: fastify closes only the servers it
 * listened itself when they come from a serverFactory (the health listener's).
 */
export function stopListening(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve()
  return new Promise((resolve) => server.close(() => resolve()))
}

export { formatListenAddress }
