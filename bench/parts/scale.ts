import { connect } from 'node:net'
import { spawn } from 'node:child_process'
import { setTimeout as delay } from 'node:timers/promises'
import { cpuSeconds, freePort, round, rssMb, startAgentProcess, stopChild, until, type BenchContext } from '../lib.js'

const INTERVAL_MS = 2000
const WINDOW_MS = 10_000

/** The recommended snippet's hold and inter: a held check, then the next one 100 ms after its answer. */
const HOLD_MS = 1000
const INTER_MS = 100

/** One check as HAProxy sends it with send-state: HTTP/1.0, no Host, a new connection; with `hold`, the snippet's X-Health-Hold. */
function check(port: number, lb: number, hold = false): Promise<void> {
  const header = `UP; address=127.0.0.1; port=8080; name=be/web1; node=lb${lb}; weight=1/3; scur=${lb % 7}/30; qcur=0`
  const asks = hold ? `X-Health-Hold: ${HOLD_MS}\r\n` : ''
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.on('connect', () => socket.write(`GET /health HTTP/1.0\r\nX-Haproxy-Server-State: ${header}\r\n${asks}\r\n`))
    socket.on('data', () => undefined)
    socket.on('error', () => resolve())
    socket.on('close', () => resolve())
  })
}

/** N simulated load balancers checking `port` every 2 s, phases spread; CPU and RSS of `pid` over the window. */
async function measure(ctx: BenchContext, pid: number, port: number, lbs: number): Promise<Record<string, number>> {
  const timers: NodeJS.Timeout[] = []
  let sent = 0
  // Spread the LBs' phases over the interval, as independent HAProxies would be.
  for (let lb = 0; lb < lbs; lb++) {
    const start = setTimeout(
      () => {
        const tick = () => {
          sent++
          void check(port, lb)
        }
        tick()
        timers.push(setInterval(tick, INTERVAL_MS))
      },
      (lb * INTERVAL_MS) / lbs,
    )
    timers.push(start)
  }
  ctx.cleanups.push(() => timers.forEach((timer) => clearTimeout(timer)))
  await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS + 500))
  const cpuBefore = cpuSeconds(pid)
  const sentBefore = sent
  const started = performance.now()
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS))
  const elapsed = (performance.now() - started) / 1000
  const cpu = cpuSeconds(pid) - cpuBefore
  for (const timer of timers) clearTimeout(timer)
  return {
    lbs,
    checks_per_s: round((sent - sentBefore) / elapsed, 1),
    cpu_pct: round((cpu / elapsed) * 100, 2),
    rss_mb: round(rssMb(pid), 1),
  }
}

/**
 * N load balancers on the recommended snippet: each check is held (nothing changes) and the next
 * follows `inter` after its answer, phases spread over one cycle. CPU, RSS, checks/s and the
 * checks open at the end of the window.
 */
async function measureHeld(ctx: BenchContext, pid: number, port: number, lbs: number): Promise<Record<string, number>> {
  let stopped = false
  let sent = 0
  let open = 0
  const loops: Array<Promise<void>> = []
  for (let lb = 0; lb < lbs; lb++) {
    loops.push(
      (async () => {
        await delay((lb * (HOLD_MS + INTER_MS)) / lbs)
        while (!stopped) {
          sent++
          open++
          await check(port, lb, true)
          open--
          await delay(INTER_MS)
        }
      })(),
    )
  }
  ctx.cleanups.push(async () => {
    stopped = true
  })
  await delay(HOLD_MS + INTER_MS + 500)
  const cpuBefore = cpuSeconds(pid)
  const sentBefore = sent
  const started = performance.now()
  await delay(WINDOW_MS)
  const elapsed = (performance.now() - started) / 1000
  const cpu = cpuSeconds(pid) - cpuBefore
  const openAtEnd = open
  stopped = true
  await Promise.all(loops)
  return {
    lbs,
    checks_per_s: round((sent - sentBefore) / elapsed, 1),
    cpu_pct: round((cpu / elapsed) * 100, 2),
    rss_mb: round(rssMb(pid), 1),
    checks_open: openAtEnd,
  }
}

/**
 * The same 1,000 load balancers against a bare node:http server: what Node.js itself costs for
 * them. With an argument `hold`, it answers each request after the snippet's hold, as the agent
 * does with a held check while nothing changes.
 */
const BASELINE = `
const http = require('node:http')
const holdMs = Number(process.argv[2] || 0)
http.createServer((req, res) => {
  const answer = () => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
    res.end('ready\\n')
  }
  if (holdMs > 0) setTimeout(answer, holdMs)
  else answer()
}).listen(Number(process.argv[1]), '127.0.0.1')
`

function startBaseline(ctx: BenchContext, port: number, holdMs = 0) {
  const child = spawn(process.execPath, ['-e', BASELINE, String(port), String(holdMs)], { stdio: 'ignore' })
  ctx.cleanups.push(() => stopChild(child))
  return child
}

/** The share of the agent's connections it read as checks straight from the socket (the rest went to node:http). */
async function directShare(port: number): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const count = (reader: string) =>
    Number(new RegExp(`^health_agent_health_connections_total\\{reader="${reader}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0)
  const direct = count('direct')
  return round(direct / Math.max(1, direct + count('node_http')), 4)
}

/** Turns of the agent and a bare node:http server at 1,000 load balancers: one turn of either can move by 10 %. */
const TURNS = 4

type Measure = (ctx: BenchContext, pid: number, port: number, lbs: number) => Promise<Record<string, number>>

/** TURNS turns, the agent then the bare server (answering after `holdMs`), each measured with `measureWith`. */
async function turns(ctx: BenchContext, label: string, measureWith: Measure, holdMs: number) {
  const agentRuns: Array<Record<string, number>> = []
  const bareRuns: Array<Record<string, number>> = []
  for (let turn = 0; turn < TURNS; turn++) {
    ctx.log(`scale: 1000 load balancers${label}, agent then bare node:http (turn ${turn + 1} of ${TURNS})`)
    const agent = await startAgentProcess(ctx, `scale-1000${label ? '-held' : ''}-${turn}`)
    const run = await measureWith(ctx, agent.pid, agent.healthPort, 1000)
    agentRuns.push({ ...run, direct_share: await directShare(agent.healthPort) })
    await stopChild(agent.child)
    const port = await freePort()
    const baseline = startBaseline(ctx, port, holdMs)
    await until('baseline server', async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, 10_000)
    bareRuns.push(await measureWith(ctx, baseline.pid as number, port, 1000))
    await stopChild(baseline)
  }
  const mean = (runs: Array<Record<string, number>>, key: string) => round(runs.reduce((a, r) => a + (r[key] ?? 0), 0) / runs.length, 2)
  const summary = (runs: Array<Record<string, number>>) => {
    const keys = Object.keys(runs[0] ?? {}).filter((k) => k !== 'lbs')
    return { lbs: 1000, ...Object.fromEntries(keys.map((k) => [k, mean(runs, k)])) } as Record<string, number>
  }
  const agent = summary(agentRuns)
  const bare = summary(bareRuns)
  return { agent, bare, ratio: round((agent.cpu_pct ?? 0) / (bare.cpu_pct ?? 1), 3), runs: { agent: agentRuns, node_http: bareRuns } }
}

/**
 * The agent's CPU and memory with N simulated load balancers each checking every 2 s. At 1,000
 * the agent and a bare node:http server take turns: the machine is shared, and the ratio of the
 * two in the same run is the figure that says what the agent adds. Then the same on the
 * recommended snippet: held checks (hold 1000 ms, the next check 100 ms after each answer)
 * against a bare node:http server that holds each request as long.
 */
export async function run(ctx: BenchContext): Promise<Record<string, unknown>> {
  const rows: Array<Record<string, number>> = []
  for (const lbs of [1, 10, 100]) {
    const agent = await startAgentProcess(ctx, `scale-${lbs}`)
    ctx.log(`scale: ${lbs} load balancers`)
    rows.push(await measure(ctx, agent.pid, agent.healthPort, lbs))
    await stopChild(agent.child)
  }
  const every2s = await turns(ctx, '', measure, 0)
  rows.push(every2s.agent)
  const held = await turns(ctx, ' with held checks', measureHeld, HOLD_MS)
  return {
    lbs: rows,
    baseline_node_http_1000_lbs: every2s.bare,
    cpu_ratio_1000_lbs_vs_node_http: every2s.ratio,
    runs_1000_lbs: every2s.runs,
    held: {
      hold_ms: HOLD_MS,
      inter_ms: INTER_MS,
      agent: held.agent,
      node_http: held.bare,
      cpu_ratio_vs_node_http: held.ratio,
      runs: held.runs,
    },
    interval_ms: INTERVAL_MS,
    window_ms: WINDOW_MS,
  }
}
