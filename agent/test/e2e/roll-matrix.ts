import { writeFileSync } from 'node:fs'
import type { Test } from 'tap'
import { agentctl } from '../helpers/cli.js'
import { httpRequest } from '../helpers/http.js'
import { describeFailures, type LoadGenerator } from '../helpers/load.js'
import { waitFor } from '../helpers/wait.js'
import { CHECK, rollingDeploy, stackLoad, startTomcatDaemon, stopTomcatDaemon, type Stack, type StackHost } from './stack.js'

/**
 * The ways an operator rolls a farm, each run against the shared stack under load: (a) the
 * rolling-deploy script; (b) agentctl alone with `down` (no wait on it); (c) the minimal flow,
 * never `down`; (d) the state file alone; (e) a stray GET of the check path before each drain;
 * (f) a stop and start shorter than the probe's fall x interval, `ready` without a wait; (g) HAProxy
 * reloaded while a server is stopped, its state saved as the snippet recommends.
 */

/** The agent's default probe window (fall 3 x 1000 ms): a restart shorter than this is what (f) is about. */
const DEFAULT_PROBE_WINDOW_MS = 3 * 1000
const WAIT_ARGS = ['--timeout', '120']
const MIN_REQUESTS_AFTER = 300

export interface DrainTiming {
  host: string
  /** How long `agentctl drain --wait` took. */
  waitS: number
  /** When HAProxy itself first showed the server NOLB with scur 0, from the same start; null if never seen. */
  haproxyS: number | null
}

export interface MatrixRow {
  id: string
  name: string
  requests: number
  failed: number
  seconds: number
  drains: DrainTiming[]
  note: string | null
}

interface RollContext {
  stack: Stack
  inventory: string
  war: string
  drains: DrainTiming[]
  notes: string[]
}

interface Roll {
  id: string
  name: string
  run(ctx: RollContext): Promise<void>
}

async function ctl(host: StackHost, args: string[]): Promise<void> {
  const r = await agentctl(args, { HEALTH_AGENT_URL: host.agent.adminUrl, HEALTH_AGENT_TOKEN_FILE: host.tokenFile }, 180_000)
  if (r.code !== 0) throw new Error(`agentctl ${args.join(' ')} on ${host.name} exited ${r.code}:\n${r.stdout}${r.stderr}`)
}

/** Stop, put the new WAR in place, start: what every flow does between draining and ready. */
async function swap(host: StackHost, war: string): Promise<void> {
  await stopTomcatDaemon(host)
  host.tomcat.deployWar('/app', war)
  await startTomcatDaemon(host)
}

async function untilUp(stack: Stack, host: StackHost): Promise<void> {
  await waitFor(`${host.name} UP in HAProxy`, async () => (await stack.serverStatus(host)) === 'UP', { timeoutMs: 120_000, intervalMs: 50 })
}

function agentctlFlow(withDown: boolean): Roll['run'] {
  return async ({ stack, war }) => {
    for (const host of stack.hosts) {
      await ctl(host, ['drain', '--wait', ...WAIT_ARGS])
      if (withDown) await ctl(host, ['down'])
      await swap(host, war)
      await ctl(host, ['ready', '--wait', ...WAIT_ARGS])
    }
  }
}

/** Watches HAProxy's own view while a drain is waited for: the first moment it shows NOLB with scur 0. */
function watchDrain(stack: Stack, host: StackHost, started: number): { stop(): Promise<number | null> } {
  let seen: number | null = null
  let running = true
  const loop = (async () => {
    while (running && seen === null) {
      const row = await stack.haproxy.serverStat('be', host.name)
      if (row.status === 'NOLB' && row.scur === '0') seen = Date.now() - started
      else await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      return seen
    },
  }
}

export const ROLLS: Roll[] = [
  {
    id: 'a',
    name: 'rolling-deploy',
    async run({ inventory, war }) {
      const roll = await rollingDeploy(inventory, war, ['--drain-timeout', '120', '--down-timeout', '60', '--ready-timeout', '120'])
      if (roll.code !== 0) throw new Error(`rolling-deploy exited ${roll.code}:\n${roll.output}`)
    },
  },
  { id: 'b', name: 'agentctl-with-down', run: agentctlFlow(true) },
  { id: 'c', name: 'drain-stop-start-ready', run: agentctlFlow(false) },
  {
    id: 'd',
    name: 'state-file-only',
    async run({ stack, war }) {
      for (const host of stack.hosts) {
        const stateFile = host.stateFile
        writeFileSync(stateFile, 'drain\n')
        // No agentctl: the operator watches HAProxy until the server is drained.
        await waitFor(
          `${host.name} drained in HAProxy`,
          async () => {
            const row = await stack.haproxy.serverStat('be', host.name)
            return row.status === 'NOLB' && row.scur === '0'
          },
          { timeoutMs: 120_000, intervalMs: 50 },
        )
        await swap(host, war)
        writeFileSync(stateFile, 'ready\n')
        await untilUp(stack, host)
      }
    },
  },
  {
    id: 'e',
    name: 'stray-request-before-drain',
    async run({ stack, war, drains }) {
      for (const host of stack.hosts) {
        // One GET of the check path, as a person's curl would: it must not hold the drain.
        const stray = await httpRequest(`http://127.0.0.1:${host.agent.healthPort}/health`)
        if (stray.status !== 200) throw new Error(`the stray request got ${stray.status}`)
        const started = Date.now()
        const watch = watchDrain(stack, host, started)
        await ctl(host, ['drain', '--wait', ...WAIT_ARGS])
        const waitS = (Date.now() - started) / 1000
        const seen = await watch.stop()
        drains.push({ host: host.name, waitS, haproxyS: seen === null ? null : seen / 1000 })
        await swap(host, war)
        await ctl(host, ['ready', '--wait', ...WAIT_ARGS])
      }
    },
  },
  {
    id: 'f',
    name: 'restart-under-fall-x-interval',
    async run({ stack, war, notes }) {
      const outages: number[] = []
      for (const host of stack.hosts) {
        await ctl(host, ['drain', '--wait', ...WAIT_ARGS])
        const stopped = Date.now()
        await swap(host, war)
        // ready at once, while the new JVM is still starting; no wait.
        await ctl(host, ['ready'])
        await waitFor(
          `${host.name}'s Tomcat to serve again`,
          async () =>
            (await httpRequest(`http://127.0.0.1:${host.tomcat.httpPort}/app/health.txt`).catch(() => ({ status: 0 }))).status === 200,
          {
            timeoutMs: 60_000,
            intervalMs: 20,
          },
        )
        outages.push(Date.now() - stopped)
        await untilUp(stack, host)
      }
      notes.push(
        `Tomcat stopped to serving again in ${outages.map((ms) => (ms / 1000).toFixed(2)).join('/')} s (probe window ${DEFAULT_PROBE_WINDOW_MS / 1000} s)`,
      )
    },
  },
  {
    id: 'g',
    name: 'haproxy-reload-while-stopped',
    async run({ stack, war }) {
      for (const host of stack.hosts) {
        await ctl(host, ['drain', '--wait', ...WAIT_ARGS])
        await stopTomcatDaemon(host)
        await stack.haproxy.reload()
        const after = await stack.serverStatus(host)
        if (after === 'UP') throw new Error(`${host.name} came back UP after the reload: the saved server state was not loaded`)
        host.tomcat.deployWar('/app', war)
        await startTomcatDaemon(host)
        await ctl(host, ['ready', '--wait', ...WAIT_ARGS])
      }
    },
  },
]

function load(stack: Stack, versions: string[]): LoadGenerator {
  const generator = stackLoad(stack)
  generator.start(versions)
  return generator
}

/** One roll from `from` to `to` under load, asserted: no failed request, no HAProxy error, `to` everywhere. */
export async function runCase(
  t: Test,
  stack: Stack,
  inventory: string,
  roll: Roll,
  from: string,
  to: string,
  war: string,
): Promise<MatrixRow> {
  const label = `(${roll.id}) ${roll.name}, ${from} -> ${to}`
  const before = await stack.backendCounters()
  const generator = load(stack, [from, to])
  await waitFor('load running', () => generator.report.ok >= 100, { timeoutMs: 30_000 })
  const started = Date.now()
  const ctx: RollContext = { stack, inventory, war, drains: [], notes: [] }
  let error: Error | null = null
  try {
    await roll.run(ctx)
  } catch (err) {
    error = err as Error
  }
  const seconds = (Date.now() - started) / 1000
  const mark = generator.report.requests
  await waitFor(`${MIN_REQUESTS_AFTER} requests after the roll`, () => generator.report.requests >= mark + MIN_REQUESTS_AFTER, {
    timeoutMs: 60_000,
    intervalMs: 50,
  })
  const report = await generator.stop()
  const after = await stack.backendCounters()
  const delta = {
    econ: after.econ - before.econ,
    eresp: after.eresp - before.eresp,
    wretr: after.wretr - before.wretr,
    wredis: after.wredis - before.wredis,
  }
  const versions = await Promise.all(stack.hosts.map((h) => stack.versionOf(h)))
  t.error(error, `${label}: the roll completes`)
  t.equal(report.failed, 0, `${label}: no failed request at the client (${report.requests} requests)\n${describeFailures(report)}`)
  t.same(
    delta,
    { econ: 0, eresp: 0, wretr: 0, wredis: 0 },
    `${label}: HAProxy counted no connection or response error, retry or redispatch`,
  )
  t.same(
    versions,
    stack.hosts.map(() => to),
    `${label}: every Tomcat serves ${to}`,
  )
  t.equal(report.unexpectedVersions, 0, `${label}: every response was ${from} or ${to}`)
  t.comment(
    `${label}: ${report.requests} requests, ${report.failed} failed, ${seconds.toFixed(1)} s; HAProxy timers ${JSON.stringify(CHECK)}`,
  )
  return {
    id: roll.id,
    name: roll.name,
    requests: report.requests,
    failed: report.failed,
    seconds,
    drains: ctx.drains,
    note: ctx.notes.join('; ') || null,
  }
}
