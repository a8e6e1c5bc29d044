import { writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { percentile, round, startAgentProcess, type BenchContext } from '../lib.js'

const FLIPS = 200

function call(
  agent: Agent,
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** From a state change (admin API or a shell-style file write) to the first check that answers 404. */
export async function run(ctx: BenchContext): Promise<Record<string, unknown>> {
  const agent = await startAgentProcess(ctx, 'reaction')
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 2 })
  ctx.cleanups.push(() => keepAlive.destroy())
  const auth = { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' }
  const check = () => call(keepAlive, agent.healthPort, 'GET', '/health')
  const setViaApi = (state: string) => call(keepAlive, agent.adminPort, 'PUT', '/v1/state', auth, JSON.stringify({ state }))
  const stateFile = join(agent.dataDir, 'state')
  const setViaFile = async (state: string) => writeFileSync(stateFile, `${state}\n`)

  // concurrent: checks start with the change instead of after it returns, as a load balancer's
  // would; the admin API answers only once the new state is durable (file and folder fsync).
  const measure = async (set: (state: string) => Promise<unknown>, concurrent = false) => {
    const samples: number[] = []
    for (let i = 0; i < FLIPS; i++) {
      const deadline = Date.now() + 10_000
      const started = process.hrtime.bigint()
      const setting = set('drain')
      if (!concurrent) await setting
      while ((await check()) !== 404) {
        if (Date.now() > deadline) throw new Error(`flip ${i}: no 404 within 10 s`)
      }
      samples.push(Number(process.hrtime.bigint() - started) / 1e6)
      await setting
      await set('ready')
      while ((await check()) !== 200) {
        if (Date.now() > deadline + 10_000) throw new Error(`flip ${i}: no 200 after ready`)
      }
      // chokidar passes on one change per path per 50 ms; flips closer together than that are not
      // what an operator does, and would measure the throttle, not the agent.
      await new Promise((resolve) => setTimeout(resolve, 60))
    }
    return { p50: round(percentile(samples, 50), 3), p99: round(percentile(samples, 99), 3), max: round(Math.max(...samples), 3) }
  }
  ctx.log(`reaction: ${FLIPS} flips through the admin API`)
  const api = await measure(setViaApi)
  ctx.log(`reaction: ${FLIPS} flips through the admin API, checking while the call is in flight`)
  const apiConcurrent = await measure(setViaApi, true)
  ctx.log(`reaction: ${FLIPS} flips through state-file writes`)
  const file = await measure(setViaFile)
  return {
    api_to_404_p50_ms: api.p50,
    api_to_404_p99_ms: api.p99,
    api_to_404_max_ms: api.max,
    api_concurrent_to_404_p50_ms: apiConcurrent.p50,
    api_concurrent_to_404_p99_ms: apiConcurrent.p99,
    file_to_404_p50_ms: file.p50,
    file_to_404_p99_ms: file.p99,
    file_to_404_max_ms: file.max,
    flips: FLIPS,
  }
}
