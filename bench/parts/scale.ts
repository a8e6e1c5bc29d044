import { connect } from 'node:net'
import { spawn } from 'node:child_process'
import { cpuSeconds, freePort, round, rssMb, startAgentProcess, stopChild, until, type BenchContext } from '../lib.js'

const INTERVAL_MS = 2000
const WINDOW_MS = 10_000

/** One check as HAProxy sends it with send-state: HTTP/1.0, no Host, a new connection. */
function check(port: number, lb: number): Promise<void> {
  const header = `UP; address=127.0.0.1; port=8080; name=be/web1; node=lb${lb}; weight=1/3; scur=${lb % 7}/30; qcur=0`
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.on('connect', () => socket.write(`GET /health HTTP/1.0\r\nX-Haproxy-Server-State: ${header}\r\n\r\n`))
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

/** The same 1,000 load balancers against a bare node:http server: what Node.js itself costs for them. */
const BASELINE = `
const http = require('node:http')
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
  res.end('ready\\n')
}).listen(Number(process.argv[1]), '127.0.0.1')
`

function startBaseline(ctx: BenchContext, port: number) {
  const child = spawn(process.execPath, ['-e', BASELINE, String(port)], { stdio: 'ignore' })
  ctx.cleanups.push(() => stopChild(child))
  return child
}

/**
 * The agent's CPU and memory with N simulated load balancers each checking every 2 s. At 1,000
 * the agent and a bare node:http server take turns twice: the machine is shared, and the ratio of
 * the two in the same run is the figure that says what the agent adds.
 */
export async function run(ctx: BenchContext): Promise<Record<string, unknown>> {
  const rows: Array<Record<string, number>> = []
  for (const lbs of [1, 10, 100]) {
    const agent = await startAgentProcess(ctx, `scale-${lbs}`)
    ctx.log(`scale: ${lbs} load balancers`)
    rows.push(await measure(ctx, agent.pid, agent.healthPort, lbs))
    await stopChild(agent.child)
  }
  const agentRuns: Array<Record<string, number>> = []
  const bareRuns: Array<Record<string, number>> = []
  for (let turn = 0; turn < 2; turn++) {
    ctx.log(`scale: 1000 load balancers, agent then bare node:http (turn ${turn + 1} of 2)`)
    const agent = await startAgentProcess(ctx, `scale-1000-${turn}`)
    agentRuns.push(await measure(ctx, agent.pid, agent.healthPort, 1000))
    await stopChild(agent.child)
    const port = await freePort()
    const baseline = startBaseline(ctx, port)
    await until('baseline server', async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok)
    bareRuns.push(await measure(ctx, baseline.pid as number, port, 1000))
    await stopChild(baseline)
  }
  const mean = (runs: Array<Record<string, number>>, key: string) => round(runs.reduce((a, r) => a + (r[key] ?? 0), 0) / runs.length, 2)
  const avg = (runs: Array<Record<string, number>>) => ({
    lbs: 1000,
    checks_per_s: mean(runs, 'checks_per_s'),
    cpu_pct: mean(runs, 'cpu_pct'),
    rss_mb: mean(runs, 'rss_mb'),
  })
  rows.push(avg(agentRuns))
  const bare = avg(bareRuns)
  return {
    lbs: rows,
    baseline_node_http_1000_lbs: bare,
    cpu_ratio_1000_lbs_vs_node_http: round((rows[3]?.cpu_pct ?? 0) / bare.cpu_pct, 3),
    runs_1000_lbs: { agent: agentRuns, node_http: bareRuns },
    interval_ms: INTERVAL_MS,
    window_ms: WINDOW_MS,
  }
}
