import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { Teardowns } from '../helpers/system.js'
import { waitFor } from '../helpers/wait.js'

/** How to run the two commands from one build: the npm bundle on the host's Node, or the single executable. */
export interface Flavour {
  name: string
  agent: string[]
  agentctl: string[]
}

export interface Started {
  child: ChildProcess
  pid: number
  health: string
  admin: string
  /** From spawn to the agent's "listening" log line. */
  startMs: number
  output(): string
  stop(signal: NodeJS.Signals): Promise<number | null>
}

/** Starts the agent of `flavour` on loopback ports 0 and waits for its start-up line. Killed by PID at teardown. */
export async function startFlavour(t: Teardowns, flavour: Flavour, args: string[]): Promise<Started> {
  const spawnedAt = performance.now()
  // env -i: tap adds its own --import to NODE_OPTIONS of every child, which would load into the
  // bundle's Node (not the executable's) and skew its start-up time and memory.
  const child = spawn(
    'env',
    ['-i', `PATH=${process.env.PATH ?? ''}`, ...flavour.agent, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  let listenedAt = 0
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
    if (!listenedAt && out.includes('"health":"127.0.0.1:')) listenedAt = performance.now()
  })
  child.stderr.on('data', (c: Buffer) => (out += c.toString()))
  let code: number | null | undefined
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve((code = c))))
  t.teardown(async () => {
    if (code === undefined) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const line = await waitFor(
    `${flavour.name} to listen`,
    () => {
      if (code !== undefined) throw new Error(`${flavour.name} exited with ${code}: ${out}`)
      return listenedAt ? out.split('\n').find((l) => l.includes('"health":"127.0.0.1:')) : undefined
    },
    { timeoutMs: 60_000 },
  )
  const parsed = JSON.parse(line) as { health: string; admin: string }
  return {
    child,
    pid: child.pid as number,
    health: parsed.health,
    admin: parsed.admin,
    startMs: listenedAt - spawnedAt,
    output: () => out,
    async stop(signal) {
      if (code === undefined) child.kill(signal)
      return exited
    },
  }
}

/** Resident memory of a process, in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!match) throw new Error(`no VmRSS for ${pid}`)
  return Number(match[1]) / 1024
}
