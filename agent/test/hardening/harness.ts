import { appendFileSync, readFileSync } from 'node:fs'
import { request, type Agent as HttpAgent } from 'node:http'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Test } from 'tap'
import type { AuditEntry } from '../../src/state/audit.js'
import { spawnAgent, type AgentProcess } from '../helpers/process.js'
import { waitFor } from '../helpers/wait.js'

/** HAProxy's `timeout check` in the snippets: a check slower than this is a failed check. */
export const CHECK_TIMEOUT_MS = 2000

export interface Answer {
  status: number
  body: string
  ms: number
}

/** One request with a deadline; status 0 when the deadline passed or the connection failed. */
export function timedRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number; agent?: HttpAgent } = {},
): Promise<Answer> {
  const started = performance.now()
  return new Promise((resolve) => {
    let done = false
    const finish = (status: number, body: string) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve({ status, body, ms: performance.now() - started })
    }
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => finish(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')))
      res.on('error', () => finish(0, 'response error'))
    })
    const timer = setTimeout(() => {
      finish(0, 'timeout')
      req.destroy()
    }, options.timeoutMs ?? CHECK_TIMEOUT_MS)
    req.on('error', (err) => finish(0, err.message))
    req.end(options.body)
  })
}

export interface Latency {
  checks: number
  timeouts: number
  p50: number
  p99: number
  max: number
  statuses: Record<string, number>
}

/** Checks one after another, as a load balancer does, for `ms`; each with HAProxy's 2 s timeout. */
export async function checkLatency(url: string, ms: number): Promise<Latency> {
  const samples: Answer[] = []
  const end = performance.now() + ms
  while (performance.now() < end) samples.push(await timedRequest(url))
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b)
  const at = (q: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 10) / 10
  const statuses: Record<string, number> = {}
  for (const s of samples) statuses[s.status] = (statuses[s.status] ?? 0) + 1
  return {
    checks: samples.length,
    timeouts: samples.filter((s) => s.status === 0).length,
    p50: at(0.5),
    p99: at(0.99),
    max: at(1),
    statuses,
  }
}

/**
 * The part of `GET /v1/status` these cases read, as the built agent sends it (the suite talks to
 * the agent over HTTP only, so it does not import the agent's own types).
 */
export interface StatusSeen {
  admin: { state: string; reason: string | null } | null
  stateFile: { ok: boolean; problem: { kind: string; message: string } | null }
  tomcat: { warmup: { phase: string; done: number; failed: number } | null }
}

export interface PackedAgent {
  process: AgentProcess
  dir: string
  token: string
  healthUrl: string
  check(): Promise<Answer>
  admin(method: string, path: string, body?: unknown): Promise<Answer>
  status(): Promise<StatusSeen>
  /** Resident memory in MiB, from /proc. */
  rssMiB(): number
}

/** The built agent, on its defaults, with its data in `dir`. Killed by PID at teardown. */
export async function startPackedAgent(t: Test, dir: string, args: string[] = []): Promise<PackedAgent> {
  const agent = await spawnAgent(t, ['--data-dir', dir, ...args])
  const token = readFileSync(join(dir, 'admin-token'), 'utf8').trim()
  const healthUrl = `http://127.0.0.1:${agent.healthPort}`
  const admin = (method: string, path: string, body?: unknown) =>
    timedRequest(`${agent.adminUrl}${path}`, {
      method,
      timeoutMs: 10_000,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  return {
    process: agent,
    dir,
    token,
    healthUrl,
    check: () => timedRequest(`${healthUrl}/health`),
    admin,
    async status() {
      const answer = await admin('GET', '/v1/status')
      if (answer.status !== 200) throw new Error(`GET /v1/status: ${answer.status} ${answer.body}`)
      return JSON.parse(answer.body) as StatusSeen
    },
    rssMiB() {
      const line = readFileSync(`/proc/${agent.pid}/status`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('VmRSS:'))
      return Math.round(Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) / 1024)
    },
  }
}

export interface AuditChain {
  entries: AuditEntry[]
  /** Lines that are not an entry (a write cut short by a full disk). */
  torn: number
  /** Entries whose `from` is not the `to` of the entry before. */
  breaks: string[]
  /** Reasons audited more than once: each change in these tests has a reason of its own. */
  repeated: string[]
}

export function readAuditChain(file: string): AuditChain {
  const entries: AuditEntry[] = []
  let torn = 0
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue
    try {
      const entry = JSON.parse(line) as AuditEntry & { kind?: string }
      if (entry.kind === undefined) entries.push(entry)
    } catch {
      torn++
    }
  }
  const breaks: string[] = []
  for (let i = 1; i < entries.length; i++) {
    const [before, entry] = [entries[i - 1] as AuditEntry, entries[i] as AuditEntry]
    if (entry.from !== before.to) breaks.push(`#${i} ${entry.from}->${entry.to} (${entry.source}, ${entry.reason}) after ->${before.to}`)
  }
  const seen = new Map<string, number>()
  for (const e of entries) if (e.reason) seen.set(e.reason, (seen.get(e.reason) ?? 0) + 1)
  const repeated = [...seen].filter(([, n]) => n > 1).map(([reason, n]) => `${reason} x${n}`)
  return { entries, torn, breaks, repeated }
}

/**
 * Prints a case's figures in the TAP output (and appends them to $HARDENING_FIGURES when set, to
 * compare runs); they are printed before the assertions, so a failing run shows them too.
 */
export function figures(t: Test, name: string, values: Record<string, unknown>): void {
  const line = `${name}: ${JSON.stringify(values)}`
  t.comment(line)
  const file = process.env.HARDENING_FIGURES
  if (file) appendFileSync(file, `${line}\n`)
}

/** Waits until the status says the state file holds `state` with no problem. */
export async function waitForGoodState(agent: PackedAgent, state: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(
    `the agent to read ${state} from a good state file`,
    async () => {
      const s = await agent.status()
      return s.stateFile.ok && s.admin?.state === state
    },
    { timeoutMs, intervalMs: 50 },
  )
}
