import { spawn } from 'node:child_process'
import { join } from 'node:path'
import {
  CHECK,
  SLOW_MS,
  startStack,
  startTomcatDaemon,
  stopTomcatDaemon,
  writeAppWar,
  type Stack,
  type StackHost,
} from '../../agent/test/e2e/stack.js'
import { AGENTCTL_BIN } from '../../agent/test/helpers/cli.js'
import { httpRequest } from '../../agent/test/helpers/http.js'
import { waitFor } from '../../agent/test/helpers/wait.js'
import type { AgentStatus } from '../../agent/src/protocol/status.js'
import {
  agentStatus,
  allUp,
  loadSummary,
  parseDeploySteps,
  servedVersions,
  stepBreakdown,
  timedRollingDeploy,
  underLoad,
  watchStatuses,
  type HostSteps,
  type StatusChange,
} from '../deploy.js'
import { median, registrar, round, type BenchContext } from '../lib.js'
import { saveRollSvg } from '../../agent/test/e2e/roll-svg.js'
import { RollRecorder } from '../../agent/test/e2e/roll-timeline.js'
import { PACKAGE_ROOT } from '../../agent/src/package-info.js'

/** agentctl invocations per host in a rolling-deploy: pre-deploy's drain-then-down, post-deploy's ready. */
const AGENTCTL_PER_HOST = 2
const SAMPLES = 5

const DRAIN = 'pre-deploy: drain and wait until every load balancer confirms'
const DOWN = 'pre-deploy: down and wait until no load balancer sends traffic'
const STOP = 'deploy-war: stop tomcat'
const START = 'deploy-war: start tomcat'
const READY = 'post-deploy: ready and wait until every load balancer reports UP'

/**
 * One host's roll as a time line (seconds from the host's start), from three clocks on one
 * machine: the deploy scripts' step lines, HAProxy's status (sampled every 50 ms) and the agent's
 * own record of Tomcat coming up and of its warm-up. The gaps between them say where time goes.
 */
function hostTimeline(h: HostSteps, changes: StatusChange[], status: AgentStatus) {
  const rel = (at: number | undefined) => (at === undefined || Number.isNaN(at) ? null : round((at - h.startedAt) / 1000, 2))
  const startOf = (step: string) => (h.ends[step] ?? NaN) - (h.steps[step] ?? 0) * 1000
  const mine = changes.filter((c) => c.server === h.host && c.at >= h.startedAt)
  const first = (match: (s: string) => boolean, after: number) => mine.find((c) => match(c.status) && c.at >= after)?.at
  const nolb = first((s) => s.startsWith('NOLB'), startOf(DRAIN))
  const down = first((s) => s.startsWith('DOWN'), nolb ?? startOf(DRAIN))
  const up = first((s) => s === 'UP', startOf(START))
  const tomcatUp = Date.parse(status.tomcat.probe?.since ?? '')
  const warmupDone = Date.parse(status.tomcat.warmup?.finishedAt ?? '')
  const at = {
    drain_step: rel(startOf(DRAIN)),
    haproxy_nolb: rel(nolb),
    drain_confirmed: rel(h.ends[DRAIN]),
    down_step: rel(startOf(DOWN)),
    haproxy_down: rel(down),
    down_confirmed: rel(h.ends[DOWN]),
    tomcat_stopped: rel(h.ends[STOP]),
    tomcat_start_step: rel(startOf(START)),
    agent_saw_tomcat_up: rel(tomcatUp),
    warmup_done: rel(warmupDone),
    haproxy_up: rel(up),
    ready_confirmed: rel(h.ends[READY]),
    host_done: rel(h.endedAt),
  }
  const gap = (a: number | null, b: number | null) => (a === null || b === null ? null : round(b - a, 2))
  return {
    at,
    gaps: {
      drain_until_haproxy_nolb: gap(at.drain_step, at.haproxy_nolb),
      nolb_until_drain_confirmed: gap(at.haproxy_nolb, at.drain_confirmed),
      down_until_haproxy_down: gap(at.down_step, at.haproxy_down),
      haproxy_down_until_confirmed: gap(at.haproxy_down, at.down_confirmed),
      start_until_agent_saw_tomcat_up: gap(at.tomcat_start_step, at.agent_saw_tomcat_up),
      warmup: gap(at.agent_saw_tomcat_up, at.warmup_done),
      warmup_done_until_haproxy_up: gap(at.warmup_done, at.haproxy_up),
      haproxy_up_until_ready_confirmed: gap(at.haproxy_up, at.ready_confirmed),
    },
  }
}

/** The longest request a drain has to wait for: the slow page, asked directly of a Tomcat. */
async function slowestRequestS(host: StackHost): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < SAMPLES; i++) {
    const started = performance.now()
    const res = await httpRequest(`http://127.0.0.1:${host.tomcat.httpPort}/app/slow.jsp`)
    if (res.status !== 200) throw new Error(`${host.name}: slow.jsp answered ${res.status}`)
    times.push(performance.now() - started)
  }
  return Math.max(...times) / 1000
}

interface BareRestart {
  host: string
  stop_s: number
  start_to_first_200_s: number
  warmup_s: number
}

/**
 * A bare restart of one Tomcat with a fresh copy of the WAR (no unpacked app, no compiled JSPs,
 * as after deploy-war's swap), timed directly: the stop script, then the start script until the
 * app's first 200. The agent then warms it up on its own; its status says how long that took.
 * Run before the load starts: the host drops out of HAProxy for the while.
 */
async function bareRestart(stack: Stack, host: StackHost, war: string): Promise<BareRestart> {
  let started = performance.now()
  await stopTomcatDaemon(host)
  const stopS = (performance.now() - started) / 1000
  host.tomcat.deployWar('/app', war)
  started = performance.now()
  await startTomcatDaemon(host)
  await waitFor(
    `${host.name}: first 200 after start`,
    async () => (await httpRequest(`http://127.0.0.1:${host.tomcat.httpPort}/app/health.txt`).catch(() => ({ status: 0 }))).status === 200,
    { timeoutMs: 60_000, intervalMs: 10 },
  )
  const startS = (performance.now() - started) / 1000
  await allUp(stack)
  const warmup = (await agentStatus(host)).tomcat.warmup
  return {
    host: host.name,
    stop_s: round(stopS, 3),
    start_to_first_200_s: round(startS, 3),
    warmup_s: round((warmup?.elapsedMs ?? 0) / 1000, 3),
  }
}

function wallSeconds(command: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(command, args, { stdio: 'ignore' })
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve((performance.now() - started) / 1000) : reject(new Error(`${command} ${args.join(' ')} exited ${code}`)),
    )
  })
}

/** What one agentctl call costs before it does anything: `agentctl status` against an agent, and a bare node. */
async function agentctlStartup(host: StackHost): Promise<{ agentctl_status_s: number; node_bare_s: number }> {
  const status: number[] = []
  const bare: number[] = []
  for (let i = 0; i < SAMPLES; i++) {
    status.push(
      await wallSeconds(process.execPath, [AGENTCTL_BIN, 'status', '--agent', host.agent.adminUrl, '--token-file', host.tokenFile]),
    )
    bare.push(await wallSeconds(process.execPath, ['-e', '0']))
  }
  return { agentctl_status_s: round(median(status), 3), node_bare_s: round(median(bare), 3) }
}

/**
 * A rolling deploy of three real Tomcats under load (the end-to-end stack), against the sum of
 * its unavoidable parts measured on the same stack in the same run.
 */
export async function run(ctx: BenchContext): Promise<Record<string, unknown>> {
  const v1 = writeAppWar(ctx.tmp, 'v1')
  const v2 = writeAppWar(ctx.tmp, 'v2')
  ctx.log('roll: starting the stack (HAProxy, 3 Tomcats, 3 agents)')
  const stack = await startStack(registrar(ctx), ctx.tmp, { war: v1 })
  const inventory = stack.writeInventory(join(ctx.tmp, 'inventory'))
  await allUp(stack)

  ctx.log('roll: measuring the unavoidable parts (slow request, bare Tomcat restarts, agentctl start-up)')
  const inFlightS = await slowestRequestS(stack.hosts[0] as StackHost)
  const bare: BareRestart[] = []
  for (const host of stack.hosts) bare.push(await bareRestart(stack, host, v1))
  const agentctl = await agentctlStartup(stack.hosts[0] as StackHost)

  ctx.log('roll: rolling-deploy v1 -> v2 under load')
  const watch = watchStatuses(stack)
  const recorder = new RollRecorder({ showStat: () => stack.haproxy.showStat(), backend: 'be', frontend: 'fe' })
  recorder.start()
  const loaded = await underLoad(stack, ['v1', 'v2'], () => timedRollingDeploy(inventory, v2))
  const changes = await watch.stop()
  for (const { at, line } of loaded.result.lines) recorder.line(line, at)
  saveRollSvg(await recorder.stop(), join(PACKAGE_ROOT, 'bench/roll-timeline.svg'), 'bench roll: rolling-deploy v1 -> v2 under load')
  const deploy = loaded.result
  if (deploy.code !== 0) throw new Error(`rolling-deploy exited ${deploy.code}:\n${deploy.output}`)
  const versions = await servedVersions(stack)
  if (versions.some((v) => v !== 'v2')) throw new Error(`after the roll the Tomcats serve ${versions.join(', ')}`)
  // The warm-up each host paid in the roll (its agent's last one), not the bare restart's.
  const statuses = await Promise.all(stack.hosts.map((h) => agentStatus(h)))
  const warmups = statuses.map((s) => (s.tomcat.warmup?.elapsedMs ?? 0) / 1000)

  const checkIntervalS = CHECK.inter / 1000
  const riseS = (CHECK.rise * CHECK.fastinter) / 1000
  const unavoidable = bare.map((b, i) => {
    const warmupS = warmups[i] as number
    return {
      ...b,
      warmup_roll_s: round(warmupS, 3),
      sum_s: round(inFlightS + checkIntervalS + b.stop_s + b.start_to_first_200_s + warmupS + riseS, 3),
    }
  })
  const theoreticalS = unavoidable.reduce((a, u) => a + u.sum_s, 0)
  const hostSteps = parseDeploySteps(deploy.lines)
  const perHost = hostSteps.map((h) => {
    const steps = stepBreakdown(h)
    const u = unavoidable.find((x) => x.host === h.host)
    const status = statuses[stack.hosts.findIndex((x) => x.name === h.host)]
    return {
      host: h.host,
      total_s: h.total_s,
      ...steps,
      timeline: status && hostTimeline(h, changes, status),
      // The same parts side by side: what the roll took for each against its floor.
      vs_floor: u && {
        drain_s: [steps.drain_s, round(inFlightS + checkIntervalS, 3)],
        stop_s: [steps.stop_s, u.stop_s],
        start_and_ready_s: [round(steps.start_s + steps.ready_s, 3), round(u.start_to_first_200_s + u.warmup_roll_s + riseS, 3)],
        down_s: [steps.down_s, 0],
      },
    }
  })
  const overheadS = deploy.seconds - theoreticalS
  const agentctlS = AGENTCTL_PER_HOST * stack.hosts.length * agentctl.agentctl_status_s
  return {
    hosts: stack.hosts.length,
    total_s: round(deploy.seconds, 2),
    theoretical_min_s: round(theoreticalS, 2),
    overhead_ratio: round(deploy.seconds / theoreticalS, 3),
    overhead_s: round(overheadS, 2),
    failed: loaded.report.failed,
    load: { ...loadSummary(loaded), clients: 8, slow_every: 5, slow_ms: SLOW_MS },
    unavoidable: {
      in_flight_s: round(inFlightS, 3),
      check_interval_s: checkIntervalS,
      rise_x_fastinter_s: riseS,
      per_host: unavoidable,
      formula:
        "per host: longest in-flight request + one check interval + Tomcat stop + start to first 200 + warm-up (the roll's, from the agent) + rise x fastinter; summed over the hosts",
    },
    per_host: perHost,
    agentctl: {
      ...agentctl,
      calls_per_host: AGENTCTL_PER_HOST,
      total_s: round(agentctlS, 2),
      share_of_overhead: round(agentctlS / overheadS, 3),
    },
    haproxy_timers: CHECK,
  }
}
