import { accessSync, constants } from 'node:fs'
import { createServer } from 'node:net'
import { delimiter, join } from 'node:path'

const INSTALL_HINT = 'install the system packages the tests need: sudo scripts/install-system-deps.sh'

/** The absolute path of a system binary, or an error that says how to get it: tests never skip silently. */
export function requireBinary(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin'])) {
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not in this folder
    }
  }
  throw new Error(`${name} not found on PATH: ${INSTALL_HINT}`)
}

/** A TCP port that was free a moment ago on 127.0.0.1, for programs that cannot listen on port 0 themselves. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** What the harness needs of a tap Test: somewhere to register cleanups (the demo passes its own). */
export interface Teardowns {
  teardown(fn: () => unknown): void
}

/**
 * On SIGINT/SIGTERM, or an exit without teardown, `remove` runs anyway (it must be synchronous)
 * and the signal is raised again (for the next such handler, then the default action). Returns
 * the undo, for a teardown that removed everything itself.
 */
export function removeOnExit(remove: () => void): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    remove()
    process.kill(process.pid, signal)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  process.on('exit', remove)
  return () => {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('exit', remove)
  }
}
