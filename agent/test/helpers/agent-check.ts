import { connect, type Socket } from 'node:net'

/**
 * One agent-check exchange as HAProxy does it: connect, optionally send `agent-send` text, read
 * until the agent closes. Resolves with what was read (empty when the agent closed without a word).
 */
export function agentCheckExchange(port: number, send?: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(
        new Error(
          `no close from the agent check on port ${port} within ${timeoutMs} ms; read: ${JSON.stringify(Buffer.concat(chunks).toString())}`,
        ),
      )
    }, timeoutMs)
    socket.on('connect', () => {
      if (send !== undefined) socket.write(send)
    })
    socket.on('data', (c: Buffer) => chunks.push(c))
    const done = () => {
      clearTimeout(timer)
      resolve(Buffer.concat(chunks).toString('utf8'))
    }
    // An agent over its connection cap closes at once, sometimes with a reset: that is "no answer".
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? done() : (clearTimeout(timer), reject(err))))
    socket.on('close', done)
  })
}

/** Connects and resets (RST) the connection as soon as `when` happens. */
export function resetOn(port: number, when: 'connect' | 'data' | 'sent'): Promise<void> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: '127.0.0.1', port })
    socket.on('error', () => undefined)
    socket.on('close', () => resolve())
    if (when === 'connect') socket.on('connect', () => socket.resetAndDestroy())
    else if (when === 'data') socket.on('data', () => socket.resetAndDestroy())
    else socket.on('connect', () => socket.write('backend/server\n', () => socket.resetAndDestroy()))
  })
}

/** Runs `count` tasks, `batch` at a time. */
export async function inBatches<T>(count: number, batch: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = []
  for (let start = 0; start < count; start += batch) {
    const size = Math.min(batch, count - start)
    results.push(...(await Promise.all(Array.from({ length: size }, (_, k) => task(start + k)))))
  }
  return results
}
