import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { startStack, startTomcatDaemon, stopTomcatDaemon, writeAppWar, type Stack, type StackHost } from '../../agent/test/e2e/stack.js'
import { httpRequest } from '../../agent/test/helpers/http.js'
import { waitFor } from '../../agent/test/helpers/wait.js'
import { allUp, loadSummary, parseDeploySteps, stepBreakdown, timedRollingDeploy, underLoad, type HostSteps } from '../deploy.js'
import { median, registrar, round, type BenchContext } from '../lib.js'

/**
 * The baseline an operator would otherwise write: a loop on HAProxy's admin socket, against
 * scripts/rolling-deploy on the same stack, under the same load, in the same run. The loop runs
 * with the servers' health checks disabled (`disable health`), as on a stack without an agent:
 * it pays nothing for checks. Its Tomcat restart is the stack's own stop and start scripts, the
 * ones rolling-deploy runs, and its swap the same copy of the WAR.
 */

const WARMUP_URLS = ['/app/', '/app/slow.jsp']
const POLL_MS = 100
const DRAIN = 'pre-deploy: drain and wait until every load balancer confirms'
const START = 'deploy-war: start tomcat'

interface SocketHost {
  host: string
  total_s: number
  drain_s: number
  maint_s: number
  stop_s: number
  swap_s: number
  start_to_first_200_s: number
  warmup_s: number
  ready_s: number
  /** When the loop started this Tomcat (epoch ms), to read its first 200 from the sampler. */
  tomcat_started_at: number
}

async function serves(host: StackHost): Promise<boolean> {
  const res = await httpRequest(`http://127.0.0.1:${host.tomcat.httpPort}/app/health.txt`).catch(() => ({ status: 0 }))
  return res.status === 200
}

/** The hand-made loop for one host: drain, scur 0, maint, restart with the new WAR, first 200, (warm-up), ready. */
async function socketHost(stack: Stack, host: StackHost, war: string, warmup: boolean): Promise<SocketHost> {
  const cmd = async (line: string) => {
    const out = (await stack.haproxy.command(line)).trim()
    if (out !== '') throw new Error(`haproxy: ${line}: ${out}`)
  }
  const server = `be/${host.name}`
  const started = performance.now()
  let mark = started
  const lap = () => {
    const now = performance.now()
    const s = (now - mark) / 1000
    mark = now
    return round(s, 3)
  }
  await cmd(`set server ${server} state drain`)
  await waitFor(`${server}: scur 0`, async () => (await stack.haproxy.serverStat('be', host.name)).scur === '0', {
    timeoutMs: 60_000,
    intervalMs: POLL_MS,
  })
  const drainS = lap()
  await cmd(`set server ${server} state maint`)
  const maintS = lap()
  await stopTomcatDaemon(host)
  const stopS = lap()
  host.tomcat.deployWar('/app', war)
  const swapS = lap()
  const tomcatStartedAt = Date.now()
  await startTomcatDaemon(host)
  await waitFor(`${host.name}: first 200`, () => serves(host), { timeoutMs: 120_000, intervalMs: POLL_MS })
  const firstS = lap()
  if (warmup) {
    // The agent's defaults: each warm-up URL once, two at a time.
    await Promise.all(WARMUP_URLS.map((p) => httpRequest(`http://127.0.0.1:${host.tomcat.httpPort}${p}`)))
  }
  const warmupS = lap()
  await cmd(`set server ${server} state ready`)
  // With its checks disabled, an operational server shows "no check" instead of UP.
  await waitFor(`${server}: UP`, async () => ['UP', 'no check'].includes(await stack.serverStatus(host)), {
    timeoutMs: 30_000,
    intervalMs: 10,
  })
  const readyS = lap()
  return {
    host: host.name,
    total_s: round((performance.now() - started) / 1000, 3),
    drain_s: drainS,
    maint_s: maintS,
    stop_s: stopS,
    swap_s: swapS,
    start_to_first_200_s: firstS,
    warmup_s: warmupS,
    ready_s: readyS,
    tomcat_started_at: tomcatStartedAt,
  }
}

async function socketRoll(stack: Stack, war: string, warmup: boolean): Promise<{ seconds: number; per_host: SocketHost[] }> {
  for (const h of stack.hosts) await stack.haproxy.command(`disable health be/${h.name}`)
  try {
    const started = performance.now()
    const perHost: SocketHost[] = []
    for (const h of stack.hosts) perHost.push(await socketHost(stack, h, war, warmup))
    return { seconds: round((performance.now() - started) / 1000, 3), per_host: perHost }
  } finally {
    for (const h of stack.hosts) await stack.haproxy.command(`enable health be/${h.name}`)
  }
}

interface Sample {
  at: number
  status: string
  scur: number
}

interface Samples {
  /** What HAProxy showed of each server, every 20 ms. */
  lb: Map<string, Sample[]>
  /**
   * When each Tomcat began to serve: the moment the first request answered 200 after one that was
   * not came back, and how long that request took (Tomcat's first answers after a start are slow).
   */
  servingFrom: Map<string, Array<{ at: number; tookMs: number }>>
}

/**
 * Samples, every 20 ms, what HAProxy shows of each server (status, scur) and whether its Tomcat
 * answers 200: the three reaction figures are read from these against the scripts' step lines.
 */
function sampler(stack: Stack): { stop(): Promise<Samples> } {
  const lb = new Map<string, Sample[]>(stack.hosts.map((h) => [h.name, []]))
  const servingFrom = new Map<string, Array<{ at: number; tookMs: number }>>(stack.hosts.map((h) => [h.name, []]))
  let stopping = false
  const haproxy = (async () => {
    while (!stopping) {
      try {
        for (const row of await stack.haproxy.showStat()) {
          const list = row.pxname === 'be' ? lb.get(row.svname ?? '') : undefined
          list?.push({ at: Date.now(), status: row.status ?? '', scur: Number(row.scur) })
        }
      } catch {
        // HAProxy busy: the next sample tells
      }
      await delay(20)
    }
  })()
  const probes = stack.hosts.map(async (h) => {
    let serving = true
    while (!stopping) {
      const sentAt = Date.now()
      const ok = await serves(h)
      const answeredAt = Date.now()
      if (ok && !serving) servingFrom.get(h.name)?.push({ at: answeredAt, tookMs: answeredAt - sentAt })
      serving = ok
      await delay(20)
    }
  })
  return {
    async stop() {
      stopping = true
      await Promise.all([haproxy, ...probes])
      return { lb, servingFrom }
    },
  }
}

interface Reaction {
  host: string
  drain_to_nolb_s: number | null
  last_request_to_drain_confirmed_s: number | null
  tomcat_200_to_haproxy_up_s: number | null
  /** How long the first request Tomcat answered 200 after its start took. */
  tomcat_first_200_took_s: number | null
  /** From the start of Tomcat to its first 200, as the sampler saw it: the same on both sides if the roll does not slow Tomcat. */
  tomcat_start_to_first_200_s: number | null
}

/** The user's three waits in one host of the agent's roll. */
function reactions(h: HostSteps, samples: Sample[], servingFrom: Array<{ at: number; tookMs: number }>): Reaction {
  const startOf = (step: string) => (h.ends[step] ?? NaN) - (h.steps[step] ?? 0) * 1000
  const drainAt = startOf(DRAIN)
  const mine = samples.filter((s) => s.at >= drainAt && s.at <= h.endedAt)
  const nolb = mine.find((s) => s.status.startsWith('NOLB'))
  const idle = nolb && mine.find((s) => s.at >= nolb.at && s.scur === 0)
  const startAt = startOf(START)
  const first = servingFrom.find((x) => x.at >= startAt && x.at <= h.endedAt)
  const served = first?.at
  const up = served !== undefined ? mine.find((s) => s.at >= served && s.status === 'UP') : undefined
  const s = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b) ? null : round((b - a) / 1000, 3)
  return {
    host: h.host,
    drain_to_nolb_s: s(drainAt, nolb?.at),
    last_request_to_drain_confirmed_s: s(idle?.at, h.ends[DRAIN]),
    tomcat_200_to_haproxy_up_s: s(served, up?.at),
    tomcat_first_200_took_s: first ? round(first.tookMs / 1000, 3) : null,
    tomcat_start_to_first_200_s: s(startAt, served),
  }
}

/** The loop's Tomcat start to its first 200, from the sampler that watched the loop too. */
function loopFirst200(h: SocketHost, servingFrom: Array<{ at: number }>): number | null {
  const first = servingFrom.find((x) => x.at >= h.tomcat_started_at)
  return first ? round((first.at - h.tomcat_started_at) / 1000, 3) : null
}

/** Rounds of (loop, rolling-deploy) per pair: Tomcat's own start varies by a second between rolls, so one of each proves little. */
const ROUNDS = 3

/** One round on a running stack: the loop from `from` to the next version, then rolling-deploy to the one after. */
async function oneRound(stack: Stack, inventory: string, wars: string[], from: number, warmup: boolean): Promise<Record<string, unknown>> {
  const version = (i: number) => `v${i + 1}`
  // Both rolls are watched alike: the sampler's requests load the machine that Tomcat starts on.
  const loopWatch = sampler(stack)
  const socket = await underLoad(stack, [version(from), version(from + 1)], () => socketRoll(stack, wars[from + 1] as string, warmup))
  const loopSamples = await loopWatch.stop()
  await allUp(stack)
  const watch = sampler(stack)
  const agent = await underLoad(stack, [version(from + 1), version(from + 2)], () =>
    timedRollingDeploy(inventory, wars[from + 2] as string),
  )
  const samples = await watch.stop()
  if (agent.result.code !== 0) throw new Error(`rolling-deploy exited ${agent.result.code}:\n${agent.result.output}`)
  await allUp(stack)
  const steps = parseDeploySteps(agent.result.lines)
  const reaction = steps.map((h) => reactions(h, samples.lb.get(h.host) ?? [], samples.servingFrom.get(h.host) ?? []))
  return {
    ratio: round(agent.result.seconds / socket.result.seconds, 3),
    socket_s: socket.result.seconds,
    agent_s: round(agent.result.seconds, 2),
    socket_failed: socket.report.failed,
    agent_failed: agent.report.failed,
    socket: {
      per_host: socket.result.per_host.map((h) => ({
        ...h,
        tomcat_start_to_first_200_s: loopFirst200(h, loopSamples.servingFrom.get(h.host) ?? []),
      })),
      load: loadSummary(socket),
    },
    agent: {
      per_host: steps.map((h, i) => ({
        host: h.host,
        total_s: h.total_s,
        ...stepBreakdown(h),
        tomcat_start_to_first_200_s: reaction[i]?.tomcat_start_to_first_200_s ?? null,
      })),
      load: loadSummary(agent),
    },
    reaction,
  }
}

/**
 * ROUNDS rounds of the loop then rolling-deploy on one stack; the pair's ratio is the median of the
 * rounds' ratios, and the round with that ratio is the one shown step by step.
 */
async function pair(ctx: BenchContext, warmup: boolean): Promise<Record<string, unknown>> {
  const label = warmup ? 'with warm-up' : 'without warm-up'
  const wars = Array.from({ length: 1 + 2 * ROUNDS }, (_, i) => writeAppWar(ctx.tmp, `v${i + 1}`))
  ctx.log(`socket: starting the stack ${label} (HAProxy, 3 Tomcats, 3 agents)`)
  const stack = await startStack(registrar(ctx), join(ctx.tmp, warmup ? 'warm' : 'cold'), { war: wars[0] as string, warmup })
  const inventory = stack.writeInventory(join(ctx.tmp, `inventory-${warmup ? 'warm' : 'cold'}`))
  await allUp(stack)
  const rounds: Array<Record<string, unknown>> = []
  for (let i = 0; i < ROUNDS; i++) {
    ctx.log(`socket: round ${i + 1} of ${ROUNDS} (${label}): the admin-socket loop, then rolling-deploy, under load`)
    rounds.push(await oneRound(stack, inventory, wars, 2 * i, warmup))
  }
  const ratios = rounds.map((r) => r.ratio as number)
  const ratio = round(median(ratios), 3)
  const shown = rounds[ratios.indexOf([...ratios].sort((a, b) => a - b)[Math.floor(ROUNDS / 2)] as number)] as Record<string, unknown>
  const sum = (key: string) => rounds.reduce((total, r) => total + (r[key] as number), 0)
  return {
    ...shown,
    ratio,
    round_ratios: ratios,
    socket_failed: sum('socket_failed'),
    agent_failed: sum('agent_failed'),
    reaction: rounds.flatMap((r) => r.reaction as Reaction[]),
    rounds,
  }
}

/**
 * Median and worst of each reaction figure: the drain ones over every host of every round of both
 * pairs, Tomcat's first 200 to UP over the pair without warm-up (with it, the agent's warm-up sits
 * in between).
 */
function summarize(cold: Reaction[], warm: Reaction[]): Record<string, unknown> {
  const out: Record<string, unknown> = { per_host: [...cold, ...warm] }
  const keys = [
    ['drain_to_nolb_s', [...cold, ...warm]],
    ['last_request_to_drain_confirmed_s', [...cold, ...warm]],
    ['tomcat_200_to_haproxy_up_s', cold],
    ['tomcat_first_200_took_s', cold],
  ] as const
  for (const [key, rows] of keys) {
    const values = rows.map((r) => r[key]).filter((v): v is number => typeof v === 'number')
    const name = key.replace(/_s$/, '')
    out[`${name}_median_s`] = values.length ? round(median(values), 3) : null
    out[`${name}_max_s`] = values.length ? round(Math.max(...values), 3) : null
  }
  return out
}

export async function run(ctx: BenchContext): Promise<Record<string, unknown>> {
  const cold = await pair(ctx, false)
  const warm = await pair(ctx, true)
  return {
    // The figure, `roll.vs_socket_ratio`: rolling-deploy against the loop, no warm-up on either side.
    roll_vs_socket_ratio: cold.ratio,
    roll_vs_socket_ratio_warmup: warm.ratio,
    reaction: summarize(cold.reaction as Reaction[], warm.reaction as Reaction[]),
    failed: (cold.socket_failed as number) + (cold.agent_failed as number) + (warm.socket_failed as number) + (warm.agent_failed as number),
    without_warmup: cold,
    with_warmup: warm,
    sampling: 'HAProxy show stat and each Tomcat polled every 20 ms; the loop polls scur and the first 200 every 100 ms',
  }
}
