import { spawn } from 'node:child_process'
import { cpuSeconds, freePort, median, requireCommand, round, startAgentProcess, stopChild, until, type BenchContext } from '../lib.js'
import { runWrk, type WrkResult } from '../wrk.js'

const BASELINE = `
const http = require('node:http')
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
  res.end('ready\\n')
}).listen(Number(process.argv[1]), '127.0.0.1')
`

const SECONDS = 4
const ROUNDS = 3

/**
 * wrk against one server, with the server's own CPU time per request: on a machine where wrk and
 * the server share two cores, requests per second also measure wrk and the scheduler, while the
 * server's CPU per request is its own cost.
 */
async function measured(ctx: BenchContext, pid: number, url: string, http10: boolean): Promise<WrkResult & { cpuUs: number }> {
  const before = cpuSeconds(pid)
  const result = await runWrk(ctx, url, { seconds: SECONDS, connections: http10 ? 8 : 32, http10 })
  return { ...result, cpuUs: ((cpuSeconds(pid) - before) * 1e6) / result.requests }
}

async function compare(
  ctx: BenchContext,
  agentUrl: string,
  baselineUrl: string,
  pids: { agent: number; baseline: number },
  http10: boolean,
) {
  const agent: Array<WrkResult & { cpuUs: number }> = []
  const baseline: Array<WrkResult & { cpuUs: number }> = []
  // Alternate the two servers so that a noisy moment hurts both alike.
  for (let i = 0; i < ROUNDS; i++) {
    agent.push(await measured(ctx, pids.agent, agentUrl, http10))
    baseline.push(await measured(ctx, pids.baseline, baselineUrl, http10))
  }
  const agentRps = median(agent.map((r) => r.rps))
  const baselineRps = median(baseline.map((r) => r.rps))
  return {
    agent_rps: round(agentRps, 0),
    baseline_rps: round(baselineRps, 0),
    ratio: round(agentRps / baselineRps, 3),
    p99_ms: round(median(agent.map((r) => r.p99_ms)), 3),
    baseline_p99_ms: round(median(baseline.map((r) => r.p99_ms)), 3),
    cpu_us_per_check: round(median(agent.map((r) => r.cpuUs)), 1),
    baseline_cpu_us_per_check: round(median(baseline.map((r) => r.cpuUs)), 1),
    rps_runs: agent.map((r) => round(r.rps, 0)),
    baseline_rps_runs: baseline.map((r) => round(r.rps, 0)),
    errors: agent.reduce((a, r) => a + r.errors, 0),
  }
}

/** Check requests per second through the health listener against a bare node:http server, same run. */
export async function run(ctx: BenchContext): Promise<Record<string, unknown>> {
  requireCommand('wrk', 'install it with: sudo scripts/install-system-deps.sh --bench')
  const agent = await startAgentProcess(ctx, 'health')
  const port = await freePort()
  const baseline = spawn(process.execPath, ['-e', BASELINE, String(port)], { stdio: 'ignore' })
  ctx.cleanups.push(() => stopChild(baseline))
  await until('baseline server', async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok)

  const agentUrl = `http://127.0.0.1:${agent.healthPort}/health`
  const baselineUrl = `http://127.0.0.1:${port}/health`
  ctx.log('health: keep-alive')
  const pids = { agent: agent.pid, baseline: baseline.pid as number }
  const keepAlive = await compare(ctx, agentUrl, baselineUrl, pids, false)
  ctx.log('health: a new HTTP/1.0 connection per check')
  const perCheck = await compare(ctx, agentUrl, baselineUrl, pids, true)
  return {
    ...keepAlive,
    mode: 'HTTP/1.1 keep-alive, 32 connections',
    conn_per_check: { ...perCheck, mode: 'HTTP/1.0 without Host, a new connection per check (as HAProxy), 8 connections' },
    seconds_per_run: SECONDS,
    runs: ROUNDS,
  }
}
