import { spawn, type ChildProcess } from 'node:child_process'
import type { Teardowns } from './system.js'
import { AGENT_BIN, requireBuilt } from './cli.js'
import { waitFor } from './wait.js'

export interface AgentProcess {
  child: ChildProcess
  pid: number
  healthPort: number
  adminUrl: string
  /** Parsed JSON log lines written so far on standard output. */
  logs(): Array<Record<string, unknown>>
  stderr(): string
  /** Sends a signal and waits for the exit; resolves to the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Runs the built health-agent binary on loopback port 0 and waits until it listens. Killed by PID at teardown. */
export async function spawnAgent(t: Teardowns, args: string[], env: Record<string, string> = {}): Promise<AgentProcess> {
  const child = spawn(process.execPath, [requireBuilt(AGENT_BIN), '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  let exitCode: number | null | undefined
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exitCode = code))))
  t.teardown(async () => {
    if (exitCode === undefined) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const logs = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  const started = await waitFor(
    'the agent to listen',
    () => {
      if (exitCode !== undefined) throw new Error(`agent exited with ${exitCode}: ${err}${out}`)
      return logs().find((l) => typeof l.health === 'string' && typeof l.admin === 'string')
      // A deadline, not a pace: on a busy 2-core machine a Node.js start can take seconds.
    },
    { timeoutMs: 60_000 },
  )
  return {
    child,
    pid: child.pid as number,
    healthPort: Number(String(started.health).split(':').at(-1)),
    adminUrl: `http://${String(started.admin)}`,
    logs,
    stderr: () => err,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exitCode === undefined) child.kill(signal)
      return exited
    },
  }
}
