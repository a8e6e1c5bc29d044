import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Agent as HttpAgent } from 'node:http'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { MAX_LABELLED_LB_VIEWS } from '../../src/lb/metrics.js'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'
import { requireBinary, type Teardowns } from '../helpers/system.js'
import { waitFor } from '../helpers/wait.js'
import { checkLatency, figures, startPackedAgent, timedRequest, type PackedAgent } from './harness.js'

/** Opens `count` TCP connections to the agent and keeps them; all are destroyed at teardown. */
async function holdConnections(t: Teardowns, port: number, count: number): Promise<Socket[]> {
  const sockets: Socket[] = []
  t.teardown(() => sockets.forEach((s) => s.destroy()))
  for (let i = 0; i < count; i++) {
    const socket = connect({ host: '127.0.0.1', port })
    socket.on('error', () => undefined)
    sockets.push(socket)
    await new Promise<void>((resolve) => {
      socket.once('connect', () => resolve())
      socket.once('error', () => resolve())
      socket.once('close', () => resolve())
    })
  }
  return sockets
}

/** Twice --max-lb-views' default: enough to fill the views, and to leave the flood bounded in time. */
const FLOOD = 20_000

async function metricsSeries(agent: PackedAgent): Promise<{ series: number; lbSeries: number; bytes: number }> {
  const text = (await timedRequest(`${agent.healthUrl}/metrics`, { timeoutMs: 30_000 })).body
  const lines = text.split('\n').filter((l) => l && !l.startsWith('#'))
  return {
    series: lines.length,
    lbSeries: lines.filter((l) => /^health_agent_lb_(last_check_age_seconds|status|scur)\{/.test(l)).length,
    bytes: text.length,
  }
}

t.test(
  'a send-state flood of 20,000 invented load balancers (twice the views kept): checks keep their pace, the metric series stay bounded',
  async (t) => {
    const agent = await startPackedAgent(t, tempDir(t, 'hardening-'))
    const before = await metricsSeries(agent)
    const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 32 })
    t.teardown(() => keepAlive.destroy())
    let sent = 0
    let failed = 0
    const started = Date.now()
    const flood = async () => {
      while (sent < FLOOD) {
        const n = sent++
        const header = `UP; address=127.0.0.1; port=8080; name=be/s${n % 7}; node=bomb-${n}; weight=1/1; scur=0/0; qcur=0`
        const answer = await timedRequest(`${agent.healthUrl}/health`, {
          agent: keepAlive,
          headers: { 'x-haproxy-server-state': header },
          timeoutMs: 10_000,
        })
        if (answer.status !== 200) failed++
      }
    }
    const flooding = Promise.all(Array.from({ length: 32 }, flood))
    const during = await checkLatency(`${agent.healthUrl}/health`, 3000)
    await flooding
    const after = await metricsSeries(agent)
    figures(t, 'send-state flood', {
      checks: sent,
      failed,
      seconds: (Date.now() - started) / 1000,
      checkDuringFlood: during,
      metricsBefore: before,
      metricsAfter: after,
      rssMiB: agent.rssMiB(),
    })

    t.equal(failed, 0, 'every flood check was answered')
    t.equal(during.timeouts, 0, 'no check of the real load balancer went past 2 s')
    t.ok(after.lbSeries <= (MAX_LABELLED_LB_VIEWS + 1) * 6, `${after.lbSeries} per-LB series`)
    t.ok(after.series < 400, `${after.series} series in all (${after.bytes} bytes)`)
  },
)

t.test('listener abuse: 1,000 idle connections, 200 slowloris, 64 KB headers; the check keeps its pace', async (t) => {
  const agent = await startPackedAgent(t, tempDir(t, 'hardening-'))
  const port = Number(new URL(agent.healthUrl).port)
  await holdConnections(t, port, 1000)
  const slow = await holdConnections(t, port, 200)
  slow.forEach((s) => s.write('GET /health HTTP/1.1\r\nHost: x\r\n'))
  const drip = setInterval(() => slow.forEach((s) => s.write('X-Slow: 1\r\n')), 500)
  t.teardown(() => clearInterval(drip))
  const big = Array.from({ length: 20 }, () =>
    timedRequest(`${agent.healthUrl}/health`, { headers: { 'x-big': 'b'.repeat(64 * 1024) }, timeoutMs: 10_000 }),
  )
  const during = await checkLatency(`${agent.healthUrl}/health`, 3000)
  const bigAnswers = await Promise.all(big)
  clearInterval(drip)
  figures(t, 'listener abuse', { during, bigHeaderAnswers: [...new Set(bigAnswers.map((a) => a.status))], rssMiB: agent.rssMiB() })
  t.equal(during.timeouts, 0)
  t.same(Object.keys(during.statuses), ['200'])
  t.ok(during.p99 < 1000, `p99 ${during.p99} ms`)
  t.ok(
    bigAnswers.every((a) => a.status === 431 || a.status === 0 || a.status === 400),
    'oversized headers are refused, not processed',
  )
})

t.test('at the open-file limit: the agent lives, the state is kept, and checks come back when connections close', async (t) => {
  const unit = readFileSync(join(PACKAGE_ROOT, 'scripts/systemd/tomcat-health-agent.service'), 'utf8')
  const limit = Number(/^LimitNOFILE=(\d+)$/m.exec(unit)?.[1] ?? 0)
  t.ok(limit >= 16384, `the systemd unit sets LimitNOFILE (${limit}): an idle connection costs a file descriptor`)

  const agent = await startPackedAgent(t, tempDir(t, 'hardening-'))
  t.equal((await agent.admin('PUT', '/v1/state', { state: 'drain', reason: 'at the limit' })).status, 200)
  // A low limit on the running agent stands in for a unit without LimitNOFILE (systemd's soft default is 1024).
  execFileSync(requireBinary('prlimit'), ['--pid', String(agent.process.pid), '--nofile=256:256'])
  const port = Number(new URL(agent.healthUrl).port)
  const held = await holdConnections(t, port, 400)
  const atLimit = await checkLatency(`${agent.healthUrl}/health`, 2000)
  const alive = agent.process.child.exitCode === null
  held.forEach((s) => s.destroy())
  let backAfterMs = -1
  const released = Date.now()
  try {
    await waitFor('a check answered again', async () => (await agent.check()).status === 404, { timeoutMs: 15_000, intervalMs: 50 })
    backAfterMs = Date.now() - released
  } catch {
    // reported below
  }
  const status = await agent.status()
  figures(t, 'open-file limit 256', { held: held.length, atLimit, alive, backAfterMs, admin: status.admin?.state })
  t.ok(alive, 'the agent did not crash at the limit')
  t.ok(backAfterMs >= 0, `checks answered ${backAfterMs} ms after the connections closed`)
  t.equal(status.admin?.state, 'drain', 'the state was kept')
})
