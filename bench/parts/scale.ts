import { connect } from 'node:net'
import { cpuSeconds, round, rssMb, startAgentProcess, type BenchContext } from '../lib.js'

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

/** The agent's CPU and memory with N simulated load balancers each checking every 2 s. */
export async function run(ctx: BenchContext): Promise<Record<string, unknown>> {
  const rows: Array<Record<string, number>> = []
  for (const lbs of [1, 10, 100, 1000]) {
    const agent = await startAgentProcess(ctx, `scale-${lbs}`)
    ctx.log(`scale: ${lbs} load balancers`)
    const timers: NodeJS.Timeout[] = []
    let sent = 0
    // Spread the LBs' phases over the interval, as independent HAProxies would be.
    for (let lb = 0; lb < lbs; lb++) {
      const start = setTimeout(() => {
        const tick = () => {
          sent++
          void check(agent.healthPort, lb)
        }
        tick()
        timers.push(setInterval(tick, INTERVAL_MS))
      }, (lb * INTERVAL_MS) / lbs)
      timers.push(start)
    }
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS + 500))
    const cpuBefore = cpuSeconds(agent.pid)
    const sentBefore = sent
    const started = performance.now()
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS))
    const elapsed = (performance.now() - started) / 1000
    const cpu = cpuSeconds(agent.pid) - cpuBefore
    for (const timer of timers) clearTimeout(timer)
    rows.push({
      lbs,
      checks_per_s: round((sent - sentBefore) / elapsed, 1),
      cpu_pct: round((cpu / elapsed) * 100, 2),
      rss_mb: round(rssMb(agent.pid), 1),
    })
  }
  return { lbs: rows, interval_ms: INTERVAL_MS, window_ms: WINDOW_MS }
}
