import { connect } from 'node:net'
import t from 'tap'
import { startAgent, type RunningAgent } from '../helpers/agent.js'
import { httpRequest, streamJsonLines } from '../helpers/http.js'
import type { AgentStatus, WaitEvent } from '../../src/protocol/status.js'

const FORGED = 10_000
// lb/confirm.ts MAX_LB_ROWS (a literal here, so that this test runs against the code before it too)
const MAX_ROWS = 32
const header = (node: string, status: string, scur: number) =>
  `${status}; address=127.0.0.1; port=8080; name=be/t1; node=${node}; weight=1/1; scur=${scur}/${scur}; qcur=0`

/** One plain check from 127.0.0.2, as a forger would send it; resolves when the agent has answered and closed. */
function forgedCheck(port: number, node: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' })
    socket.on('connect', () => socket.write(`GET /health HTTP/1.0\r\nX-Haproxy-Server-State: ${header(node, 'UP', 3)}\r\n\r\n`))
    socket.on('data', () => undefined)
    socket.on('end', () => resolve())
    socket.on('error', reject)
  })
}

async function forge(running: RunningAgent, count: number): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) await forgedCheck(running.healthPort, `forged${next++}`)
  }
  await Promise.all(Array.from({ length: 32 }, worker))
}

t.test('with 10,000 forged views, what one request computes and sends is bounded', async (t) => {
  const running = await startAgent(t, { expectLb: 'lb1' })
  const lb1 = await httpRequest(`${running.healthUrl}/health`, { headers: { 'x-haproxy-server-state': header('lb1', 'UP', 2) } })
  t.equal(lb1.status, 200)
  await running.admin('PUT', '/v1/state', { state: 'drain' })
  const wait = await streamJsonLines(`${running.adminUrl}/v1/wait?for=drained&timeout=600&progress=0.1`, {
    authorization: `Bearer ${running.token}`,
  })
  t.teardown(() => wait.close())
  // lb1 keeps checking meanwhile, as a real load balancer does (every 2 s by default).
  const lb1Checks = setInterval(() => {
    httpRequest(`${running.healthUrl}/health`, { headers: { 'x-haproxy-server-state': header('lb1', 'NOLB', 2) } }).catch(() => undefined)
  }, 500)
  try {
    await forge(running, FORGED)
  } finally {
    clearInterval(lb1Checks)
  }
  t.equal(running.agent.core.lb.views.size, FORGED, 'the views are full (the agent is on its defaults: --max-lb-views 10000)')
  t.equal(running.agent.core.lb.views.refused.full, 1, 'the last forged name is refused, lb1 stays')

  // The status: at most MAX_ROWS rows, the rest counted; `why` names a few and counts the rest.
  const status = JSON.parse((await running.admin('GET', '/v1/status')).body) as AgentStatus
  const c = status.loadBalancers.confirmation
  t.ok(c && c.loadBalancers.length <= MAX_ROWS, `${c?.loadBalancers.length} rows`)
  t.equal(c?.omitted, FORGED - (c?.loadBalancers.length ?? 0))
  t.ok(
    c?.loadBalancers.some((lb) => lb.lb === 'lb1'),
    'the expected load balancer is among the rows',
  )
  t.ok((c?.why?.length ?? 0) < 2000, `why is ${c?.why?.length} characters`)
  t.match(c?.why, /\d+ more load balancers not confirming/)

  // Every public route: small, whatever the number of views.
  const sizes: Record<string, number> = {}
  for (const route of ['/', '/status/view', '/metrics']) {
    const res = await httpRequest(`${running.healthUrl}${route}`)
    t.equal(res.status, 200, route)
    sizes[route] = res.body.length
  }
  t.comment(`sizes with ${FORGED} forged views: ${JSON.stringify(sizes)}`)
  t.ok((sizes['/'] ?? Infinity) < 16 * 1024, `/ is ${sizes['/']} bytes`)
  t.ok((sizes['/status/view'] ?? Infinity) < 32 * 1024, `/status/view is ${sizes['/status/view']} bytes`)
  t.ok((sizes['/metrics'] ?? Infinity) < 64 * 1024, `/metrics is ${sizes['/metrics']} bytes`)

  // The pending wait's progress events: bounded too.
  const events = wait.lines as WaitEvent[]
  t.ok(events.length > 0, 'progress events came')
  const largest = Math.max(...events.map((e) => JSON.stringify(e).length))
  t.ok(largest < 32 * 1024, `the largest progress event is ${largest} bytes`)

  // Fifty readers at once: the status is built once per STATUS_MEMO_MS for all of them, not once each.
  const core = running.agent.core
  const build = core.status.bind(core)
  let builds = 0
  core.status = () => {
    builds++
    return build()
  }
  t.teardown(() => {
    core.status = build
  })
  const started = performance.now()
  const answers = await Promise.all(
    Array.from({ length: 50 }, (_, i) => httpRequest(`${running.healthUrl}${i % 2 === 0 ? '/' : '/status/view'}`)),
  )
  const elapsedMs = performance.now() - started
  t.ok(
    answers.every((a) => a.status === 200),
    'every reader answered',
  )
  const bound = Math.ceil(elapsedMs / 200) + 1
  t.ok(builds <= bound, `${builds} status builds for 50 readers in ${elapsedMs.toFixed(0)} ms (at most ${bound})`)
})
