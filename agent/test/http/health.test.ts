import { connect } from 'node:net'
import t from 'tap'
import { startAgent } from '../helpers/agent.js'
import { httpRequest, rawExchange, statusLine } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

t.test('the check path answers 200, 404, 500 for ready, drain, down on GET, HEAD and OPTIONS', async (t) => {
  const running = await startAgent(t)
  for (const [state, code] of [
    ['ready', 200],
    ['drain', 404],
    ['down', 500],
  ] as const) {
    await running.agent.core.store.set({ state })
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      const res = await running.check(method)
      t.equal(res.status, code, `${state} ${method}`)
      t.equal(res.headers['x-health-state'], state)
      t.equal(res.body, method === 'HEAD' ? '' : `${state}\n`, `${state} ${method} body`)
    }
  }
})

t.test('HTTP/1.0 without a Host header, exactly as HAProxy 2.6 sends its check', async (t) => {
  const running = await startAgent(t)
  const raw = await rawExchange(running.healthPort, 'GET /health HTTP/1.0\r\n\r\n')
  t.match(statusLine(raw), /^HTTP\/1\.[01] 200 OK$/)
  t.match(raw, /\r\n\r\nready\n$/)
  await running.agent.core.store.set({ state: 'drain' })
  t.match(statusLine(await rawExchange(running.healthPort, 'GET /health HTTP/1.0\r\n\r\n')), / 404 /)
  t.match(statusLine(await rawExchange(running.healthPort, 'OPTIONS / HTTP/1.0\r\n\r\n')), / 404 /, 'OPTIONS / is not the check path')
  t.match(statusLine(await rawExchange(running.healthPort, 'HEAD /health HTTP/1.0\r\n\r\n')), / 404 /)
})

t.test('HTTP/1.1 keep-alive: several checks on one connection follow the state', async (t) => {
  const running = await startAgent(t)
  const socket = connect({ host: '127.0.0.1', port: running.healthPort })
  t.teardown(() => socket.destroy())
  let buffer = ''
  socket.on('data', (c: Buffer) => (buffer += c.toString()))
  await new Promise((resolve) => socket.once('connect', resolve))
  const ask = async (n: number) => {
    socket.write('GET /health HTTP/1.1\r\nHost: agent\r\n\r\n')
    return waitFor(`response ${n}`, () => {
      const responses = buffer.split('HTTP/1.1 ').slice(1)
      return responses.length >= n && /\r\n\r\n\w+\n$/.test(buffer) ? (responses[n - 1] as string).slice(0, 3) : false
    })
  }
  t.equal(await ask(1), '200')
  await running.agent.core.store.set({ state: 'drain' })
  t.equal(await ask(2), '404')
  await running.agent.core.store.set({ state: 'down' })
  t.equal(await ask(3), '500')
  t.equal(socket.destroyed, false, 'the connection stayed open')
})

t.test('nothing on the health listener changes state', async (t) => {
  const running = await startAgent(t)
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    for (const path of ['/health', '/v1/state', '/']) {
      const res = await httpRequest(`${running.healthUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${running.token}` },
        body: '{"state":"down"}',
      })
      t.ok(res.status >= 400 && res.status < 500, `${method} ${path} refused with ${res.status}`)
    }
  }
  t.equal(running.agent.core.store.current?.state, 'ready')
  t.equal((await running.check()).status, 200)
})

t.test('metrics in Prometheus text format and a status page', async (t) => {
  const running = await startAgent(t)
  await running.check()
  await running.agent.core.store.set({ state: 'drain', reason: 'metrics test' })
  await running.check()
  await running.check()
  const metrics = await httpRequest(`${running.healthUrl}/metrics`)
  t.equal(metrics.status, 200)
  t.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.match(metrics.body, /^health_agent_admin_state\{state="drain"\} 1$/m)
  t.match(metrics.body, /^health_agent_admin_state\{state="ready"\} 0$/m)
  t.match(metrics.body, /^health_agent_effective_state\{state="drain"\} 1$/m)
  t.match(metrics.body, /^health_agent_checks_total\{code="200"\} 1$/m)
  t.match(metrics.body, /^health_agent_checks_total\{code="404"\} 2$/m)
  t.match(metrics.body, /^health_agent_state_transitions_total\{kind="admin",source="api",to="drain"\} 1$/m)
  t.match(metrics.body, /^health_agent_state_file_ok 1$/m)
  t.match(metrics.body, /^health_agent_process_resident_memory_bytes \d+/m)

  const page = await httpRequest(`${running.healthUrl}/`)
  t.equal(page.status, 200)
  t.match(page.body, /^effective {3}drain \(HTTP 404\)$/m)
  t.match(page.body, /^admin {7}drain since \S+$/m, 'who and why are not shown to anyone who can reach the health listener')
  t.notMatch(page.body, /metrics test|state file {2}\//, 'no reason, no file path')

  const full = await startAgent(t, { pageDetail: 'full' })
  await full.admin('PUT', '/v1/state', { state: 'drain', reason: 'metrics test', by: 'alice' })
  t.match(
    (await httpRequest(`${full.healthUrl}/`)).body,
    /^admin {7}drain since \S+ by alice: metrics test$/m,
    'with --page-detail full they are',
  )
})

t.test('a state-file problem shows in metrics and on the status page', async (t) => {
  const running = await startAgent(t)
  const { writeFileSync } = await import('node:fs')
  writeFileSync(running.agent.core.config.stateFile, 'garbage\n')
  await waitFor('problem reported', () => running.agent.core.store.problem !== null)
  const metrics = (await httpRequest(`${running.healthUrl}/metrics`)).body
  t.match(metrics, /^health_agent_state_file_ok 0$/m)
  t.match(metrics, /^health_agent_state_file_errors_total\{kind="invalid"\} 1$/m)
  t.match(
    (await httpRequest(`${running.healthUrl}/`)).body,
    /^state file {2}the state file: invalid since \S+: invalid \(details on the admin API\) \(last good state kept\)$/m,
  )
  t.equal((await running.check()).status, 200, 'the last good state is kept')
})
