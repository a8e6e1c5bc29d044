import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { Teardowns } from '../helpers/system.js'

/**
 * There is no systemd on the test machine: this runs a unit's commands as systemd would, from
 * the unit files themselves: a clean environment (systemd's PATH, the unit's Environment= and
 * EnvironmentFile=, USER/HOME of User=), the unit's User=, Group= and UMask=, and the "+" (full
 * privileges) and "-" (failure ignored) prefixes. Nothing else of systemd (sandboxing) is applied.
 */
export interface ServiceSection {
  values: Record<string, string[]>
}

/** systemd's PATH for system services (systemd 252, as in bookworm). */
export const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** The [Service] settings of a unit and its drop-ins, in order (a later file adds to or overrides an earlier one). */
export function readService(...files: string[]): ServiceSection {
  const values: Record<string, string[]> = {}
  for (const file of files) {
    let section = ''
    for (const raw of readFileSync(file, 'utf8').split('\n')) {
      const line = raw.trim()
      if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
      const header = /^\[(.+)\]$/.exec(line)
      if (header) {
        section = header[1] as string
        continue
      }
      if (section !== 'Service') continue
      const eq = line.indexOf('=')
      const key = line.slice(0, eq)
      ;(values[key] ??= []).push(line.slice(eq + 1))
    }
  }
  return { values }
}

export const lastValue = (service: ServiceSection, key: string): string | undefined => service.values[key]?.at(-1)

/** Splits a command line or an Environment= value as systemd does: on blanks, with double or single quotes. */
export function splitWords(text: string): string[] {
  const words: string[] = []
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g
  for (const match of text.matchAll(pattern))
    words.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : (match[2] ?? match[3] ?? ''))
  return words
}

function readEnvironmentFile(spec: string): Record<string, string> {
  const optional = spec.startsWith('-')
  const path = optional ? spec.slice(1) : spec
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw err
  }
  const env: Record<string, string> = {}
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const eq = line.indexOf('=')
    env[line.slice(0, eq).trim()] = line
      .slice(eq + 1)
      .trim()
      .replace(/^(["'])(.*)\1$/, '$2')
  }
  return env
}

function account(user: string): { home: string; shell: string } {
  const entry = spawnSync('getent', ['passwd', user], { encoding: 'utf8' }).stdout.trim().split(':')
  return { home: entry[5] ?? '/', shell: entry[6] ?? '/bin/sh' }
}

/** The environment systemd gives the unit's processes. */
export function serviceEnvironment(service: ServiceSection): Record<string, string> {
  const env: Record<string, string> = { PATH: SYSTEMD_PATH, LANG: 'C.UTF-8' }
  const user = lastValue(service, 'User')
  if (user) {
    const { home, shell } = account(user)
    Object.assign(env, { USER: user, LOGNAME: user, HOME: home, SHELL: shell })
  }
  for (const value of service.values.Environment ?? []) {
    for (const assignment of splitWords(value)) {
      const eq = assignment.indexOf('=')
      env[assignment.slice(0, eq)] = assignment.slice(eq + 1)
    }
  }
  for (const spec of service.values.EnvironmentFile ?? []) Object.assign(env, readEnvironmentFile(spec))
  return env
}

export interface ServiceCommand {
  argv: string[]
  /** "+": full privileges, User= not applied. */
  privileged: boolean
  /** "-": a failure is ignored by systemd. */
  failureIgnored: boolean
}

export function parseCommand(line: string): ServiceCommand {
  const prefix = /^[-+@:!]*/.exec(line)?.[0] ?? ''
  return { argv: splitWords(line.slice(prefix.length)), privileged: prefix.includes('+'), failureIgnored: prefix.includes('-') }
}

/** The argv that runs `command` with the unit's User=, Group= and UMask= (util-linux setpriv keeps the environment as given). */
export function asService(service: ServiceSection, command: ServiceCommand): string[] {
  const umask = lastValue(service, 'UMask') ?? '0022'
  const user = lastValue(service, 'User')
  const credentials =
    user && !command.privileged
      ? ['setpriv', `--reuid=${user}`, `--regid=${lastValue(service, 'Group') ?? user}`, '--init-groups', '--']
      : []
  return ['/bin/sh', '-c', `umask ${umask} && exec "$@"`, 'sh', ...credentials, ...command.argv]
}

export interface ServiceProcess {
  child: ChildProcess
  stdout(): string
  stderr(): string
  exited: Promise<number | null>
}

/** Starts `command` as the unit would, with env -i and the unit's environment. Killed by PID at teardown if still running. */
export function startAsService(t: Teardowns, service: ServiceSection, command: ServiceCommand): ServiceProcess {
  const [file, ...args] = asService(service, command)
  const child = spawn(file as string, args, { env: serviceEnvironment(service), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr.on('data', (c: Buffer) => (err += c.toString()))
  let done = false
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => ((done = true), resolve(code))))
  t.teardown(async () => {
    if (!done) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return { child, stdout: () => out, stderr: () => err, exited }
}

/** Runs `command` to completion as the unit would; resolves with its exit code and output. */
export async function runAsService(t: Teardowns, service: ServiceSection, command: ServiceCommand, timeoutMs: number) {
  const started = startAsService(t, service, command)
  const timer = setTimeout(() => started.child.kill('SIGKILL'), timeoutMs)
  const code = await started.exited
  clearTimeout(timer)
  return { code, stdout: started.stdout(), stderr: started.stderr() }
}
