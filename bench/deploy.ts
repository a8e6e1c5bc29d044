import { readFileSync } from 'node:fs'
import { setTimeout as delay } from 'node:timers/promises'
import type { AgentStatus } from '../agent/src/protocol/status.js'
import { rollingDeploy, versionOfBody, type Stack, type StackHost } from '../agent/test/e2e/stack.js'
import { httpRequest } from '../agent/test/helpers/http.js'
import { LoadGenerator, type LoadReport } from '../agent/test/helpers/load.js'
import { waitFor } from '../agent/test/helpers/wait.js'
import { round } from './lib.js'

/**
 * What the roll and peer parts share: the load of the end-to-end test, a timed rolling-deploy
 * whose step lines are read back into a per-host breakdown, and the agents' own status.
 */

/** The end-to-end test's deploy-war options (generous timeouts: a stuck step fails, it does not hang). */
export const DEPLOY_ARGS = ['--drain-timeout', '60', '--down-timeout', '30', '--ready-timeout', '120']

/** The end-to-end test's load: 8 keep-alive clients, every 5th request a slow one (SLOW_MS). */
export const LOAD = { clients: 8, slowEvery: 5, slowPath: '/app/slow.jsp' }

export interface TimedLine {
  at: number
  line: string
}

/** HAProxy's backend counters: connection and response errors, retries, redispatches. */
export interface Counters {
  econ: number
  eresp: number
  wretr: number
  wredis: number
}

export interface LoadedRun<T> {
  result: T
  report: LoadReport
  /** HAProxy's backend counters over the run. */
  counters: Counters
}

async function counters(stack: Stack): Promise<Counters> {
  const row = await stack.haproxy.serverStat('be', 'BACKEND')
  return { econ: Number(row.econ), eresp: Number(row.eresp), wretr: Number(row.wretr), wredis: Number(row.wredis) }
}

/**
 * Runs `action` under the load: the load starts first and is seen serving, and goes on for
 * `afterMs` once the action is done, so that a failure right after the last host shows too.
 */
export async function underLoad<T>(stack: Stack, versions: string[], action: () => Promise<T>, afterMs = 1000): Promise<LoadedRun<T>> {
  const load = new LoadGenerator({ url: stack.frontendUrl, ...LOAD, maxRequests: 1_000_000, maxSeconds: 900, versionOf: versionOfBody })
  const before = await counters(stack)
  load.start(versions)
  try {
    await waitFor('the load to be served', () => load.report.ok >= 200, { timeoutMs: 30_000, intervalMs: 20 })
    const result = await action()
    await delay(afterMs)
    const report = await load.stop()
    const after = await counters(stack)
    const delta = (key: keyof Counters) => after[key] - before[key]
    return { result, report, counters: { econ: delta('econ'), eresp: delta('eresp'), wretr: delta('wretr'), wredis: delta('wredis') } }
  } finally {
    await load.stop()
  }
}

export function loadSummary(run: LoadedRun<unknown>): Record<string, unknown> {
  const r = run.report
  return {
    requests: r.requests,
    failed: r.failed,
    versions: r.versions,
    unexpected_versions: r.unexpectedVersions,
    haproxy: run.counters,
    first_failures: r.failures.slice(0, 5).map((f) => `${f.at.toFixed(2)}s ${f.path}: ${f.error}`),
  }
}

export interface DeployTiming {
  code: number | null
  seconds: number
  output: string
  lines: TimedLine[]
}

/** scripts/rolling-deploy over the stack's inventory, each output line time-stamped as it comes. */
export async function timedRollingDeploy(inventory: string, war: string): Promise<DeployTiming> {
  const lines: TimedLine[] = []
  const run = await rollingDeploy(inventory, war, DEPLOY_ARGS, (line) => lines.push({ at: Date.now(), line }))
  return { ...run, lines }
}

export interface HostSteps {
  host: string
  total_s: number
  /** Every `PROG: done: STEP (N s)` line of this host, keyed `PROG: STEP`. */
  steps: Record<string, number>
  /** When each of those lines came (epoch ms). */
  ends: Record<string, number>
  startedAt: number
  endedAt: number
}

const HOST_DONE = /^rolling-deploy: host (\d+)\/\d+ (\S+): deployed in ([\d.]+) s$/
const HOST_START = /^rolling-deploy: host (\d+)\/\d+ (\S+): starting$/
const STEP_DONE = /^\[(\d+)\/\d+ (\S+)\] (\S+): done: (.*) \(([\d.]+) s\)$/

/** The per-host step durations that rolling-deploy, deploy-war, pre-deploy and post-deploy print. */
export function parseDeploySteps(lines: TimedLine[]): HostSteps[] {
  const hosts = new Map<string, HostSteps>()
  const host = (name: string, at: number) => {
    let entry = hosts.get(name)
    if (!entry) hosts.set(name, (entry = { host: name, total_s: 0, steps: {}, ends: {}, startedAt: at, endedAt: at }))
    return entry
  }
  for (const { at, line } of lines) {
    let m = HOST_START.exec(line)
    if (m) host(m[2] as string, at).startedAt = at
    m = HOST_DONE.exec(line)
    if (m) {
      const entry = host(m[2] as string, at)
      entry.total_s = Number(m[3])
      entry.endedAt = at
    }
    m = STEP_DONE.exec(line)
    if (m) {
      // "stage /tmp/.../app-v2.war": the path says nothing about time.
      const name = `${m[3]}: ${(m[4] as string).replace(/^stage .*/, 'stage')}`
      const entry = host(m[2] as string, at)
      entry.steps[name] = round((entry.steps[name] ?? 0) + Number(m[5]), 3)
      entry.ends[name] = at
    }
  }
  return [...hosts.values()]
}

export interface StepBreakdown {
  drain_s: number
  down_s: number
  stop_s: number
  stage_and_swap_s: number
  start_s: number
  ready_s: number
  scripts_s: number
}

/** The step lines that matter for the overhead, by short name (seconds). */
export function stepBreakdown(steps: HostSteps): StepBreakdown {
  const s = steps.steps
  const get = (key: string) => s[key] ?? 0
  const drain = get('pre-deploy: drain and wait until every load balancer confirms')
  const down = get('pre-deploy: down and wait until no load balancer sends traffic')
  const ready = get('post-deploy: ready and wait until every load balancer reports UP')
  const deployWarSteps = ['stage', 'pre-deploy', 'stop tomcat', 'swap in the new version', 'start tomcat', 'post-deploy'].map((n) =>
    get(`deploy-war: ${n}`),
  )
  return {
    drain_s: drain,
    down_s: down,
    stop_s: get('deploy-war: stop tomcat'),
    stage_and_swap_s: round(get('deploy-war: stage') + get('deploy-war: swap in the new version'), 3),
    start_s: get('deploy-war: start tomcat'),
    ready_s: ready,
    // Everything outside the timed commands: bash start-up of deploy-war, pre-deploy and
    // post-deploy, their argument parsing, history pruning, rolling-deploy's own loop.
    scripts_s: round(
      steps.total_s -
        deployWarSteps.reduce((a, b) => a + b, 0) +
        (get('deploy-war: pre-deploy') - drain - down) +
        (get('deploy-war: post-deploy') - ready),
      3,
    ),
  }
}

/** GET /v1/status of a host's agent, with its admin token. */
export async function agentStatus(host: StackHost): Promise<AgentStatus> {
  const token = readFileSync(host.tokenFile, 'utf8').trim()
  const res = await httpRequest(`${host.agent.adminUrl}/v1/status`, { headers: { authorization: `Bearer ${token}` } })
  if (res.status !== 200) throw new Error(`${host.name}: /v1/status answered ${res.status}: ${res.body}`)
  return JSON.parse(res.body) as AgentStatus
}

/** Waits until HAProxy reports every server UP and each agent's warm-up has passed. */
export async function allUp(stack: Stack, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    'every server UP in HAProxy with its warm-up passed (or none configured)',
    async () => {
      for (const host of stack.hosts) {
        if ((await stack.serverStatus(host)) !== 'UP') return false
        const warmup = (await agentStatus(host)).tomcat.warmup
        if (warmup !== null && warmup.phase !== 'passed' && warmup.phase !== 'skipped') return false
      }
      return true
    },
    { timeoutMs, intervalMs: 50 },
  )
}

export async function servedVersions(stack: Stack): Promise<string[]> {
  return Promise.all(stack.hosts.map((h) => stack.versionOf(h)))
}

export interface StatusChange {
  at_s: number
  /** Epoch ms. */
  at: number
  server: string
  status: string
}

/**
 * Samples HAProxy's view of every server (show stat) every `everyMs` until stopped, and keeps
 * the changes: the time line of a roll as the load balancer saw it.
 */
export function watchStatuses(stack: Stack, everyMs = 50): { stop(): Promise<StatusChange[]> } {
  const started = Date.now()
  const last = new Map<string, string>()
  const changes: StatusChange[] = []
  let stopping = false
  const loop = (async () => {
    while (!stopping) {
      try {
        for (const row of await stack.haproxy.showStat()) {
          if (row.pxname !== 'be' || row.svname === 'BACKEND' || row.svname === undefined) continue
          const status = row.status ?? ''
          if (last.get(row.svname) !== status) {
            last.set(row.svname, status)
            const at = Date.now()
            changes.push({ at_s: round((at - started) / 1000, 2), at, server: row.svname, status })
          }
        }
      } catch {
        // HAProxy busy: the next sample will tell
      }
      await delay(everyMs)
    }
  })()
  return {
    async stop() {
      stopping = true
      await loop
      return changes
    },
  }
}
