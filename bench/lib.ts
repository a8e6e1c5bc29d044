import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { PACKAGE_ROOT } from '../agent/src/package-info.js'
import type { Teardowns } from '../agent/test/helpers/system.js'

export const AGENT_BIN = join(PACKAGE_ROOT, 'dist/bin/health-agent.mjs')

/** What every part gets: a scratch folder and a way to register cleanups that run even on failure. */
export interface BenchContext {
  tmp: string
  cleanups: Array<() => Promise<void> | void>
  log(message: string): void
}

export function newContext(): BenchContext {
  const tmp = mkdtempSync(join(tmpdir(), 'health-agent-bench-'))
  const cleanups: BenchContext['cleanups'] = [() => rmSync(tmp, { recursive: true, force: true })]
  return { tmp, cleanups, log: (m) => process.stderr.write(`bench: ${m}\n`) }
}

/** Runs every cleanup, newest first, once; one that fails is reported and the others still run. */
export async function runCleanups(ctx: BenchContext): Promise<void> {
  const cleanups = ctx.cleanups.splice(0).reverse()
  for (const cleanup of cleanups) {
    try {
      await cleanup()
    } catch (err) {
      ctx.log(`cleanup failed: ${(err as Error).message}`)
    }
  }
}

/**
 * The test helpers' teardown registrar (what a tap Test offers, `t.teardown(fn)`), backed by the
 * part's cleanups: the end-to-end stack's Tomcats, agents and HAProxy are killed at the part's
 * end, also when it fails.
 */
export function registrar(ctx: BenchContext): Teardowns {
  return { teardown: (fn) => ctx.cleanups.push(async () => void (await fn())) }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
}

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits

/** Polls until `probe` is truthy or the deadline passes. */
export async function until<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 5): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const value = await probe()
      if (value) return value
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(intervalMs)
  }
}

export interface AgentChild {
  child: ChildProcess
  pid: number
  healthPort: number
  adminPort: number
  dataDir: string
  token: string
}

/** Starts the built agent on free loopback ports in its own data folder; killed by PID at cleanup. */
export async function startAgentProcess(ctx: BenchContext, name: string, extraArgs: string[] = []): Promise<AgentChild> {
  const dataDir = join(ctx.tmp, name)
  const healthPort = await freePort()
  const adminPort = await freePort()
  const child = spawn(
    process.execPath,
    [
      AGENT_BIN,
      '--data-dir',
      dataDir,
      '--listen',
      `127.0.0.1:${healthPort}`,
      '--admin-listen',
      `127.0.0.1:${adminPort}`,
      '--log-level',
      'warn',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  // Its warnings (a failed file watcher, say) explain odd figures: passed on, one line each.
  let partial = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) if (line.trim()) ctx.log(`agent ${name}: ${line}`)
  })
  ctx.cleanups.push(() => stopChild(child))
  await until(`agent ${name} to answer`, async () => (await fetch(`http://127.0.0.1:${healthPort}/health`)).status > 0)
  const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()
  return { child, pid: child.pid as number, healthPort, adminPort, dataDir, token }
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/** Resident set size of a process in MiB, from /proc. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0)
  return kb / 1024
}

/** CPU time (user + system) a process has used so far, in seconds, from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return ticks / 100
}

export function commandVersion(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' })
  return (result.stdout || result.stderr || 'not found').split('\n')[0]?.trim() ?? 'not found'
}

export function requireCommand(command: string, hint: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' })
  if (found.status !== 0) throw new Error(`${command} not found: ${hint}`)
}
