import { spawn } from 'node:child_process'
import { freePort, median, requireCommand, round, startAgentProcess, stopChild, until, type BenchContext } from '../lib.js'
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

async function compare(ctx: BenchContext, agentUrl: string, baselineUrl: string, http10: boolean) {
  const agent: WrkResult[] = []
  const baseline: WrkResult[] = []
  // Alternate the two servers so that a noisy moment hurts both alike.
  for (let i = 0; i < ROUNDS; i++) {
    agent.push(await runWrk(ctx, agentUrl, { seconds: SECONDS, connections: http10 ? 8 : 32, http10 }))
    baseline.push(await runWrk(ctx, baselineUrl, { seconds: SECONDS, connections: http10 ? 8 : 32, http10 }))
  }
  const agentRps = median(agent.map((r) => r.rps))
  const baselineRps = median(baseline.map((r) => r.rps))
  return {
    agent_rps: round(agentRps, 0),
    baseline_rps: round(baselineRps, 0),
    ratio: round(agentRps / baselineRps, 3),
    p99_ms: round(median(agent.map((r) => r.p99_ms)), 3),
    baseline_p99_ms: round(median(baseline.map((r) => r.p99_ms)), 3),
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
  const keepAlive = await compare(ctx, agentUrl, baselineUrl, false)
  ctx.log('health: a new HTTP/1.0 connection per check')
  const perCheck = await compare(ctx, agentUrl, baselineUrl, true)
  return {
    ...keepAlive,
    mode: 'HTTP/1.1 keep-alive, 32 connections',
    conn_per_check: { ...perCheck, mode: 'HTTP/1.0 without Host, a new connection per check (as HAProxy), 8 connections' },
    seconds_per_run: SECONDS,
    runs: ROUNDS,
  }
}
