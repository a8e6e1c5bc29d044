import { request } from 'node:http'
import { connect } from 'node:net'
import { percentile, round, startAgentProcess, type AgentChild, type BenchContext } from '../lib.js'

/**
 * What an outsider on the health port can make the agent spend: 10,000 forged load-balancer views
 * and a pending `drain --wait`, then the check's latency (a new HTTP/1.0 connection per check, as
 * HAProxy) alone and while 50 status pages load at once (every second), in the same run.
 */

const FORGED = 10_000
const PAGES = 50
const CHECKS = 1500

const header = (node: string, status: string, scur: number) =>
  `${status}; address=127.0.0.1; port=8080; name=be/t1; node=${node}; weight=1/1; scur=${scur}/${scur}; qcur=0`

/** One check on a new connection; resolves with its latency in ms. */
function check(port: number, localAddress: string, stateHeader: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const socket = connect({ host: '127.0.0.1', port, localAddress })
    socket.on('connect', () => socket.write(`GET /health HTTP/1.0\r\nX-Haproxy-Server-State: ${stateHeader}\r\n\r\n`))
    socket.on('data', () => undefined)
    socket.on('end', () => resolve(performance.now() - started))
    socket.on('error', reject)
  })
}

function get(port: number, path: string, headers: Record<string, string> = {}, firstChunkOnly = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.on('data', () => {
        if (firstChunkOnly) {
          req.destroy()
          resolve()
        }
      })
      res.on('end', () => resolve())
      res.on('error', () => resolve())
    })
    req.on('error', (err) => (firstChunkOnly ? resolve() : reject(err)))
    req.end()
  })
}

async function forge(agent: AgentChild): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < FORGED) await check(agent.healthPort, '127.0.0.2', header(`forged${next++}`, 'UP', 3))
  }
  await Promise.all(Array.from({ length: 32 }, worker))
}

/** lb1's checks, back to back, as the measured checker: their latencies. */
async function measureChecks(agent: AgentChild): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < CHECKS; i++) out.push(await check(agent.healthPort, '127.0.0.1', header('lb1', 'NOLB', 2)))
  return out
}

/** A page load: the page, its style and script, its first event, the page data and the text status. */
async function pageLoad(agent: AgentChild): Promise<void> {
  await Promise.all([get(agent.healthPort, '/status'), get(agent.healthPort, '/status/page.css'), get(agent.healthPort, '/status/page.js')])
  await Promise.all([
    get(agent.healthPort, '/status/events', { accept: 'text/event-stream' }, true),
    get(agent.healthPort, '/status/view'),
    get(agent.healthPort, '/'),
  ])
}

/** PAGES pages loading at once, again every second, until stopped: how many loads were made. */
async function pageBursts(agent: AgentChild, stop: { done: boolean }): Promise<number> {
  let loads = 0
  while (!stop.done) {
    const next = performance.now() + 1000
    await Promise.all(Array.from({ length: PAGES }, () => pageLoad(agent)))
    loads += PAGES
    const rest = next - performance.now()
    if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest))
  }
  return loads
}

function summary(latencies: number[]) {
  return {
    p50_ms: round(percentile(latencies, 50), 3),
    p99_ms: round(percentile(latencies, 99), 3),
    max_ms: round(Math.max(...latencies), 1),
  }
}

export async function run(ctx: BenchContext): Promise<Record<string, unknown>> {
  const agent = await startAgentProcess(ctx, 'flood', ['--expect-lb', 'lb1'])
  await check(agent.healthPort, '127.0.0.1', header('lb1', 'UP', 2))
  ctx.log(`flood: forging ${FORGED} views`)
  const forgeStarted = performance.now()
  await forge(agent)
  const forgeSeconds = (performance.now() - forgeStarted) / 1000
  const admin = { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' }
  await fetch(`http://127.0.0.1:${agent.adminPort}/v1/state`, { method: 'PUT', headers: admin, body: '{"state":"drain"}' })
  // A pending drain --wait: its progress events and evaluations run throughout.
  const wait = request({
    host: '127.0.0.1',
    port: agent.adminPort,
    path: '/v1/wait?for=drained&timeout=3600&progress=1',
    headers: { authorization: admin.authorization },
    agent: false,
  })
  let progressBytes = 0
  wait.on('response', (res) => res.on('data', (chunk: Buffer) => (progressBytes = Math.max(progressBytes, chunk.length))))
  wait.on('error', () => undefined)
  wait.end()
  ctx.cleanups.push(async () => {
    wait.destroy()
  })

  ctx.log('flood: checks alone')
  const alone = await measureChecks(agent)
  ctx.log(`flood: checks while ${PAGES} pages load at once`)
  const stop = { done: false }
  const bursts = pageBursts(agent, stop)
  const flooded = await measureChecks(agent)
  stop.done = true
  const loads = await bursts
  const a = summary(alone)
  const f = summary(flooded)
  return {
    forged_views: FORGED,
    forge_seconds: round(forgeSeconds, 1),
    checks_per_phase: CHECKS,
    alone: a,
    pages_loading: { ...f, pages: PAGES, page_loads: loads },
    p99_ratio: round(f.p99_ms / a.p99_ms, 2),
    largest_progress_chunk_bytes: progressBytes,
  }
}
