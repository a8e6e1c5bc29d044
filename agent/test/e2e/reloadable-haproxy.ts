import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { haproxyCommand, parseShowStat } from '../helpers/haproxy.js'
import { requireBinary, type Teardowns } from '../helpers/system.js'
import { waitFor } from '../helpers/wait.js'

/** HAProxy's own error counters of a backend, added up over every process since the start. */
export interface BackendCounters {
  econ: number
  eresp: number
  wretr: number
  wredis: number
}

const COUNTERS = ['econ', 'eresp', 'wretr', 'wredis'] as const

export interface ReloadableHaproxy {
  socket: string
  configFile: string
  /** The PID of the process that serves now (it changes on every reload). */
  pid(): number
  command(line: string): Promise<string>
  showStat(): Promise<Array<Record<string, string>>>
  serverStat(backend: string, server: string): Promise<Record<string, string>>
  counters(backend: string): Promise<BackendCounters>
  /**
   * A reload as an operator does it with the recommended settings: `show servers state` saved to
   * the server-state-file, then a new process takes the listeners over (-x) and the old one
   * finishes its connections (-sf).
   */
  reload(): Promise<void>
  reloads: number
}

/**
 * A real HAProxy in the foreground (-db) that can be reloaded. Its global section opens an admin
 * socket that hands the listeners over (`expose-fd listeners`); `config` holds the rest, with its
 * own `server-state-file`. Every process it starts is killed by PID at teardown.
 */
export async function startReloadableHaproxy(
  t: Teardowns,
  dir: string,
  options: { config: string; stateFile: string; globalLines: string[] },
): Promise<ReloadableHaproxy> {
  const binary = requireBinary('haproxy')
  const socket = join(dir, 'haproxy.sock')
  const configFile = join(dir, 'haproxy.cfg')
  const global = [`stats socket ${socket} level admin expose-fd listeners`, 'maxconn 2000', ...options.globalLines]
    .map((l) => `    ${l}\n`)
    .join('')
  writeFileSync(configFile, `global\n${global}\n${options.config}\n`)
  const children = new Set<ChildProcess>()
  t.teardown(async () => {
    await Promise.all(
      [...children].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return
        const gone = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGKILL')
        await gone
      }),
    )
  })
  const base: BackendCounters = { econ: 0, eresp: 0, wretr: 0, wredis: 0 }
  let current: { child: ChildProcess; output: () => string } | null = null

  const launch = async (extra: string[]) => {
    const child = spawn(binary, ['-db', '-f', configFile, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    child.on('exit', () => children.delete(child))
    let output = ''
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()))
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()))
    // A process that exits at start (a port taken meanwhile) fails the launch at once, with its words.
    const exited = new Promise<never>((_, reject) => child.once('exit', () => reject(new Error(`haproxy exited at start:\n${output}`))))
    exited.catch(() => undefined)
    await Promise.race([
      exited,
      waitFor(
        'HAProxy to answer on its socket as the new process',
        async () => new RegExp(`^Pid: ${child.pid}$`, 'm').test(await haproxyCommand(socket, 'show info', 1000)),
        { timeoutMs: 30_000, intervalMs: 50 },
      ),
    ])
    current = { child, output: () => output }
  }
  const command = (line: string) => haproxyCommand(socket, line)
  const showStat = async () => parseShowStat(await command('show stat'))
  const serverStat = async (backend: string, server: string) => {
    const row = (await showStat()).find((r) => r.pxname === backend && r.svname === server)
    if (!row) throw new Error(`no server ${backend}/${server} in show stat`)
    return row
  }
  const ownCounters = async (backend: string): Promise<BackendCounters> => {
    const row = await serverStat(backend, 'BACKEND')
    return Object.fromEntries(COUNTERS.map((k) => [k, Number(row[k] ?? 0)])) as unknown as BackendCounters
  }

  await launch([])
  const self: ReloadableHaproxy = {
    socket,
    configFile,
    reloads: 0,
    pid: () => current?.child.pid ?? 0,
    command,
    showStat,
    serverStat,
    async counters(backend) {
      const now = await ownCounters(backend)
      return Object.fromEntries(COUNTERS.map((k) => [k, base[k] + now[k]])) as unknown as BackendCounters
    },
    async reload() {
      const old = current
      if (!old) throw new Error('haproxy is not running')
      const before = await ownCounters('be')
      writeFileSync(options.stateFile, await command('show servers state'))
      await launch(['-x', socket, '-sf', String(old.child.pid)])
      for (const k of COUNTERS) base[k] += before[k]
      self.reloads++
    },
  }
  return self
}
