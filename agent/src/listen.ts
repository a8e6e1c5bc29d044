import { connect } from 'node:net'
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

/** Listens on `HOST:PORT` or `unix:PATH` and returns the address actually bound (port 0 resolved). */
export async function listenOn(server: FastifyInstance, address: string): Promise<ListenAddress> {
  const parsed = parseListenAddress(address)
  if (!parsed) throw new Error(`not a listen address: ${address}`)
  try {
    if (parsed.kind === 'unix') {
      await removeStaleSocket(parsed.path)
      await server.listen({ path: parsed.path })
      return parsed
    }
    await server.listen({ host: parsed.host, port: parsed.port })
  } catch (err) {
    throw listenFailure(address, err)
  }
  const bound = server.server.address()
  const port = typeof bound === 'object' && bound ? bound.port : parsed.port
  return { kind: 'tcp', host: parsed.host, port }
}

export { formatListenAddress }
