import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { requireBinary, type Teardowns } from './system.js'
import { waitFor } from './wait.js'

export interface RunningHaproxy {
  process: ChildProcess
  pid: number
  socket: string
  configFile: string
  /** What HAProxy printed so far (it runs in the foreground with -db), for failure messages. */
  output(): string
  command(line: string): Promise<string>
  showStat(): Promise<Array<Record<string, string>>>
  serverStat(backend: string, server: string): Promise<Record<string, string>>
  stop(): Promise<void>
}

/** Sends one runtime API command on the stats socket and returns the whole answer. */
export function haproxyCommand(socket: string, line: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = connect({ path: socket })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      client.destroy()
      reject(new Error(`no answer from ${socket} to "${line}" within ${timeoutMs} ms`))
    }, timeoutMs)
    client.on('connect', () => client.write(`${line}\n`))
    client.on('data', (c: Buffer) => chunks.push(c))
    client.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    client.on('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(chunks).toString('utf8'))
    })
  })
}

/** One CSV line; HAProxy quotes a field that holds a comma or a quote (a check description can). */
function splitCsv(line: string): string[] {
  const fields: string[] = []
  const pattern = /("(?:[^"]|"")*"|[^,]*)(,|$)/g
  for (const match of line.matchAll(pattern)) {
    const field = match[1] as string
    fields.push(field.startsWith('"') ? field.slice(1, -1).replace(/""/g, '"') : field)
    if (match[2] === '') break
  }
  return fields
}

/** `show stat` CSV as objects keyed by the header's column names (pxname, svname, status, scur, ...). */
export function parseShowStat(csv: string): Array<Record<string, string>> {
  const lines = csv.split('\n').filter((l) => l.length > 0)
  const header = (lines.shift() ?? '').replace(/^# /, '').split(',')
  return lines.map((line) => Object.fromEntries(splitCsv(line).map((v, i) => [header[i] ?? String(i), v])))
}

/**
 * Runs a real HAProxy in the foreground (-db) with `config`, plus a global section that opens an
 * admin stats socket in `dir` and holds `globalLines` (such as `node lb1`). Killed by PID at teardown.
 */
export async function startHaproxy(
  t: Teardowns,
  dir: string,
  config: string,
  name = 'haproxy',
  globalLines: string[] = [],
): Promise<RunningHaproxy> {
  const binary = requireBinary('haproxy')
  const socket = join(dir, `${name}.sock`)
  const configFile = join(dir, `${name}.cfg`)
  const global = [`stats socket ${socket} level admin`, 'maxconn 2000', ...globalLines].map((l) => `    ${l}\n`).join('')
  writeFileSync(configFile, `global\n${global}\n${config}\n`)
  const check = spawn(binary, ['-c', '-f', configFile], { stdio: ['ignore', 'pipe', 'pipe'] })
  let checkOutput = ''
  check.stdout.on('data', (c: Buffer) => (checkOutput += c.toString()))
  check.stderr.on('data', (c: Buffer) => (checkOutput += c.toString()))
  const checkCode = await new Promise<number | null>((resolve) => check.on('close', resolve))
  if (checkCode !== 0) throw new Error(`haproxy -c rejected ${configFile}:\n${checkOutput}`)

  const child = spawn(binary, ['-db', '-f', configFile], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()))
  let exited = false
  child.on('exit', () => (exited = true))
  const stop = async () => {
    if (exited || child.pid === undefined) return
    const gone = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await gone
  }
  t.teardown(stop)
  await waitFor(
    `${name} stats socket`,
    async () => {
      if (exited) throw new Error(`haproxy exited at start:\n${output}`)
      return (await haproxyCommand(socket, 'show info', 1000)).includes('Name: HAProxy')
    },
    { timeoutMs: 30_000 },
  )
  const showStat = async () => parseShowStat(await haproxyCommand(socket, 'show stat'))
  return {
    process: child,
    pid: child.pid as number,
    socket,
    configFile,
    output: () => output,
    command: (line) => haproxyCommand(socket, line),
    showStat,
    async serverStat(backend, server) {
      const row = (await showStat()).find((r) => r.pxname === backend && r.svname === server)
      if (!row) throw new Error(`no server ${backend}/${server} in show stat`)
      return row
    },
    stop,
  }
}
