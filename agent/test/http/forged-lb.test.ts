import { request } from 'node:http'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { pino } from 'pino'
import t from 'tap'
import { buildAgent } from '../../src/app.js'
import { loadConfig } from '../../src/config/load.js'
import { startAgent, tempDir, type RunningAgent } from '../helpers/agent.js'
import { waitFor } from '../helpers/wait.js'
import type { AgentStatus } from '../../src/protocol/status.js'

// The agent listens on 127.0.0.1; a forger connects from 127.0.0.2 (another loopback address).
const LB1 = '127.0.0.1'
const FORGER = '127.0.0.2'
const HELD = 'health_agent_checks_held 1'

const header = (node: string, status: string, scur: number) =>
  `${status}; address=127.0.0.1; port=8080; name=be/t1; node=${node}; weight=1/1; scur=${scur}/${scur}; qcur=0`

/** One check from `localAddress`; resolves with the answer's status, or with 'cut' once `cut` is called. */
function checkFrom(
  running: RunningAgent,
  localAddress: string,
  headers: Record<string, string>,
): { answered: Promise<number>; cut: () => void } {
  let cut = () => {}
  const answered = new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: running.healthPort, path: '/health', localAddress, headers, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    cut = () => req.destroy()
    req.on('error', reject)
    req.end()
  })
  return { answered, cut }
}

async function status(running: RunningAgent): Promise<AgentStatus> {
  return JSON.parse((await running.admin('GET', '/v1/status')).body) as AgentStatus
}

async function metric(running: RunningAgent, line: string): Promise<string | undefined> {
  const body = (await fetch(`${running.healthUrl}/metrics`).then((r) => r.text())).split('\n')
  return body.find((l) => l.startsWith(line))
}

t.test('a forger on another address cannot confirm a drain for lb1 while lb1 reports sessions', async (t) => {
  const running = await startAgent(t, { expectLb: 'lb1' })
  t.equal(await checkFrom(running, LB1, { 'x-haproxy-server-state': header('lb1', 'UP', 5) }).answered, 200)
  t.equal((await running.admin('PUT', '/v1/state', { state: 'drain', reason: 'test' })).status, 200)
  t.equal(await checkFrom(running, LB1, { 'x-haproxy-server-state': header('lb1', 'NOLB', 5) }).answered, 404)
  const forged = await checkFrom(running, FORGER, { 'x-haproxy-server-state': header('lb1', 'NOLB', 0) }).answered
  t.equal(forged, 404, 'the forger still gets the ordinary answer')
  const c = (await status(running)).loadBalancers.confirmation
  t.equal(c?.confirmed, false, 'not confirmed')
  t.match(c?.loadBalancers, [{ lb: 'lb1', source: LB1, scur: 5 }], "lb1's own view stands")
  t.equal(c?.loadBalancers.length, 1)
  t.equal(
    await metric(running, 'health_agent_lb_refused_checks_total{reason="node-bound"}'),
    'health_agent_lb_refused_checks_total{reason="node-bound"} 1',
  )
  t.ok(
    running.logLines().some((l) => String(l.msg).includes(`a check from ${FORGER} claims node lb1, which checks from ${LB1}`)),
    'logged',
  )
  // While the forged claim is recent, lb1 itself does not confirm either (which of the two is lb1
  // cannot be told); once the claim is older than the stale window, lb1 confirms on its own word.
  await checkFrom(running, LB1, { 'x-haproxy-server-state': header('lb1', 'NOLB', 0) }).answered
  const disputed = (await status(running)).loadBalancers.confirmation
  t.equal(disputed?.confirmed, false, 'not confirmed while the forged claim is recent')
  t.match(disputed?.why, new RegExp(`lb1 be/t1: also claimed from ${FORGER.replace(/\./g, '\\.')} .* ago \\(refused\\)`))
  await waitFor(
    'lb1 to confirm once the forged claim is older than the stale window',
    async () => {
      await checkFrom(running, LB1, { 'x-haproxy-server-state': header('lb1', 'NOLB', 0) }).answered
      return (await status(running)).loadBalancers.confirmation?.confirmed === true
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  )
})

t.test('a forger who claims lb1 before lb1 does cannot confirm a drain for it', async (t) => {
  const running = await startAgent(t, { expectLb: 'lb1' })
  // The forger is first: lb1 is bound to the forger's address.
  await checkFrom(running, FORGER, { 'x-haproxy-server-state': header('lb1', 'UP', 0) }).answered
  t.equal((await running.admin('PUT', '/v1/state', { state: 'drain', reason: 'test' })).status, 200)
  t.equal(await checkFrom(running, LB1, { 'x-haproxy-server-state': header('lb1', 'NOLB', 5) }).answered, 404)
  t.equal(await checkFrom(running, FORGER, { 'x-haproxy-server-state': header('lb1', 'NOLB', 0) }).answered, 404)
  const c = (await status(running)).loadBalancers.confirmation
  t.equal(c?.confirmed, false, "the forger's NOLB scur=0 confirms nothing while the real lb1 is refused")
  t.match(c?.why, new RegExp(`lb1 be/t1: also claimed from ${LB1.replace(/\./g, '\\.')} `))
})

t.test("a forger that hangs up on a held check does not shorten lb1's holds", async (t) => {
  const running = await startAgent(t, { expectLb: 'lb1', checkHoldMaxMs: '60000' })
  await running.admin('PUT', '/v1/state', { state: 'drain' })
  // lb1 is settled on NOLB: a check that asks to be held is held.
  await checkFrom(running, LB1, { 'x-haproxy-server-state': header('lb1', 'NOLB', 0) }).answered
  const forged = checkFrom(running, FORGER, { 'x-haproxy-server-state': header('lb1', 'NOLB', 0), 'x-health-hold': '60s' })
  // Answered at once: a refused check holds nothing (before: held 60 s, and its hang-up capped lb1's holds).
  let settled = false
  const answer = await Promise.race([
    forged.answered.finally(() => (settled = true)),
    // Before the fix: it is held; then the forger hangs up.
    waitFor('the forged check held or answered', async () => (settled ? 'done' : (await metric(running, HELD)) ? 'held' : undefined), {
      timeoutMs: 10_000,
    }),
  ])
  if (answer === 'held') forged.cut()
  t.equal(answer, 404, 'the forged check is answered at once')
  const lb1 = running.agent.core.lb.views.list().find((v) => v.node === 'lb1')
  t.equal(lb1?.holdCapMs, null, "lb1's holds are untouched")
  t.notOk(
    running.logLines().some((l) => String(l.msg).includes('hung up on a check held')),
    'no hang-up is put on lb1',
  )
})

t.test('--lb-sources: a check from elsewhere is answered and not kept', async (t) => {
  const running = await startAgent(t, { lbSources: `${LB1}/32` })
  t.equal(await checkFrom(running, FORGER, { 'x-haproxy-server-state': header('lb9', 'UP', 3) }).answered, 200)
  t.equal(await checkFrom(running, FORGER, {}).answered, 200)
  t.equal(await checkFrom(running, LB1, { 'x-haproxy-server-state': header('lb1', 'UP', 0) }).answered, 200)
  const s = await status(running)
  t.equal(s.loadBalancers.views, 1)
  t.same(
    s.loadBalancers.confirmation?.loadBalancers.map((lb) => lb.lb),
    ['lb1'],
  )
  t.equal(
    await metric(running, 'health_agent_lb_refused_checks_total{reason="source"}'),
    'health_agent_lb_refused_checks_total{reason="source"} 2',
  )
  const bad = await import('../../src/config/load.js').then(({ loadConfig }) => {
    try {
      loadConfig({ env: {}, cwd: running.dir, flags: { dataDir: running.dir, lbSources: '10.0.0.0/33' } })
      return null
    } catch (err) {
      return (err as Error).message
    }
  })
  t.match(bad, /lb-sources/, 'a bad CIDR is refused at start, naming the setting')
  t.notOk(bad?.includes('\n'), 'in one line')
})

t.test('the start-up log warns when the health listener is on a wildcard address with no --lb-sources', async (t) => {
  const started = async (flags: Record<string, string>) => {
    const dir = tempDir(t)
    const config = loadConfig({ env: {}, cwd: dir, flags: { dataDir: dir, adminListen: '127.0.0.1:0', ...flags } })
    const logFile = join(dir, 'agent.log')
    const agent = buildAgent(config, pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true })))
    // Started, never listening: the warning is the core's, at start.
    await agent.start()
    await agent.close()
    return readFileSync(logFile, 'utf8')
  }
  t.match(await started({ listen: '0.0.0.0:0' }), /with no --lb-sources: any host that reaches it can report itself as a load balancer/)
  t.match(await started({ listen: '[::]:0' }), /with no --lb-sources/)
  t.notMatch(await started({ listen: '0.0.0.0:0', lbSources: '10.0.0.0/24' }), /--lb-sources/)
  t.notMatch(await started({ listen: '127.0.0.1:0' }), /--lb-sources/)
})

t.test('checks read by node:http (here: with a Content-Length) are bound the same way, by the same source address', async (t) => {
  const running = await startAgent(t)
  const viaNodeHttp = { 'content-length': '0' }
  t.equal(await checkFrom(running, LB1, { 'x-haproxy-server-state': header('lb1', 'UP', 1), ...viaNodeHttp }).answered, 200)
  t.equal(await checkFrom(running, LB1, { 'x-haproxy-server-state': header('lb1', 'UP', 2) }).answered, 200, 'then read directly')
  t.equal(await checkFrom(running, FORGER, { 'x-haproxy-server-state': header('lb1', 'NOLB', 0), ...viaNodeHttp }).answered, 200)
  const views = running.agent.core.lb.views.list()
  t.match(views, [{ node: 'lb1', source: LB1, checks: 2, state: { scur: { server: 2 } } }])
  t.equal(views.length, 1)
  t.equal(running.agent.core.lb.views.refused['node-bound'], 1)
  const readers = await metric(running, 'health_agent_health_connections_total{reader="node_http"}')
  t.match(readers, / [1-9]\d*$/, 'node:http did read some of them')
})
