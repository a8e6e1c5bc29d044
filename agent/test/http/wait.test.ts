import t from 'tap'
import type { WaitEvent } from '../../src/lb/tracker.js'
import { startAgent, type RunningAgent } from '../helpers/agent.js'
import { httpRequest, streamJsonLines } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

/** A check as HAProxy with `http-check send-state` would send it. */
function check(running: RunningAgent, node: string, status: string, scur = 0) {
  const header = `${status}; address=127.0.0.1; port=8080; name=be/s1; node=${node}; weight=1/1; scur=${scur}/${scur}; qcur=0`
  return httpRequest(`${running.healthUrl}/health`, { headers: { 'x-haproxy-server-state': header } })
}

function openWait(running: RunningAgent, query: string) {
  return streamJsonLines(`${running.adminUrl}/v1/wait?${query}`, { authorization: `Bearer ${running.token}` })
}

const last = (lines: unknown[]) => lines[lines.length - 1] as WaitEvent

t.test('the wait API refuses what it cannot wait for, before streaming', async (t) => {
  const running = await startAgent(t)
  const cases: Array<[string, number, string]> = [
    ['', 400, '"for" is missing: expected one of drained, down, ready'],
    ['for=idle', 400, 'got "idle"'],
    ['for=ready&timeout=soon', 400, '"timeout": expected a number of seconds'],
    ['for=ready&timeout=-1', 400, '"timeout"'],
    ['for=ready&progress=0', 400, '"progress": expected a number of seconds from 0.1'],
    ['for=ready&sleep=1', 400, 'unknown parameter "sleep"'],
    ['for=drained', 409, 'cannot wait for drained: the admin state is ready, expected drain or down'],
  ]
  for (const [query, status, message] of cases) {
    const res = await running.admin('GET', `/v1/wait?${query}`)
    t.equal(res.status, status, `?${query} -> ${status}`)
    t.match(JSON.parse(res.body), { message }, `?${query}: says why`)
  }
  const anonymous = await httpRequest(`${running.adminUrl}/v1/wait?for=ready`)
  t.equal(anonymous.status, 401, 'a token is required')
})

t.test('a drain wait streams progress and ends on the check that confirms it', async (t) => {
  const running = await startAgent(t, { expectLb: 'lb1,lb2', lbStaleMs: '5000' })
  await check(running, 'lb1', 'UP')
  await check(running, 'lb2', 'UP')
  t.equal((await running.admin('PUT', '/v1/state', { state: 'drain' })).status, 200)

  const stream = await openWait(running, 'for=drained&timeout=20&progress=0.2')
  t.equal(stream.status, 200)
  t.match(stream.headers['content-type'], /^application\/x-ndjson/)
  await waitFor('a first progress line', () => stream.lines.length > 0)
  t.match(stream.lines[0], { event: 'progress', goal: 'drained', state: 'drain', confirmation: { confirmed: false } })

  await check(running, 'lb1', 'NOLB', 1)
  await check(running, 'lb2', 'NOLB', 0)
  await waitFor('progress showing lb1 with a session in flight', () =>
    stream.lines.some((l) => (l as WaitEvent).confirmation?.loadBalancers.some((lb) => lb.lb === 'lb1' && lb.scur === 1)),
  )
  t.equal(last(stream.lines).event, 'progress', 'not done while lb1 has a session in flight')

  const sent = Date.now()
  await check(running, 'lb1', 'NOLB', 0)
  const lines = await stream.ended
  const done = last(lines)
  t.match(done, { event: 'done', goal: 'drained', outcome: 'confirmed', confirmation: { confirmed: true, why: null } })
  t.ok(Date.now() - sent < 1000, `done ${Date.now() - sent} ms after the confirming check`)
  t.match(done.confirmation?.loadBalancers, [
    { lb: 'lb1', server: 'be/s1', status: 'NOLB', scur: 0, confirmed: true },
    { lb: 'lb2', status: 'NOLB', scur: 0, confirmed: true },
  ])

  const status = JSON.parse((await running.admin('GET', '/v1/status')).body)
  t.match(status.loadBalancers, {
    staleAfterMs: 5000,
    expected: ['lb1', 'lb2'],
    views: 2,
    confirmation: { goal: 'drained', confirmed: true },
  })

  const metrics = (await httpRequest(`${running.healthUrl}/metrics`)).body
  t.match(metrics, /health_agent_drain_duration_seconds_count 1/)
  t.match(metrics, /health_agent_waits_total\{goal="drained",outcome="confirmed"\} 1/)
  t.match(metrics, /health_agent_lb_scur\{lb="lb1",server="be\/s1"\} 0/)
  t.match(metrics, /health_agent_lb_status\{lb="lb1",server="be\/s1",status="NOLB"\} 1/)
  t.match(metrics, /health_agent_lb_last_check_age_seconds\{lb="lb2",server="be\/s1"\} \d/)
})

t.test('timeout, force-after, a state change and closing end a wait with that outcome', async (t) => {
  const running = await startAgent(t, { expectLb: 'lb1', lbStaleMs: '5000' })
  await running.admin('PUT', '/v1/state', { state: 'drain' })
  await check(running, 'lb1', 'NOLB', 3)

  const timedOut = last(await (await openWait(running, 'for=drained&timeout=0.3')).ended)
  t.match(timedOut, {
    event: 'done',
    outcome: 'timeout',
    confirmation: { confirmed: false, why: /lb1 be\/s1: NOLB with 3 sessions in flight/ },
  })
  t.ok(timedOut.elapsedMs >= 300 && timedOut.elapsedMs < 2000, `timed out after ${timedOut.elapsedMs} ms`)

  const forced = last(await (await openWait(running, 'for=drained&timeout=10&force-after=0.2')).ended)
  t.match(forced, { outcome: 'forced', confirmation: { confirmed: false } })

  const changing = await openWait(running, 'for=drained&timeout=10')
  await waitFor('the wait has started', () => changing.lines.length > 0)
  await running.admin('PUT', '/v1/state', { state: 'ready' })
  t.match(last(await changing.ended), { outcome: 'state-changed', state: 'ready' })

  const closing = await openWait(running, 'for=ready&timeout=0')
  await waitFor('the wait has started', () => closing.lines.length > 0)
  const closed = Date.now()
  await running.agent.close()
  t.match(last(await closing.ended), { outcome: 'closing' })
  t.ok(Date.now() - closed < 2000, 'an open wait does not hold the agent up when it closes')

  const metrics = await running.agent.core.metrics.registry.getSingleMetricAsString('health_agent_waits_total')
  for (const outcome of ['timeout', 'forced', 'state-changed']) t.match(metrics, `outcome="${outcome}"} 1`)
  t.match(metrics, 'goal="ready",outcome="closing"} 1')
})

t.test('a client that goes away ends its wait', async (t) => {
  const running = await startAgent(t, { expectLb: 'lb1' })
  await running.admin('PUT', '/v1/state', { state: 'down' })
  const stream = await openWait(running, 'for=down&timeout=0')
  await waitFor('the wait has started', () => stream.lines.length > 0)
  stream.close()
  await waitFor('the wait is cancelled', async () =>
    (await running.agent.core.metrics.registry.getSingleMetricAsString('health_agent_waits_total')).includes('outcome="cancelled"} 1'),
  )
  t.pass('cancelled')
})

t.test('a checker without send-state confirms by the answer it got', async (t) => {
  const running = await startAgent(t, { expectLb: '127.0.0.1' })
  await running.admin('PUT', '/v1/state', { state: 'drain' })
  const stream = await openWait(running, 'for=drained&timeout=10')
  await running.check()
  t.match(last(await stream.ended), {
    outcome: 'confirmed',
    confirmation: { loadBalancers: [{ lb: '127.0.0.1', kind: 'plain', status: 'answered 404', confirmed: true }] },
  })
})
