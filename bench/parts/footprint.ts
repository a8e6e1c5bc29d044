import { spawn } from 'node:child_process'
import { join } from 'node:path'
import {
  AGENT_BIN,
  freePort,
  median,
  requireCommand,
  round,
  rssMb,
  startAgentProcess,
  stopChild,
  until,
  type BenchContext,
} from '../lib.js'
import { runWrk } from '../wrk.js'

const COLD_STARTS = 5

async function coldStartMs(ctx: BenchContext, i: number): Promise<number> {
  const port = await freePort()
  const admin = await freePort()
  const started = performance.now()
  const child = spawn(
    process.execPath,
    [
      AGENT_BIN,
      '--data-dir',
      join(ctx.tmp, `cold-${i}`),
      '--listen',
      `127.0.0.1:${port}`,
      '--admin-listen',
      `127.0.0.1:${admin}`,
      '--log-level',
      'warn',
    ],
    { stdio: 'ignore' },
  )
  try {
    await until('first 200', async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200, 10_000, 2)
    return performance.now() - started
  } finally {
    await stopChild(child)
  }
}

/** Resident memory idle and under check load, and the time from process start to the first 200. */
export async function run(ctx: BenchContext): Promise<Record<string, unknown>> {
  requireCommand('wrk', 'install it with: sudo scripts/install-system-deps.sh --bench')
  const colds: number[] = []
  for (let i = 0; i < COLD_STARTS; i++) colds.push(await coldStartMs(ctx, i))

  const agent = await startAgentProcess(ctx, 'footprint')
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const idle = rssMb(agent.pid)
  let peak = idle
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(agent.pid))), 100)
  await runWrk(ctx, `http://127.0.0.1:${agent.healthPort}/health`, { seconds: 5, connections: 32, http10: false })
  clearInterval(sampler)
  const afterLoad = rssMb(agent.pid)
  return {
    rss_idle_mb: round(idle, 1),
    rss_load_mb: round(Math.max(peak, afterLoad), 1),
    cold_start_ms: round(median(colds), 0),
    cold_start_runs_ms: colds.map((v) => round(v, 0)),
    node_bare_rss_mb: round(await bareNodeRss(), 1),
  }
}

/** The floor: a Node.js process that does nothing, for scale. */
async function bareNodeRss(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  await new Promise((resolve) => setTimeout(resolve, 500))
  const rss = rssMb(child.pid as number)
  await stopChild(child)
  return rss
}
